"""A ParaView view of a run: a ``pvpython`` script written beside its ``.pvd`` series.

``pvpython view.py`` (or, in ParaView, *View → Python Shell → Run Script*)
opens the density series, colours it by ``rho`` (Viridis, with its colour bar),
turns the cell vectors ``flux`` into arrows (*Cell Centers*, then *Glyph*,
scaled by the flux), and overlays the particle clouds of any ``particles*.pvd``
in the same directory as white points, all on the series' shared time axis.
``pvpython view.py --screenshot view.png`` renders the last time off-screen
into a PNG instead of leaving the pipeline open.

The script is data-independent: it finds its files beside itself when it runs,
so a run's directory can be moved or copied whole.
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import atomic_write
from ..checks import file_name

__all__ = ["VIEW_SCRIPT", "view_script", "write_view"]

VIEW_SCRIPT = '''"""ParaView view of {series}.pvd (written by fempde): the density coloured by rho,
the cell flux as arrows, and the particle clouds (particles*.pvd) beside it.

    pvpython view.py                          # build the pipeline (or ParaView: Python Shell > Run Script)
    pvpython view.py --screenshot view.png    # render the last time into a PNG
"""

import glob
import os
import sys

from paraview.simple import (CellCenters, ColorBy, GetActiveViewOrCreate, GetAnimationScene,
                             GetColorTransferFunction, Glyph, PVDReader, Render, ResetCamera,
                             SaveScreenshot, Show)

here = os.path.dirname(os.path.abspath(__file__)) if "__file__" in globals() else os.getcwd()
view = GetActiveViewOrCreate("RenderView")

density = PVDReader(registrationName="{series}", FileName=os.path.join(here, "{series}.pvd"))
shown = Show(density, view)
ColorBy(shown, ("POINTS", "rho"))
GetColorTransferFunction("rho").ApplyPreset("Viridis (matplotlib)", True)
shown.RescaleTransferFunctionToDataRangeOverTime()  # the range of every frame, not the first one
shown.SetScalarBarVisibility(view, True)

if "flux" in density.CellData.keys():
    # the flux is a cell vector: arrows need points, so Cell Centers first
    centres = CellCenters(registrationName="flux at cell centres", Input=density)
    arrows = Glyph(registrationName="flux arrows", Input=centres, GlyphType="Arrow")
    arrows.OrientationArray = ["POINTS", "flux"]
    arrows.ScaleArray = ["POINTS", "flux"]
    arrows.GlyphMode = "Every Nth Point"  # about 500 arrows: one per cell hides the density
    arrows.Stride = max(1, density.GetDataInformation().GetNumberOfCells() // 500)
    bounds = density.GetDataInformation().GetBounds()
    size = max(bounds[1] - bounds[0], bounds[3] - bounds[2], bounds[5] - bounds[4]) or 1.0
    largest = density.CellData["flux"].GetRange(-1)[1]
    arrows.ScaleFactor = 0.1 * size / (largest or 1.0)  # the largest flux: a tenth of the domain
    shown_arrows = Show(arrows, view)
    shown_arrows.ColorArrayName = ["POINTS", ""]  # one colour (ColorBy(.., None) fails in ParaView 5.11)
    shown_arrows.DiffuseColor = [0.1, 0.1, 0.1]

for path in sorted(glob.glob(os.path.join(here, "particles*.pvd"))):
    cloud = PVDReader(registrationName=os.path.basename(path)[:-4], FileName=path)
    shown_cloud = Show(cloud, view)
    shown_cloud.ColorArrayName = ["POINTS", ""]
    shown_cloud.SetRepresentationType("Points")
    shown_cloud.PointSize = 3.0
    shown_cloud.DiffuseColor = shown_cloud.AmbientColor = [1.0, 1.0, 1.0]

scene = GetAnimationScene()
scene.UpdateAnimationUsingDataTimeSteps()
ResetCamera(view)
if "--screenshot" in sys.argv:
    scene.AnimationTime = density.TimestepValues[-1] if density.TimestepValues else 0.0
    SaveScreenshot(sys.argv[sys.argv.index("--screenshot") + 1], view, ImageResolution=[1200, 900])
else:
    Render(view)
'''


def view_script(series: str = "rho") -> str:
    """The text of the ``pvpython`` script that views the series ``{series}.pvd``."""
    return VIEW_SCRIPT.replace("{series}", file_name("series", series))


def write_view(directory: str | Path, series: str = "rho", name: str = "view.py") -> Path:
    """Write :func:`view_script` as ``directory/name`` (atomically), beside ``{series}.pvd``."""
    return atomic_write(Path(directory) / file_name("name (of the view script)", name),
                        lambda path: path.write_text(view_script(series)))
