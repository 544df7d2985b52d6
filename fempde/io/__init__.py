"""Everything a run writes, as observers, and the one way files are written.

* :func:`atomic_write`, :func:`write_csv` — from :mod:`fempde.atomic`, re-exported;
* :func:`write_archive`, :func:`read_archive` — from :mod:`fempde.archive`, the one checkpoint container;
* :mod:`.directory` — :class:`OutputDirectory`, a run's output directory, owned and locked;
* :mod:`.history` — :class:`CSVWriter`, the scalar history;
* :mod:`.vtk` — :class:`VTKWriter` and :class:`PVDSeries`, ParaView time series;
* :mod:`.checkpoint` — :class:`Checkpointer` and :func:`load_checkpoint`;
* :mod:`.plots` — :class:`PlotWriter`, PNGs of ρ and of the histories, and
  :func:`save_figure`, the one way a figure is saved (atomically).
"""

from ..archive import Field, read_archive, write_archive
from ..atomic import atomic_write, write_csv
from .checkpoint import Checkpoint, Checkpointer, load_checkpoint
from .directory import DirectoryBusy, DirectoryError, EarlierRun, OutputDirectory, RunStamp
from .history import CSVWriter
from .plots import PlotWriter, plot_densities, plot_history, save_figure
from .vtk import PVDSeries, VTKWriter, mesh_cells, read_pvd

__all__ = [
    "CSVWriter", "Checkpoint", "Checkpointer", "DirectoryBusy", "DirectoryError", "EarlierRun", "Field",
    "OutputDirectory", "RunStamp", "PVDSeries", "PlotWriter", "VTKWriter", "atomic_write",
    "load_checkpoint", "mesh_cells", "plot_densities", "plot_history", "read_archive", "read_pvd", "save_figure",
    "write_archive", "write_csv",
]
