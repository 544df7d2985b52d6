"""ParaView output: a ``.pvd`` collection of ``.vtu`` files with time values.

Every file is written under a temporary name and renamed into place, never
through a link (:mod:`fempde.atomic`), and the ``.pvd`` is rewritten after each
``.vtu``, so a run killed at any moment leaves a readable series. 1-D meshes
are written as VTU line cells. A ``.pvd`` read back (:func:`read_pvd`, when a
run resumes) is bounded in size, may declare no DTD or entity, and must name
its frames by plain file names beside it at finite times.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
from numpy.typing import NDArray

from ..atomic import atomic_write, owned_file
from ..bounded import FileFormatError, load_xml
from ..checks import ParameterError, file_name, number
from ..solvers.observers import Observer, RunInfo
from ..solvers.result import Result
from ..solvers.resume import ResumePoint
from ..solvers.step import Step
from ..solvers.system import GradientFlowSystem

__all__ = ["PVDSeries", "VTKWriter", "mesh_cells", "read_pvd"]

_CELL_TYPE = {1: "line", 2: "triangle", 3: "tetra"}

MAX_PVD_BYTES = 64 << 20
"""The largest ``.pvd`` read back (some 800,000 frames)."""


def _pad3(array: NDArray[np.float64]) -> NDArray[np.float64]:
    """Points and vectors as ``(n, 3)`` (VTK is 3-D)."""
    out = np.zeros((array.shape[1], 3))
    out[:, : array.shape[0]] = array.T
    return out


class PVDSeries:
    """A time series of VTU files named ``{name}_{k:05d}.vtu`` under ``directory``."""

    def __init__(self, directory: str | Path, name: str) -> None:
        self.directory = Path(directory)
        self.name = file_name("name (of the .pvd series)", name)
        self.entries: list[tuple[float, str]] = []

    def restore(self, resumed_from: ResumePoint, marks: tuple[float, ...]) -> None:
        """Take over the frames of an existing ``.pvd`` that a resumed run keeps
        (:meth:`~fempde.solvers.resume.ResumePoint.keeps_frame`)."""
        if owned_file(self.pvd_path):
            self.entries = [(t, path.name) for t, path in read_pvd(self.pvd_path)
                            if resumed_from.keeps_frame(t, marks)]

    @property
    def files(self) -> tuple[str, ...]:
        """The names this series writes in its directory (patterns: the frames)."""
        return f"{self.name}.pvd", f"{self.name}_[0-9][0-9][0-9][0-9][0-9]*.vtu"

    @property
    def pvd_path(self) -> Path:
        return self.directory / f"{self.name}.pvd"

    def write_points(self, t: float, points: NDArray[np.float64],
                     point_data: dict[str, NDArray[np.float64]] | None = None) -> Path:
        """Write one ``.vtu`` of a point cloud (points ``(dim, n)``, one vertex cell each):
        particles, or the weighted points of a characteristics solver."""
        vertices = np.arange(points.shape[1])[:, None]
        return self.write(t, points, [("vertex", vertices)], point_data or {}, {})

    def write(self, t: float, points: NDArray[np.float64], cells: list[tuple[str, NDArray[Any]]],
              point_data: dict[str, NDArray[np.float64]], cell_data: dict[str, NDArray[np.float64]]) -> Path:
        """Write one ``.vtu`` (points ``(dim, n)``; vector cell data ``(dim, ncells)``)."""
        import meshio

        self.directory.mkdir(parents=True, exist_ok=True)  # at the first write, not before the run is accepted
        filename = f"{self.name}_{len(self.entries):05d}.vtu"
        mesh = meshio.Mesh(
            _pad3(points),
            cells,
            point_data={k: np.ascontiguousarray(v) for k, v in point_data.items()},
            cell_data={k: [_pad3(v) if v.ndim == 2 else v] for k, v in cell_data.items()},
        )
        atomic_write(self.directory / filename, lambda p: meshio.write(p, mesh, file_format="vtu"))
        self.entries.append((float(t), filename))
        atomic_write(self.pvd_path, self._write_pvd)
        return self.directory / filename

    def _write_pvd(self, path: Path) -> None:
        lines = ['<?xml version="1.0"?>',
                 '<VTKFile type="Collection" version="0.1" byte_order="LittleEndian">',
                 "  <Collection>"]
        lines += [f'    <DataSet timestep="{t!r}" group="" part="0" file={quoteattr(f)}/>' for t, f in self.entries]
        lines += ["  </Collection>", "</VTKFile>", ""]
        path.write_text("\n".join(lines))


def mesh_cells(space: Any) -> list[tuple[str, NDArray[Any]]]:
    """The cells of a space's mesh as meshio wants them."""
    return [(_CELL_TYPE[space.dim], np.asarray(space.mesh.t).T)]


def read_pvd(path: str | Path) -> list[tuple[float, Path]]:
    """``(time, vtu path)`` pairs of a ``.pvd`` collection; a file that is too large,
    declares a DTD or entity, is not XML, or names a frame by anything but a plain
    file name beside it at a finite time raises :class:`~fempde.bounded.FileFormatError`."""
    path = Path(path)
    what = "ParaView collection"
    root = load_xml(path, what, MAX_PVD_BYTES)
    if root.tag != "VTKFile" or root.get("type") != "Collection":
        raise FileFormatError(path, what, f"is not a VTK collection (root <{root.tag} type={root.get('type')!r}>)")
    frames = []
    for k, dataset in enumerate(root.iter("DataSet")):
        try:
            t = number(f"DataSet {k}: timestep", float(dataset.attrib["timestep"]))
            name = file_name(f"DataSet {k}: file", dataset.attrib["file"])
        except KeyError as err:
            raise FileFormatError(path, what, f"DataSet {k} has no {err.args[0]!r} attribute") from None
        except ParameterError as err:
            raise FileFormatError(path, what, str(err)) from None
        except ValueError:
            raise FileFormatError(path, what, f"DataSet {k} has the timestep {dataset.attrib['timestep']!r}, "
                                              f"not a number") from None
        frames.append((t, path.parent / name))
    return frames


class VTKWriter(Observer):
    """Writes ``rho``, ``f``, ``mu`` (point fields) and ``flux`` (cell vectors) at
    the initial state, at the run's output times and at the last step."""

    def __init__(self, directory: str | Path, name: str = "rho", every_step: bool = False) -> None:
        self.series = PVDSeries(directory, name)
        self.files = self.series.files
        self.every_step = every_step
        self._system: GradientFlowSystem | None = None
        self._last: Step | None = None
        self._written: Step | None = None

    def start(self, info: RunInfo) -> None:
        self._system = info.system
        if self.series.directory.is_dir():
            owned_file(self.series.pvd_path)  # a link at the series' name is refused before a frame is written
        if info.resumed_from is not None:
            self.series.restore(info.resumed_from, info.times)

    def observe(self, step: Step) -> None:
        self._last = step
        if step.index == 0 or step.at_output_time or self.every_step:
            self._write(step)

    def finish(self, result: Result) -> None:
        if self._last is not None and self._written is not self._last:
            self._write(self._last)

    def _write(self, step: Step) -> None:
        system = self._system
        assert system is not None, "the writer writes only after start()"
        space = system.space
        self.series.write(step.t, space.x, mesh_cells(space), system.point_fields(step.rho),
                          system.cell_fields(step.rho, step.t))
        self._written = step
