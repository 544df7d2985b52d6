"""Scenario files and the command line, as a user runs them."""

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import fempde
from fempde.cli.commands import demo_scenario, main, run_scenario
from fempde.cli.scenario import ScenarioError, load_scenario, parse_scenario
from fempde.io.vtk import read_pvd

EXAMPLES = sorted((Path(__file__).parents[2] / "examples" / "scenarios").glob("*.toml"))


def test_every_domain_has_an_example():
    assert {p.stem for p in EXAMPLES} >= {"interval", "rectangle", "disk", "polygon", "ball"}


SLOW_EXAMPLES = {"disk"}  # 3.5e3 nodes, a free boundary: about a minute


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, marks=pytest.mark.slow) if p.stem in SLOW_EXAMPLES else p for p in EXAMPLES] + [demo_scenario()],
    ids=lambda p: p.stem,
)
def test_example_scenarios_run_with_valid_certificates(tmp_path, path):
    scenario = load_scenario(path)
    t_end = scenario.times[1]  # the first two output frames
    short = replace(scenario, t_end=t_end, times=scenario.times[:2], directory=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no scenario is forced (the ball takes the Voronoi dual)
        result = run_scenario(short, progress=False)
    assert result.ok and result.t == t_end
    assert [t for t, _ in read_pvd(tmp_path / "rho.pvd")] == [0.0, *scenario.times[:2]]
    assert (tmp_path / "history.csv").is_file() and (tmp_path / "rho.png").is_file()


def test_demo_command_writes_everything(tmp_path, capsys):
    code = main(["run", str(demo_scenario()), "--t-end", "0.4", "--out", str(tmp_path), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert "all certificates hold" in out
    for name in ("rho.pvd", "rho_00000.vtu", "history.csv", "history.png", "rho.png"):
        assert (tmp_path / name).is_file()
    assert read_pvd(tmp_path / "rho.pvd")[-1][0] == 0.4


BASE = {
    "mesh": {"domain": "interval", "h": 0.1},
    "problem": {"target": "1 - x**2", "tau": 0.01},
    "run": {"t_end": 1.0},
}


def _with(section, key, value):
    data = {k: dict(v) for k, v in BASE.items()}
    data.setdefault(section, {})[key] = value
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_with("problem", "viscosity", 0.1),
         "unknown key 'viscosity' in \\[problem\\]; valid keys: schedule, target, tau"),
        (_with("mesh", "radius", 1.0), "unknown key 'radius' in \\[mesh\\]; valid keys: a, allow_large, b, h"),
        (_with("mesh", "domain", "torus"), "domain must be one of 'interval', 'rectangle'"),
        (_with("problem", "tau", -1.0), "\\[problem\\] tau must be >= 0.0"),
        (_with("problem", "target", "1 - q**2"), "the unknown name 'q' at character 5"),
        (_with("problem", "target", "__import__('os')"), "a call of '__import__' \\(not a listed function\\)"),
        (_with("problem", "target", "1 - x**"), "is not a valid formula"),
        (_with("problem", "schedule", {"kind": "cosine"}), "schedule kind must be one of constant, power"),
        (_with("problem", "schedule", {"kind": "power", "alpha": 2.0}), "not integrable at t=0"),
        (_with("run", "t_end", 0), "\\[run\\] t_end must be > 0"),
        (_with("run", "outputs", 0), "outputs must be an integer >= 1"),
        (_with("run", "scheme", "rk4"), "\\[run\\] scheme must be one of 'bdf2', 'euler', got 'rk4'"),
        (_with("stepping", "dt", 0.1), "unknown key 'stepping' in \\[top level\\]"),
        ({"mesh": BASE["mesh"], "problem": BASE["problem"]}, "has no \\[run\\] section"),
    ],
)
def test_bad_scenarios(data, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(data)


def test_cli_reports_bad_input_with_exit_code_2(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('[mesh]\ndomain = "disk"\nh = 0.2\n[problem]\ntarget = "1"\ntau = 0.0\n'
                    '[run]\nt_end = 1.0\nsteps = 3\n')
    assert main(["run", str(path)]) == 2
    assert "unknown key 'steps' in [run]" in capsys.readouterr().err
    path.write_text("[mesh\n")
    assert main(["run", str(path)]) == 2
    assert "is not valid TOML" in capsys.readouterr().err


def test_cli_exit_code_1_when_a_certificate_fails(tmp_path, monkeypatch):
    failing = fempde.Certificates(1e-3, 0.0, 0.0, True, ("mass",))
    original = fempde.cli.commands.run_scenario

    def broken(*args, **kwargs):
        result = original(*args, **kwargs)
        return replace(result, certificates=failing)

    monkeypatch.setattr(fempde.cli.commands, "run_scenario", broken)
    assert main(["run", str(demo_scenario()), "--t-end", "0.1", "--out", str(tmp_path), "--quiet"]) == 1


def test_check_mesh_command(tmp_path, capsys):
    import meshes

    meshes.save(meshes.disk(h=0.3), tmp_path / "disk.msh")
    assert main(["check-mesh", str(tmp_path / "disk.msh")]) == 0
    assert "all transmissibilities >= 0" in capsys.readouterr().out


def test_normalize_rescales_rho0_to_mass_one(tmp_path):
    data = _with("initial", "rho0", "3 * (1 + x)")
    data["initial"]["normalize"] = True
    data["run"] = {"t_end": 0.1, "outputs": 1}
    scenario = replace(parse_scenario(data), directory=tmp_path)
    result = run_scenario(scenario, progress=False)
    assert result.history["mass"][0] == pytest.approx(1.0, abs=1e-15)
    assert np.all(result.history["mass"] == pytest.approx(1.0, abs=1e-14))
