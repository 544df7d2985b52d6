"""Bad input raises an error whose message names the problem."""

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
        (lambda: fempde.PowerLaw(-1.0, 0.5), "xi0 must be a positive"),
        (lambda: fempde.Constant(0.0), "xi0 must be a positive"),
    ],
)
def test_bad_schedule(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"t_end": 0.0}, "t_end must be a positive number, got 0.0"),
        ({"t_end": -1.0}, "t_end must be a positive number"),
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
            system.linearise = lambda rho, *args: (np.full(space.n, np.nan), None)
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
