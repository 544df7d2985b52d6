"""Scenario files and the command line, as a user runs them."""

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import fempde
from fempde.cli.commands import demo_scenario, main, run_scenario
from fempde.io.vtk import read_pvd
from fempde.scenario import ScenarioError, load_scenario, parse_scenario
from fempde.solvers.result import Certificates

EXAMPLES = sorted((Path(__file__).parents[3] / "examples" / "scenarios").glob("*.toml"))


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
    ("data", "section", "key", "value"),
    [
        (_with("problem", "viscosity", 0.1), "problem", "viscosity", None),
        (_with("mesh", "radius", 1.0), "mesh", "radius", None),
        (_with("mesh", "domain", "torus"), "mesh", "domain", "torus"),
        (_with("problem", "tau", -1.0), "problem", "tau", -1.0),
        (_with("problem", "target", "1 - q**2"), "problem", "target", "1 - q**2"),
        (_with("problem", "target", "__import__('os')"), "problem", "target", "__import__('os')"),
        (_with("problem", "target", "1 - x**"), "problem", "target", "1 - x**"),
        (_with("problem", "schedule", {"kind": "cosine"}), "problem.schedule", "kind", "cosine"),
        (_with("problem", "schedule", {"kind": "power", "alpha": 2.0}), "problem", "schedule",
         {"kind": "power", "alpha": 2.0}),
        (_with("run", "t_end", 0), "run", "t_end", 0),
        (_with("run", "outputs", 0), "run", "outputs", 0),
        (_with("run", "scheme", "rk4"), "run", "scheme", "rk4"),
        (_with("run", "flux", "upwind"), "run", "flux", "upwind"),  # with tau > 0 it would be ignored: refused
        (_with("stepping", "dt", 0.1), None, "stepping", None),
        ({"mesh": BASE["mesh"], "problem": BASE["problem"]}, None, "run", None),
    ],
)
def test_bad_scenarios(data, section, key, value):
    with pytest.raises(ScenarioError) as refused:
        parse_scenario(data)
    assert (refused.value.section, refused.value.key, refused.value.value) == (section, key, value)


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
    failing = Certificates(1e-3, 0.0, 0.0, True, ("mass",))
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
