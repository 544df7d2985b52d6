"""Output that cannot be written: the run stops with an OutputError and the files written before stay whole."""

import errno
from pathlib import Path

import pytest

import fempde
import meshes
from fempde.checks import ParameterError

PROBLEM = fempde.PorousMedium(target=lambda x: 1.0 - x[0] ** 2, tau=0.01)


def test_disk_full_stops_the_run_and_keeps_complete_output(tmp_path, monkeypatch):
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
    with pytest.raises(fempde.OutputError) as failed:
        fempde.solve(PROBLEM, meshes.interval(h=0.1), "uniform", 0.5, [fempde.VTKWriter(tmp_path)],
                     times=[0.1, 0.2, 0.3])
    assert isinstance(failed.value.__cause__, OSError) and failed.value.__cause__.errno == errno.ENOSPC
    assert "t = 0.2 " in str(failed.value)
    # ... never named by the .pvd; the writer's last attempt, at the end, got through
    frames = read_pvd(tmp_path / "rho.pvd")
    assert [t for t, _ in frames] == [0.0, 0.1, 0.2]
    assert all(meshio.read(path).point_data["rho"].size == 11 for _, path in frames)


def test_a_full_disk_leaves_no_empty_png_and_no_temporary_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def full_disk(self, path, *args, **kwargs):
        Path(path).write_bytes(b"")  # the 0-byte file a full disk leaves ...
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full_disk)
    (tmp_path / "rho.png").write_bytes(b"old")
    with pytest.raises(fempde.OutputError) as failed:
        fempde.solve(PROBLEM, meshes.interval(h=0.1), "uniform", 0.2, [fempde.PlotWriter(tmp_path)], times=[0.1])
    assert failed.value.__cause__.errno == errno.ENOSPC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rho.png"]  # ... is removed: no .tmp, no 0-byte PNG
    assert (tmp_path / "rho.png").read_bytes() == b"old"


@pytest.mark.parametrize("name", ["../evil", "", ".hidden", "a/b", "a" * 300])
def test_a_series_name_cannot_leave_its_directory(tmp_path, name):
    with pytest.raises(ParameterError) as refused:
        fempde.VTKWriter(tmp_path / "sub", name)
    assert refused.value.value == name and refused.value.name.startswith("name")


@pytest.mark.parametrize("every", [-1.0, True, "60", float("nan")])
def test_a_bad_checkpoint_interval_is_refused(tmp_path, every):
    with pytest.raises(ParameterError) as refused:
        fempde.Checkpointer(tmp_path / "ck.npz", every=every)
    assert refused.value.name.startswith("every")
