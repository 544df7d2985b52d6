"""Bad input raises an error whose message names the problem."""

from pathlib import Path

import numpy as np
import pytest
from skfem import MeshTri1

import fempde
import meshes

PROBLEM = fempde.PorousMedium(target=lambda x: 1.0 - x[0] ** 2, tau=0.01)


@pytest.fixture(scope="module")
def space():
    return fempde.Space(meshes.interval(-1, 1, h=0.1))


@pytest.mark.parametrize(
    ("rho0", "message"),
    [
        (lambda x: x[0], r"rho0 is negative at 10 nodes \(min -1"),
        (lambda x: 2.0 + 0 * x[0], "rho0 has mass 4 but must be a probability density"),
        (lambda x: np.where(x[0] > 0.5, np.nan, 0.5), "rho0 is not finite at 5 of 21 nodes"),
        ("gaussian", "rho0 must be a callable, an array, a number or 'uniform'"),
    ],
)
def test_bad_initial_density(space, rho0, message):
    with pytest.raises(ValueError, match=message):
        fempde.solve(PROBLEM, space, rho0, 1.0)


def test_nearly_normalised_density_is_rescaled_exactly(space):
    values = fempde.initial_density(space, lambda x: 0.5 * (1 + 0.01 * x[0] ** 2))
    assert space.integrate(values) == pytest.approx(1.0, abs=1e-15)


def test_nan_in_target(space):
    problem = fempde.PorousMedium(target=lambda x: np.where(x[0] < 0, np.nan, 1.0))
    with pytest.raises(ValueError, match=r"target f is not finite at 10 of 21 nodes, first at x = \[-1.0\]"):
        fempde.solve(problem, space, "uniform", 1.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"tau": -0.1}, ValueError, r"tau must be a finite number >= 0 \(the viscosity\), got -0.1"),
        ({"tau": float("nan")}, ValueError, "tau must be a finite number"),
        ({"schedule": 1.0}, TypeError, "schedule must have xi"),
        ({"target": "x**2"}, TypeError, "target must be a callable"),
    ],
)
def test_bad_problem(kwargs, error, message):
    with pytest.raises(error, match=message):
        fempde.PorousMedium(**{"target": 1.0, **kwargs})


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: fempde.PowerLaw(1.0, 1.5), "not integrable at t=0"),
        (lambda: fempde.PowerLaw(-1.0, 0.5), r"schedule parameter xi0 must be > 0, got -1.0"),
        (lambda: fempde.Constant(0.0), r"schedule parameter xi0 must be > 0, got 0.0"),
        (lambda: fempde.PowerLaw("1"), r"schedule parameter xi0 must be a number, got '1'"),
        (lambda: fempde.PowerLaw(1.0, True), r"schedule parameter alpha must be a number, got True"),
        (lambda: fempde.PowerLaw(1.0, 0.5, -2.0), r"schedule parameter t0 must be >= 0.0, got -2.0"),
    ],
)
def test_bad_schedule(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"t_end": 0.0}, r"t_end must be > 0, got 0.0"),
        ({"t_end": -1.0}, r"t_end must be > 0, got -1.0"),
        ({"t_end": "0.1"}, r"t_end must be a number, got '0.1'"),
        ({"t_end": True}, r"t_end must be a number, got True"),
        ({"t_end": 1.0, "times": ["0.05"]}, r"times\[0\] must be a number, got '0.05'"),
        ({"t_end": 1.0, "times": [0.5, float("nan")]}, r"times\[1\] must be a finite number, got nan"),
        ({"t_end": 1.0, "times": [0.5, 2.0]}, r"output times must lie in \(0, t_end=1.0\]"),
        ({"t_end": 1.0, "dt0": 2.0}, "need dt_min <= dt0 <= dt_max"),
        ({"t_end": 1.0, "linear_solver": "cholesky"}, "linear_solver must be 'auto', 'direct' or 'amg'"),
    ],
)
def test_bad_run_settings(space, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fempde.solve(PROBLEM, space, "uniform", **kwargs)


def test_mesh_with_negative_transmissibilities_is_refused_unless_forced():
    p = np.array([[0.0, 1.0, 0.5, 0.5], [0.0, 0.0, 0.1, -0.1]])
    mesh = MeshTri1(p, np.array([[0, 1, 2], [1, 0, 3]]).T, sort_t=False)
    with pytest.raises(meshes.MeshError, match="1 of 5 mesh edges have a negative transmissibility.*force=True"):
        fempde.Space(mesh)
    with pytest.warns(UserWarning, match="solving anyway because force=True"):
        assert fempde.Space(mesh, force=True).n == 4


def test_newton_failure_raises_after_output_is_finished(tmp_path):
    class Hopeless(fempde.PorousMedium):
        def discretise(self, space, **options):
            system = super().discretise(space, **options)
            system.linearise = lambda rho, *args, **options: (np.full(space.n, np.nan), None)
            return system

    table = fempde.CSVWriter(tmp_path / "h.csv")
    with pytest.raises(fempde.ConvergenceError, match="time step fell below dt_min"):
        fempde.solve(Hopeless(target=1.0), meshes.interval(h=0.1), "uniform", 1.0, [table])
    assert (tmp_path / "h.csv").read_text().count("\n") == 2  # header and the initial state


def test_zero_mass_initial_density(space):
    with pytest.raises(ValueError, match="rho0 has zero mass"):
        fempde.solve(PROBLEM, space, 0.0, 1.0)


def test_unknown_mesh_format(tmp_path):
    path = tmp_path / "mesh.unknownformat"
    path.write_text("1 2 3\n")
    with pytest.raises(meshes.MeshError, match="could not read mesh file .*mesh.unknownformat"):
        meshes.load(path)


SCENARIO = '[mesh]\ndomain = "disk"\nh = 0.3\n[problem]\ntarget = "1"\ntau = 0.01\n[run]\nt_end = 0.1\n'


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("tau = 0.01", 'tau = "abc"'), r"\[problem\] tau must be a number, got 'abc' \(line 6 of"),
        (("h = 0.3", "h = 0.3\nradus = 2"), r"unknown key 'radus' in \[mesh\].*\(line 4 of"),
        (("t_end = 0.1", "outputs = 3"), r"\[run\] needs t_end, the final time \(line 7 of"),
        (("tau = 0.01", "tau = 0.01\nschedule = { kind = 'power', alpha = 1.5 }"),
         r"not integrable at t=0.*\(line 7 of"),
    ],
)
def test_scenario_errors_name_the_line(tmp_path, change, message):
    from fempde.cli.scenario import ScenarioError, load_scenario

    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.replace(*change))
    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)


def test_output_directory_not_writable(tmp_path, capsys):
    from fempde.cli.commands import main

    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the output directory should be")
    assert main(["run", str(path), "--out", str(blocker / "out"), "--quiet"]) == 2
    assert f"output directory {blocker / 'out'} is not writable" in capsys.readouterr().err


def test_disk_full_stops_the_run_and_keeps_complete_output(tmp_path, monkeypatch):
    import errno

    import meshio

    from fempde.io.vtk import read_pvd

    original, calls = meshio.write, [0]

    def full_disk(path, *args, **kwargs):
        calls[0] += 1
        if calls[0] == 3:
            path.write_bytes(b"<VTKFile")  # a partial file under its temporary name ...
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(path, *args, **kwargs)

    monkeypatch.setattr(meshio, "write", full_disk)
    with pytest.raises(fempde.OutputError, match="writing output failed at t = 0.2 .*No space left on device"):
        fempde.solve(PROBLEM, meshes.interval(h=0.1), "uniform", 0.5, [fempde.VTKWriter(tmp_path)],
                     times=[0.1, 0.2, 0.3])
    # ... never named by the .pvd; the writer's last attempt, at the end, got through
    frames = read_pvd(tmp_path / "rho.pvd")
    assert [t for t, _ in frames] == [0.0, 0.1, 0.2]
    assert all(meshio.read(path).point_data["rho"].size == 11 for _, path in frames)


def test_newton_failure_reports_time_step_and_updates():
    problem = fempde.PorousMedium(target=lambda x: 1.0 - x[0] ** 2, tau=0.01)
    with pytest.raises(fempde.ConvergenceError, match=r"at t=0 after \d+ rejected tries .*dt=.*no convergence in 1 "
                                                      r"Newton iterations \(last updates .*e"):
        fempde.solve(problem, meshes.interval(h=0.1), "uniform", 1.0, max_newton=1, dt_min=1e-4)


# -- scenario values: every type and range checked, reported with key, value and line --------------------------

INITIAL = "[initial]\nrho0 = 'uniform'\n"  # lines 9 and 10
OUTPUT = "[output]\nname = 'rho'\n"  # lines 9 and 10


def _name(value):
    return "t_end = 0.1\n", "t_end = 0.1\n" + OUTPUT.replace("'rho'", value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("h = 0.3", "h = true"), r"\[mesh\] h must be a number, got True \(line 3 of"),
        (("h = 0.3", 'h = "0.3"'), r"\[mesh\] h must be a number, got '0.3' \(line 3 of"),
        (("h = 0.3", "h = nan"), r"\[mesh\] h must be a finite number, got nan \(line 3 of"),
        (("h = 0.3", "h = -inf"), r"\[mesh\] h must be a finite number, got -inf \(line 3 of"),
        (("h = 0.3", "h = 0"), r"\[mesh\] h must be a positive number, got 0.0 \(line 3 of"),
        (("h = 0.3", "h = 1e-7"), r"\[mesh\] disk\(radius=1, h=1e-07\) would have about 3.14e\+14 nodes .*\(line 1 "),
        (("h = 0.3", "h = 0.3\nradius = true"), r"\[mesh\] radius must be a number, got True \(line 4 of"),
        (("h = 0.3", "h = 0.3\nradius = 1e300"), r"\[mesh\] disk\(radius=1e\+300, h=0.3\) would have more nodes"),
        (("h = 0.3", "h = 0.3\ncenter = [1.0]"), r"\[mesh\] center must be 2 numbers, got \[1.0\] \(line 4 of"),
        (("h = 0.3", 'h = 0.3\ncenter = ["0", "0"]'), r"\[mesh\] center must be a list of finite numbers .*got "
                                                    r"\['0', '0'\] \(line 4 of"),
        (("h = 0.3", "h = 0.3\ncenter = [0, true]"), r"\[mesh\] center must be a list of finite numbers"),
        (("h = 0.3", 'h = 0.3\nforce = "no"'), r"\[mesh\] force must be true or false, got 'no' \(line 4 of"),
        (("h = 0.3", "h = 0.3\nallow_large = 1"), r"\[mesh\] allow_large must be true or false, got 1 \(line 4 of"),
        (('domain = "disk"', "domain = 3"), r"\[mesh\] domain must be one of 'interval', .* got 3 \(line 2 of"),
        (('domain = "disk"', 'domain = ["disk"]'), r"\[mesh\] domain must be one of .* got \['disk'\] \(line 2 of"),
        (('domain = "disk"\nh = 0.3', 'domain = "file"\nfile = 3'),
         r"\[mesh\] file must be a non-empty string, got 3 \(line 3 of"),
        (('domain = "disk"\nh = 0.3', 'domain = "file"\nfile = "."'),
         r"\[mesh\] file = '.': mesh file .* is a directory, not a mesh file \(line 3 of"),
        (('domain = "disk"\nh = 0.3', 'domain = "file"\nfile = "none.msh"'),
         r"\[mesh\] file = 'none.msh': mesh file .*none.msh does not exist \(line 3 of"),
        (("tau = 0.01", "tau = true"), r"\[problem\] tau must be a number, got True \(line 6 of"),
        (("tau = 0.01", "tau = inf"), r"\[problem\] tau must be a finite number, got inf \(line 6 of"),
        (("tau = 0.01", "tau = [0.01]"), r"\[problem\] tau must be a number, got \[0.01\] \(line 6 of"),
        (('target = "1"', "target = true"), r"\[problem\] target must be a formula .* got True \(line 5 of"),
        (('target = "1"', "target = nan"), r"\[problem\] target must be a finite number, got nan \(line 5 of"),
        (('target = "1"', 'target = "1/x"'), r"\[problem\] target = '1/x' is not finite at 1 of \d+ nodes, first at "
                                            r"x = \[0.0, 0.0\] \(value inf\) \(line 5 of"),
        (('target = "1"', 'target = "x.real"'), r"\[problem\] target = 'x.real' is refused: an attribute access "
                                               r"at character 1; .*\(line 5 of"),
        (("tau = 0.01", "tau = 0.01\nschedule = { kind = ['power'] }"),
         r"\[problem\] schedule kind must be one of constant, power, got \['power'\] \(line 7 of"),
        (("tau = 0.01", "tau = 0.01\nschedule = { kind = 'constant', xi0 = true }"),
         r"\[problem.schedule\] xi0 must be a number, got True \(line 7 of"),
        (("tau = 0.01", "tau = 0.01\nschedule = 2"), r"\[problem\] schedule must be a table .* got 2 \(line 7 of"),
        (("t_end = 0.1", "t_end = true"), r"\[run\] t_end must be a number, got True \(line 8 of"),
        (("t_end = 0.1", 't_end = "1"'), r"\[run\] t_end must be a number, got '1' \(line 8 of"),
        (("t_end = 0.1", "t_end = inf"), r"\[run\] t_end must be a finite number, got inf \(line 8 of"),
        (("t_end = 0.1", "t_end = -1.0"), r"\[run\] t_end must be > 0, got -1.0 \(line 8 of"),
        (("t_end = 0.1", "t_end = 0.1\noutputs = 1e9"),
         r"\[run\] outputs must be an integer >= 1, got 1000000000.0 \(line 9 of"),
        (("t_end = 0.1", "t_end = 0.1\noutputs = true"), r"\[run\] outputs must be an integer >= 1, got True"),
        (("t_end = 0.1", "t_end = 0.1\noutputs = 1_000_000_000"),
         r"\[run\] outputs = 1000000000 would write 1000000000 frames; at most 100,000 \(line 9 of"),
        (("t_end = 0.1", "t_end = 0.1\ndt_max = 1e-9"), r"\[run\] dt_max = 1e-09 needs at least 1e\+08 steps to reach "
                                                      r"t_end = 0.1, more than 10,000,000; .*\(line 9 of"),
        (("t_end = 0.1", "t_end = 0.1\nscheme = 2"), r"\[run\] scheme must be one of 'bdf2', 'euler', got 2 \(line 9"),
        (("t_end = 0.1", "t_end = 0.1\nlinear_solver = ['amg']"), r"\[run\] linear_solver must be one of .*\['amg'\]"),
        (("t_end = 0.1", "t_end = 0.1\nflux = true"), r"\[run\] flux must be one of 'limited', 'upwind', got True"),
        (("t_end = 0.1", "t_end = 0.1\nestimate_space_error = 1"),
         r"\[run\] estimate_space_error must be true or false, got 1 \(line 9 of"),
        (("t_end = 0.1", "t_end = 0.1\nsteady_tol = nan"), r"\[run\] steady_tol must be a finite number, got nan"),
        (("t_end = 0.1", 't_end = 0.1\ncheckpoint_every = "60"'),
         r"\[run\] checkpoint_every must be a number, got '60' \(line 9 of"),
        (("t_end = 0.1", "t_end = 0.1\nrtol = true"), r"\[run\] rtol must be a number, got True \(line 9 of"),
        (("t_end = 0.1", "t_end = 0.1\natol = -1"), r"\[run\] atol must be >= 0.0, got -1 \(line 9 of"),
        (("t_end = 0.1\n", "t_end = 0.1\n" + INITIAL.replace("'uniform'", "true")),
         r"\[initial\] rho0 must be a formula .* got True \(line 10 of"),
        (("t_end = 0.1\n", "t_end = 0.1\n" + INITIAL.replace("'uniform'", "'x - 1'")),
         r"\[initial\] rho0 = 'x - 1' is negative at 53 of 54 nodes \(min -1.99 at x = \[-0.988.*\(line 10 of"),
        (("t_end = 0.1\n", "t_end = 0.1\n" + INITIAL.replace("'uniform'", "'sqrt(x - 2)'")),
         r"\[initial\] rho0 = 'sqrt\(x - 2\)' is not finite at 54 of 54 nodes, first at x = \[0.0, 0.0\] \(value "
         r"nan\) \(line 10 of"),
        (("t_end = 0.1\n", "t_end = 0.1\n" + INITIAL.replace("'uniform'", "'__import__(\"os\")'")),
         r"\[initial\] rho0 = .* is refused: a call of '__import__' .*\(line 10 of"),
        (("t_end = 0.1\n", "t_end = 0.1\n" + INITIAL + "normalize = 'yes'\n"),
         r"\[initial\] normalize must be true or false, got 'yes' \(line 11 of"),
        (_name("'../rho'"), r"\[output\] name must be a plain file name .* got '../rho' \(line 10 of"),
        (_name("'a/b'"), r"\[output\] name .* got 'a/b' \(line 10"),
        (_name("''"), r"\[output\] name .* got '' \(line 10"),
        (_name("'..'"), r"\[output\] name .* got '..' \(line 10"),
        (_name("'.rho'"), r"\[output\] name .* got '.rho' \(line"),
        (_name("3"), r"\[output\] name .* got 3 \(line 10"),
        (("t_end = 0.1\n", "t_end = 0.1\n" + OUTPUT.replace("name = 'rho'", "directory = ''")),
         r"\[output\] directory must be a non-empty string, got '' \(line 10 of"),
        (("t_end = 0.1\n", "t_end = 0.1\n" + OUTPUT.replace("name = 'rho'", "directory = 3")),
         r"\[output\] directory must be a non-empty string, got 3 \(line 10 of"),
    ],
)
def test_scenario_values_are_type_checked(tmp_path, change, message):
    from fempde.cli.scenario import ScenarioError, load_scenario

    assert change[0] in SCENARIO
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.replace(*change))
    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)


def test_plain_output_names_are_accepted(tmp_path):
    from fempde.cli.scenario import load_scenario

    path = tmp_path / "s.toml"
    path.write_text(SCENARIO + "[output]\nname = 'rho_v2.final-1'\n")
    assert load_scenario(path).output_name == "rho_v2.final-1"


def test_space_force_must_be_a_bool():
    with pytest.raises(TypeError, match="force must be True or False, got 'no'"):
        fempde.Space(meshes.interval(h=0.5), force="no")


# -- the command line: every error one line, exit 2 (bad input) or 3 (numerical failure) -----------------------


def _cli(argv, capsys):
    from fempde.cli.commands import main

    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else ""


def test_directory_as_scenario_file(tmp_path, capsys):
    code, err = _cli(["run", str(tmp_path)], capsys)
    assert code == 2 and err == f"fempde: error: scenario file {tmp_path} is a directory, not a TOML file"


def test_directory_as_mesh_file(tmp_path, capsys):
    code, err = _cli(["check-mesh", str(tmp_path)], capsys)
    assert code == 2 and err == f"fempde: error: mesh file {tmp_path} is a directory, not a mesh file"


def test_binary_scenario_file(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    code, err = _cli(["run", str(path)], capsys)
    assert code == 2 and err == f"fempde: error: scenario file {path} is not a UTF-8 text file"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out", ""], "--out must name a directory, got ''"),
        (["--out", "  "], "--out must name a directory, got '  '"),
        (["--t-end", "inf"], "--t-end must be a positive finite number, got inf"),
        (["--t-end", "nan"], "--t-end must be a positive finite number, got nan"),
        (["--t-end", "-1"], "--t-end must be a positive finite number, got -1.0"),
    ],
)
def test_bad_command_line_overrides(tmp_path, capsys, argv, message):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    code, err = _cli(["run", str(path), "--quiet", *argv], capsys)
    assert code == 2 and err == f"fempde: error: {message}"


def test_scenario_error_through_the_cli_is_one_line_naming_file_key_and_line(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.replace("h = 0.3", "h = true"))
    code, err = _cli(["run", str(path)], capsys)
    assert code == 2 and err == f"fempde: error: [mesh] h must be a number, got True (line 3 of {path})"


def _resumable(tmp_path, record):
    """An output directory as `fempde run` leaves it, with ``record`` as run.json."""
    import json

    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text(record if isinstance(record, str) else json.dumps(record))
    (out / "checkpoint.npz").write_bytes(b"")
    return out


def _stamp(path):
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_resume_refuses_an_edited_scenario(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    before = _stamp(path)
    out = _resumable(tmp_path, {"scenario": str(path), "sha256": before, "t_end": 0.1})
    path.write_text(SCENARIO.replace("tau = 0.01", "tau = 0.02"))
    code, err = _cli(["resume", str(out)], capsys)
    assert code == 2
    assert err.startswith(f"fempde: error: the scenario file {path} changed since the run in {out} was started "
                          f"(SHA-256 {before[:12]}..., now {_stamp(path)[:12]}...): resuming would mix two problems")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ("{not json", " cannot be read as JSON (Expecting property name"),
        ("[1, 2]", " must hold a JSON object with keys scenario, sha256, t_end, got [1, 2]"),
        ({"sha256": "0", "t_end": 0.1}, " has no 'scenario' (written by an older fempde, or edited)"),
        ({"scenario": "s.toml", "t_end": 0.1}, " has no 'sha256'"),
        ({"scenario": "s.toml", "sha256": "0"}, " has no 't_end'"),
        ({"scenario": 3, "sha256": "0", "t_end": 0.1}, ": scenario must be a string, got 3"),
        ({"scenario": "s.toml", "sha256": "0", "t_end": "0.1"}, ": t_end must be a positive number, got '0.1'"),
        ({"scenario": "s.toml", "sha256": "0", "t_end": -1}, ": t_end must be a positive number, got -1"),
        ({"scenario": "gone.toml", "sha256": "0", "t_end": 0.1},
         ": the run's scenario file gone.toml no longer exists"),
    ],
)
def test_resume_refuses_a_broken_run_record(tmp_path, capsys, record, message):
    out = _resumable(tmp_path, record)
    code, err = _cli(["resume", str(out)], capsys)
    assert code == 2 and err.startswith(f"fempde: error: {out / 'run.json'}{message}")


def test_resume_of_a_file_is_refused(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    code, err = _cli(["resume", str(path)], capsys)
    assert code == 2 and err == f"fempde: error: {path} is not a directory: give the output directory of a `fempde run`"


def test_numerical_failure_exits_3(tmp_path, capsys, monkeypatch):
    import fempde.cli.commands as commands

    def overflow(*args, **kwargs):
        raise FloatingPointError("overflow encountered in multiply")

    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    monkeypatch.setattr(commands, "run_scenario", overflow)
    code, err = _cli(["run", str(path), "--out", str(tmp_path / "o"), "--quiet"], capsys)
    assert code == 3 and err == "fempde: numerical failure: overflow encountered in multiply"


def test_bad_input_found_during_the_run_names_the_scenario(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO + "[initial]\nrho0 = '3'\n")  # mass 3π, not 1: found when the space is built
    code, err = _cli(["run", str(path), "--out", str(tmp_path / "o"), "--quiet"], capsys)
    assert code == 2 and err.startswith("fempde: error: rho0 has mass 9.")
    assert err.endswith(f"(scenario {path})")


# -- checkpoints: every field checked before a run continues from one ------------------------------------------


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint of a short run interrupted at step 5, and the run's setting."""
    class StopAt(fempde.Observer):
        def observe(self, step):
            if step.index == 5:
                raise KeyboardInterrupt

    path = tmp_path_factory.mktemp("checkpoint") / "ck.npz"
    space = fempde.Space(meshes.interval(-1, 1, h=0.2))
    fempde.solve(PROBLEM, space, "uniform", 0.5, [fempde.Checkpointer(path, every=0), StopAt()])
    with np.load(path) as data:
        return path, space, dict(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"t": 5.0}, r"t = 5.0 is beyond the run's t_end = 0.5"),
        ({"t": np.nan}, r"its t = nan is invalid"),
        ({"t": -1.0}, r"t = -1.0 is not a finite time >= 0"),
        ({"dt_next": np.nan}, r"its dt_next = nan is invalid"),
        ({"dt_next": np.inf}, r"its dt_next = inf is invalid"),
        ({"index": -7}, r"its index = -7 is invalid"),
        ({"index": 3}, r"index = 3 contradicts its history of 6 rows"),
        ({"past_dt": np.array([np.nan, 1e-4])}, r"past_dt = \(nan, 0.0001\) holds a step that is not finite"),
        ({"expected_mass": np.nan}, r"expected_mass = nan is not a finite positive mass"),
        ({"rho": "triple"}, r"rho = 'a density of mass 3' differs from the run's mass 1 by more than 1e-09"),
        ({"rho": "nudge"}, r"rho = 'a density of mass 1.00000001' differs from the run's mass 1"),
        ({"max_energy_increase": np.nan}, r"its max_energy_increase = nan is not a number < inf"),
        ({"free_energy": np.inf}, r"its free_energy = inf is not finite"),
        ({"history": "nan"}, r"its history holds NaN or \+inf values"),
        ({"t": np.zeros((2, 3))}, r"its t must be one number, got float64 of shape \(2, 3\)"),
        ({"format": np.array("2")}, r"its format must be one number, got <U1 of shape \(\)"),
        ({"failed": np.zeros((2, 3))}, r"its failed must be a list of flag names, got float64 of shape \(2, 3\)"),
    ],
    ids=["t-beyond", "t-nan", "t-negative", "dt-nan", "dt-inf", "index-negative", "index-history", "past-dt",
         "expected-mass", "mass-3", "mass-1e-8", "energy-increase-nan", "energy-inf", "history-nan", "t-array",
         "format-string", "failed-array"],
)
def test_resume_refuses_a_tampered_checkpoint(tmp_path, checkpoint, change, message):
    path, space, data = checkpoint
    data = dict(data)
    for key, value in change.items():
        if key == "rho":
            data["rho"] = data["rho"] * (3.0 if value == "triple" else 1 + 1e-8)
        elif key == "history":
            data["history"] = data["history"].copy()
            data["history"][1, 3] = np.nan
        else:
            data[key] = np.asarray(value)
    tampered = tmp_path / "tampered.npz"
    np.savez(tampered, **data)
    with pytest.raises(ValueError, match=rf"checkpoint .*tampered.npz.*{message}"):
        fempde.solve(PROBLEM, space, "uniform", 0.5, resume=tampered)


def test_untampered_checkpoint_resumes(checkpoint):
    path, space, _ = checkpoint
    result = fempde.solve(PROBLEM, space, "uniform", 0.5, resume=path)
    assert result.t == 0.5 and result.certificates.ok


def test_a_full_disk_leaves_no_empty_png_and_no_temporary_file(tmp_path, monkeypatch):
    import errno

    from matplotlib.figure import Figure

    def full_disk(self, path, *args, **kwargs):
        Path(path).write_bytes(b"")  # the 0-byte file a full disk leaves ...
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full_disk)
    (tmp_path / "rho.png").write_bytes(b"old")
    with pytest.raises(fempde.OutputError, match="No space left on device"):
        fempde.solve(PROBLEM, meshes.interval(h=0.1), "uniform", 0.2, [fempde.PlotWriter(tmp_path)], times=[0.1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rho.png"]  # ... is removed: no .tmp, no 0-byte PNG
    assert (tmp_path / "rho.png").read_bytes() == b"old"


def test_ctrl_c_while_the_last_files_are_written_is_raised_after_them(tmp_path):
    import os
    import signal

    finished = []

    class CtrlCInFinish:  # Ctrl-C lands while the observers write their last files
        def start(self, info):
            pass

        def observe(self, step):
            return False

        def finish(self, result):
            os.kill(os.getpid(), signal.SIGINT)
            finished.append(result.t)  # not reached if the Ctrl-C were raised at once

    writer = fempde.CSVWriter(tmp_path / "history.csv")
    with pytest.raises(KeyboardInterrupt):
        fempde.solve(PROBLEM, meshes.interval(h=0.1), "uniform", 0.2, [CtrlCInFinish(), writer], times=[0.1])
    assert finished == [0.2]
    assert (tmp_path / "history.csv").read_text().splitlines()[-1].split(",")[1] == "0.2"  # written to the end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is restored


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"options": {"rtol": 1e-6}}, r"options must be a fempde.StepOptions \(or give its fields by keyword\), got dict"),
    ({"observers": [1]}, r"observers\[0\] must be an Observer \(with start, observe and finish\), got int"),
    ({"times": "0.005"}, r"times must be a sequence of output times, got str"),
    ({"times": {0.005: 1}}, r"times must be a sequence of output times, got dict"),
    ({"problem": None}, r"problem must be a fempde problem .*, got NoneType"),
    ({"mesh": "mesh"}, r"mesh must be a skfem Mesh \(see meshes.\*\) or a fempde.Space, got str"),
])
def test_solve_names_arguments_of_the_wrong_kind(kwargs, message):
    args = {"problem": PROBLEM, "mesh": meshes.interval(h=0.1), "rho0": "uniform", "t_end": 0.01, **kwargs}
    with pytest.raises(TypeError, match=message):
        fempde.solve(**args)


@pytest.mark.parametrize("name", ["../evil", "", ".hidden", "a/b", "a" * 300])
def test_a_series_name_cannot_leave_its_directory(tmp_path, name):
    with pytest.raises(ValueError, match=r"name \(of the .pvd series\) must be a plain file name"):
        fempde.VTKWriter(tmp_path / "sub", name)


def test_beta_zero_is_named_before_any_division():
    with pytest.raises(ValueError, match=r"beta \(the inverse temperature\) must be > 0 .*, got 0.0"):
        fempde.temperature(0.0)
