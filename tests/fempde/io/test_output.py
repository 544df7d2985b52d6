"""What users open: the ParaView series, the CSV history, the PNGs."""

import csv

import meshio
import numpy as np
import pytest

import fempde
import meshes
from fempde.io.vtk import read_pvd


def _run(tmp_path, mesh, t_end=0.5, observers=(), **kwargs):
    problem = fempde.PorousMedium(target=lambda x: 1.0 - 0.5 * np.sum(x**2, axis=0), tau=0.02)
    writer = fempde.VTKWriter(tmp_path, "rho")
    table = fempde.CSVWriter(tmp_path / "history.csv")
    result = fempde.solve(problem, mesh, "uniform", t_end, [writer, table, *observers],
                          times=np.linspace(0, t_end, 6)[1:], **kwargs)
    return result, writer


@pytest.mark.parametrize("mesh", [meshes.interval(h=0.05), meshes.disk(h=0.2)], ids=["1d", "2d"])
def test_vtu_series_round_trip(tmp_path, mesh):
    result, _ = _run(tmp_path, mesh)
    frames = read_pvd(tmp_path / "rho.pvd")
    np.testing.assert_allclose([t for t, _ in frames], np.linspace(0, 0.5, 6), rtol=0, atol=1e-15)
    last = meshio.read(frames[-1][1])
    space = result.space
    np.testing.assert_array_equal(last.points[:, : space.dim], space.x.T)
    assert np.all(last.points[:, space.dim:] == 0)
    cell_type = {1: "line", 2: "triangle"}[space.dim]
    assert last.cells[0].type == cell_type
    np.testing.assert_array_equal(last.cells[0].data, np.asarray(space.mesh.t).T)
    np.testing.assert_array_equal(last.point_data["rho"], result.rho)
    np.testing.assert_array_equal(last.point_data["f"], result.system.f)
    np.testing.assert_array_equal(last.point_data["mu"], result.system.chemical_potential(result.rho))
    flux = last.cell_data["flux"][0]
    assert flux.shape == (space.mesh.t.shape[1], 3)
    np.testing.assert_allclose(flux[:, : space.dim].T, result.system.flux_vectors(result.rho, result.t), rtol=1e-15)


def test_pyvista_reads_the_pvd_with_time_values(tmp_path):
    pv = pytest.importorskip("pyvista")
    result, _ = _run(tmp_path, meshes.disk(h=0.2))
    reader = pv.get_reader(str(tmp_path / "rho.pvd"))
    np.testing.assert_allclose(reader.time_values, np.linspace(0, 0.5, 6), atol=1e-15)
    reader.set_active_time_value(reader.time_values[-1])
    grid = reader.read()[0]
    np.testing.assert_array_equal(np.asarray(grid.point_data["rho"]), result.rho)


def test_flux_vectors_equal_minus_rho_grad_mu(tmp_path):
    # J = −2ξ ρ̄ ∇φ − 2ξτ ∇ρ ; for a linear ρ and f on one element the gradients are exact
    space = fempde.Space(meshes.rectangle(h=0.5))
    system = fempde.PorousMedium(target=lambda x: 2 * x[0], tau=0.1, schedule=fempde.Constant(1.5)).discretise(space)
    rho = 1.0 + 0.5 * space.x[1]
    flux = system.flux_vectors(rho, 0.7)
    grad_phi = np.array([[-2.0], [0.5]]) / space.volume
    expected = -3.0 * (space.element_mean(rho) * grad_phi + 0.1 * np.array([[0.0], [0.5]]))
    np.testing.assert_allclose(flux, expected, rtol=1e-13)


def test_pvd_is_valid_after_every_write(tmp_path):
    class Check(fempde.Observer):
        def __init__(self, writer):
            self.writer, self.seen = writer, []

        def observe(self, step):
            frames = read_pvd(tmp_path / "rho.pvd")  # parses: a killed run leaves this much
            self.seen.append(len(frames))
            assert all(path.is_file() for _, path in frames)

    writer = fempde.VTKWriter(tmp_path, "rho")
    check = Check(writer)
    problem = fempde.PorousMedium(target=1.0, tau=0.05)
    fempde.solve(problem, meshes.interval(h=0.1), "uniform", 0.3, [writer, check], times=[0.1, 0.2])
    assert check.seen == sorted(check.seen) and check.seen[-1] == 4
    assert not list(tmp_path.glob(".*tmp*"))


def test_interrupted_run_leaves_valid_output(tmp_path):
    class Interrupt(fempde.Observer):
        def observe(self, step):
            if step.index == 3:
                raise KeyboardInterrupt

    result, _ = _run(tmp_path, meshes.interval(h=0.05), observers=[Interrupt()],
                     options=fempde.StepOptions(dt0=1e-3, dt_max=1e-3, rtol=None))
    assert result.stop_reason == "interrupted"
    frames = read_pvd(tmp_path / "rho.pvd")
    assert [t for t, _ in frames] == pytest.approx([0.0, 0.003])  # start and the last step
    np.testing.assert_array_equal(meshio.read(frames[-1][1]).point_data["rho"], result.rho)
    with open(tmp_path / "history.csv") as table:
        assert len(list(csv.DictReader(table))) == 4


def test_csv_history_matches_the_result(tmp_path):
    result, _ = _run(tmp_path, meshes.interval(h=0.05))
    with open(tmp_path / "history.csv") as table:
        rows = list(csv.DictReader(table))
    for key in ("t", "dt", "free_energy", "risk", "mass", "min_rho"):
        np.testing.assert_array_equal([float(r[key]) for r in rows], result.history[key])
    assert [int(r["newton_iterations"]) for r in rows] == result.history["newton_iterations"].tolist()
    assert {r["flag"] for r in rows} == {"ok"}


def test_failed_certificate_is_flagged(tmp_path):
    class Leaky(fempde.PorousMedium):
        """A deliberately wrong scheme: a sink the mass check must notice."""

        def discretise(self, space, **options):
            system = super().discretise(space, **options)
            original = system.linearise

            def linearise(rho, rho_old, t_old, t_new, **options):
                residual, jacobian = original(rho, rho_old, t_old, t_new, **options)
                return residual + 1e-6 * space.m, jacobian

            system.linearise = linearise
            return system

    table = fempde.CSVWriter(tmp_path / "history.csv")
    # fixed steps: the sink's error does not shrink with the step, so error control would refuse every step
    result = fempde.solve(Leaky(target=1.0, tau=0.05), meshes.interval(h=0.1), "uniform", 0.2, [table],
                          options=fempde.StepOptions(rtol=None))
    assert not result.ok and "mass" in result.certificates.failed
    with open(tmp_path / "history.csv") as rows:
        assert "mass" in [r["flag"] for r in csv.DictReader(rows)][-1]


@pytest.mark.parametrize("mesh", [meshes.interval(h=0.05), meshes.disk(h=0.2), meshes.box(h=0.34)],
                         ids=["1d", "2d", "3d"])
def test_plots_are_written(tmp_path, mesh):
    result, _ = _run(tmp_path, mesh, observers=[fempde.PlotWriter(tmp_path)])
    for name in ("rho.png", "history.png"):
        image = (tmp_path / name).read_bytes()
        assert image[:8] == b"\x89PNG\r\n\x1a\n" and len(image) > 10_000


def test_paraview_reads_the_series(tmp_path):
    """ParaView's own reader (Debian's paraview package), where it is installed."""
    import shutil
    import subprocess

    pvpython = shutil.which("pvpython")
    if pvpython is None:
        pytest.skip("pvpython not installed (apt-get install paraview)")
    result, _ = _run(tmp_path, meshes.disk(h=0.2))
    script = tmp_path / "read.py"
    script.write_text(
        "from paraview.simple import PVDReader, UpdatePipeline\n"
        f"r = PVDReader(FileName={str(tmp_path / 'rho.pvd')!r})\n"
        "UpdatePipeline(time=r.TimestepValues[-1], proxy=r)\n"
        "print('TIMES', *r.TimestepValues)\n"
        "print('ARRAYS', *sorted(r.PointData.keys()), *sorted(r.CellData.keys()))\n"
        "print('RANGE', *r.PointData['rho'].GetRange())\n"
    )
    out = subprocess.run([pvpython, "--force-offscreen-rendering", str(script)], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line[:1].isupper()}
    np.testing.assert_allclose([float(t) for t in lines["TIMES"]], np.linspace(0, 0.5, 6), atol=1e-15)
    assert lines["ARRAYS"] == ["f", "mu", "rho", "flux"]
    np.testing.assert_allclose([float(v) for v in lines["RANGE"]], [result.rho.min(), result.rho.max()], rtol=1e-15)
