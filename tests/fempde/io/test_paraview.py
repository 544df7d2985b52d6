"""A run's ``view.py``: the pvpython script that shows the density, the flux arrows
and the particle clouds beside it. Its pipeline is checked against a recording
stand-in for ``paraview.simple`` everywhere, and run by ParaView where it is installed."""

import shutil
import subprocess
import sys
import types
from unittest import mock

import numpy as np
import pytest

import fempde
import meshes
from fempde.io.paraview import view_script, write_view
from fempde.io.vtk import PVDSeries


def _run(out):
    problem = fempde.PorousMedium(target=lambda x: 1.2 * (1 - x[0] ** 2 - x[1] ** 2), tau=0.01)
    return fempde.solve(problem, meshes.disk(h=0.3), "uniform", 0.2, times=[0.1, 0.2],
                        observers=[fempde.VTKWriter(out)])


def _recorded(script, monkeypatch, cell_arrays=("flux",)):
    """Run ``script`` against a stand-in ``paraview.simple``; the stand-in's mocks by name."""
    simple = types.ModuleType("paraview.simple")
    names = ["CellCenters", "ColorBy", "GetActiveViewOrCreate", "GetAnimationScene", "GetColorTransferFunction",
             "Glyph", "PVDReader", "Render", "ResetCamera", "SaveScreenshot", "Show"]
    mocks = {name: mock.MagicMock(name=name) for name in names}
    readers = []

    def reader(registrationName, FileName):  # noqa: N803 - ParaView's keywords
        proxy = mock.MagicMock(name=registrationName)
        proxy.FileName = FileName
        proxy.GetDataInformation.return_value.GetBounds.return_value = (-1.0, 1.0, -1.0, 1.0, 0.0, 0.0)
        proxy.GetDataInformation.return_value.GetNumberOfCells.return_value = 2000
        proxy.CellData.keys.return_value = list(cell_arrays)
        proxy.CellData.__getitem__.return_value.GetRange.return_value = (0.0, 0.5)
        proxy.TimestepValues = [0.0, 0.1, 0.2]
        readers.append(proxy)
        return proxy

    mocks["PVDReader"].side_effect = reader
    for name, value in mocks.items():
        setattr(simple, name, value)
    package = types.ModuleType("paraview")
    package.simple = simple
    monkeypatch.setitem(sys.modules, "paraview", package)
    monkeypatch.setitem(sys.modules, "paraview.simple", simple)
    exec(compile(script.read_text(), str(script), "exec"), {"__file__": str(script), "__name__": "__main__"})
    return mocks, readers


def test_a_run_writes_its_view_beside_the_series(tmp_path, monkeypatch):
    _run(tmp_path)
    clouds = PVDSeries(tmp_path, "particles")
    for t in (0.0, 0.1, 0.2):
        clouds.write_points(t, np.zeros((2, 5)))
    script = tmp_path / "view.py"
    assert script.read_text() == view_script("rho")
    monkeypatch.setattr(sys, "argv", ["view.py"])
    mocks, readers = _recorded(script, monkeypatch)
    assert [r.FileName for r in readers] == [str(tmp_path / "rho.pvd"), str(tmp_path / "particles.pvd")]
    density, cloud = readers
    assert mocks["ColorBy"].call_args_list[0].args[1] == ("POINTS", "rho")
    assert mocks["CellCenters"].call_args.kwargs["Input"] is density
    glyph = mocks["Glyph"].call_args.kwargs
    assert glyph["GlyphType"] == "Arrow" and glyph["Input"] is mocks["CellCenters"].return_value
    arrows = mocks["Glyph"].return_value
    assert arrows.OrientationArray == ["POINTS", "flux"] and arrows.ScaleArray == ["POINTS", "flux"]
    assert arrows.ScaleFactor == pytest.approx(0.1 * 2.0 / 0.5)  # a tenth of the domain for the largest flux
    assert arrows.GlyphMode == "Every Nth Point" and arrows.Stride == 4  # about 500 arrows of the 2000 cells
    shown = [call.args[0] for call in mocks["Show"].call_args_list]
    assert shown == [density, arrows, cloud]
    mocks["SaveScreenshot"].assert_not_called()


def test_the_view_renders_a_screenshot_when_asked(tmp_path, monkeypatch):
    script = write_view(tmp_path)
    monkeypatch.setattr(sys, "argv", ["view.py", "--screenshot", str(tmp_path / "shot.png")])
    mocks, _ = _recorded(script, monkeypatch)
    assert mocks["SaveScreenshot"].call_args.args[0] == str(tmp_path / "shot.png")
    assert mocks["GetAnimationScene"].return_value.AnimationTime == 0.2  # the last time


def test_a_series_without_flux_gets_no_arrows(tmp_path, monkeypatch):
    script = write_view(tmp_path)
    monkeypatch.setattr(sys, "argv", ["view.py"])
    mocks, readers = _recorded(script, monkeypatch, cell_arrays=())
    mocks["Glyph"].assert_not_called()
    assert [call.args[0] for call in mocks["Show"].call_args_list] == readers


def test_another_series_gets_its_own_view(tmp_path):
    writer = fempde.VTKWriter(tmp_path, name="density")
    assert writer.view == "view_density.py" and "view_density.py" in writer.files
    assert 'FileName=os.path.join(here, "density.pvd")' in view_script("density")


@pytest.mark.slow  # 5-16 s; CI runs it (make test-slow)
def test_paraview_opens_the_view(tmp_path):
    """ParaView's own pvpython, where it is installed: the pipeline builds and renders."""
    pvpython = shutil.which("pvpython")
    if pvpython is None:
        pytest.skip("pvpython not installed (apt-get install paraview)")
    _run(tmp_path)
    clouds = PVDSeries(tmp_path, "particles")
    for t in (0.0, 0.1, 0.2):
        clouds.write_points(t, 0.5 * np.ones((2, 5)))
    display = shutil.which("xvfb-run")  # pvpython's offscreen rendering without a display crashes (ParaView 5.11)
    if display is None:
        pytest.skip("rendering needs a display: xvfb-run not installed (apt-get install xvfb)")
    subprocess.run([display, "-a", pvpython, str(tmp_path / "view.py"), "--screenshot", str(tmp_path / "shot.png")],
                   capture_output=True, text=True, timeout=180, check=True)
    image = (tmp_path / "shot.png").read_bytes()
    assert image[:8] == b"\x89PNG\r\n\x1a\n" and len(image) > 10_000
