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


@pytest.mark.parametrize("path", [*EXAMPLES, demo_scenario()], ids=lambda p: p.stem)
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


@pytest.mark.slow
@pytest.mark.parametrize("path", [*EXAMPLES, demo_scenario()], ids=lambda p: p.stem)
def test_every_shipped_scenario_runs_to_its_end_with_exit_0(tmp_path, path):
    """Each scenario whole, as `fempde run` runs it (5-20 s each). The disk's free
    boundary used to end with min ρ = −4.09e-12 (exit 1) after 2068 steps and 24,324
    Newton iterations, up to 25 a step; now 594 steps, 1367 iterations, at most 4."""
    assert main(["run", str(path), "--out", str(tmp_path), "--quiet"]) == 0
    history = np.genfromtxt(tmp_path / "history.csv", delimiter=",", names=True)
    assert history["min_rho"].min() >= 0.0
    assert history["newton_iterations"].max() <= 6  # measured at most 4 (the disk)
    assert history["newton_iterations"][1:].mean() <= 3  # measured 1.2 (rectangle) to 2.3 (disk)
    assert history["cleared"].max() <= 1e-11 * 2  # within the Newton tolerance (max ρ < 2 in every scenario)


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


def _estimated(mesh_table, tmp_path, extra=""):
    path = tmp_path / "s.toml"
    path.write_text(f"[mesh]\n{mesh_table}\n[problem]\ntarget = \"1.2 * (1 - x**2 - y**2)\"\ntau = 0.05\n"
                    f"[run]\nt_end = 0.01\noutputs = 1\nestimate_space_error = true\n{extra}")
    return path


def test_the_spatial_estimate_runs_on_every_generated_mesh(tmp_path, capsys):
    """The rectangle (T = 0 diagonals) used to end in a RuntimeError, exit 1; an obtuse
    polygon in negative densities, exit 3."""
    for name, table in (("rectangle", 'domain = "rectangle"\nh = 0.2'),
                        ("polygon", 'domain = "polygon"\nvertices = [[0, 0], [1, 0], [1.2, 0.8], [0.2, 1]]\nh = 0.2')):
        out = tmp_path / name
        assert main(["run", str(_estimated(table, tmp_path)), "--out", str(out), "--quiet"]) == 0
        written = np.loadtxt(out / "history_space_error.csv", delimiter=",", skiprows=1, ndmin=2)
        assert written.shape == (1, 5) and written[0, 3] > 0
        assert ("refined-mesh estimate" if name == "rectangle" else "h/2-mesh estimate") in capsys.readouterr().out


def test_a_loaded_mesh_is_estimated_on_its_fine_file_and_refused_without(tmp_path, capsys):
    import meshes

    vertices = [[0, 0], [1, 0], [1.2, 0.8], [0.2, 1]]
    meshes.save(meshes.polygon(vertices, h=0.2), tmp_path / "coarse.msh")
    meshes.save(meshes.polygon(vertices, h=0.1), tmp_path / "fine.msh")
    loaded = 'domain = "file"\nfile = "coarse.msh"'
    assert main(["run", str(_estimated(loaded, tmp_path)), "--out", str(tmp_path / "a"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "estimate_space_error" in err and "fine_file" in err and "Traceback" not in err
    with_fine = _estimated(loaded + '\nfine_file = "fine.msh"', tmp_path)
    assert load_scenario(with_fine).fine_mesh.p.shape[1] == meshes.load(tmp_path / "fine.msh").p.shape[1]
    assert main(["run", str(with_fine), "--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert "second-mesh estimate" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("table", "key", "line"),
    [
        ('domain = "file"\nfile = "coarse.msh"\nfine_file = "none.msh"', "fine_file", 4),
        ('domain = "disk"\nh = 0.3\nfine_file = "fine.msh"', "fine_file", 4),  # a generated mesh makes its own
    ],
)
def test_fine_file_errors_point_at_its_line(tmp_path, table, key, line):
    import meshes

    meshes.save(meshes.disk(h=0.3), tmp_path / "coarse.msh")
    with pytest.raises(ScenarioError) as refused:
        load_scenario(_estimated(table, tmp_path))
    assert (refused.value.key, refused.value.line) == (key, line)


def test_a_formula_rho0_is_evaluated_on_the_second_mesh(tmp_path):
    """A scenario's ρ0 reaches the spatial estimate as its formula, not as this mesh's values."""
    import meshes

    data = _with("initial", "rho0", "exp(-10 * x**2)")
    data["initial"]["normalize"] = True
    data["mesh"] = {"domain": "interval", "a": -1.0, "b": 1.0, "h": 0.2}
    data["run"] = {"t_end": 0.01, "outputs": 1, "estimate_space_error": True}
    scenario = replace(parse_scenario(data), directory=tmp_path)
    result = run_scenario(scenario, progress=False)
    fine = fempde.Space(meshes.interval(-1.0, 1.0, h=0.1))  # the refined interval
    rho0 = np.exp(-10 * fine.x[0] ** 2)
    alone = fempde.solve(scenario.problem, fine, rho0 / fine.integrate(rho0), 0.01, times=(0.01,),
                         options=scenario.options)
    assert result.space_error.nodes_refined == fine.n
    assert result.space_error.risk_refined[0] == pytest.approx(alone.history["risk"][-1], rel=1e-9)
