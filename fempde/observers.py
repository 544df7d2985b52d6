"""Observers attached to a run: progress, steady-state stop, CSV history.

An observer sees every accepted :class:`~fempde.stepping.Step`; returning
``True`` from :meth:`Observer.observe` stops the run cleanly. Writers of files
live here and in :mod:`fempde.vtk` and :mod:`fempde.plots`, never in the solver.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from .stepping import Step

if TYPE_CHECKING:
    from .solve import Result

__all__ = ["CSVWriter", "Observer", "ProgressBar", "RunInfo", "SteadyState"]


@dataclass(frozen=True)
class RunInfo:
    """What an observer learns when the run starts."""

    system: Any
    t_end: float
    times: tuple[float, ...]
    start_index: int = 0
    """The index of the last step already done: 0 for a new run, more when resuming."""
    t_start: float = 0.0
    """The time the run starts (or resumes) from."""


class Observer:
    """Base class: override what you need."""

    def start(self, info: RunInfo) -> None:
        pass

    def observe(self, step: Step) -> bool | None:
        return None

    def finish(self, result: Result) -> None:
        pass


class ProgressBar(Observer):
    """A tqdm progress bar over simulated time, with Δt, Newton iterations and F."""

    def __init__(self, description: str = "fempde") -> None:
        self.description = description
        self._bar: Any = None

    def start(self, info: RunInfo) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=info.t_end, desc=self.description, unit="t", unit_scale=True,
                         bar_format="{l_bar}{bar}| t={n:.4g}/{total:.4g} [{elapsed}<{remaining}{postfix}]")

    def observe(self, step: Step) -> None:
        self._bar.update(step.t - self._bar.n)
        self._bar.set_postfix(dt=f"{step.dt:.2e}", newton=step.newton_iterations,
                              F=f"{step.free_energy:.6g}", refresh=False)

    def finish(self, result: Result) -> None:
        self._bar.close()


class SteadyState(Observer):
    """Stop once ``max_i |ρ_i^{n+1} − ρ_i^n| / Δt <= tol`` (the discrete ``∂_t ρ``).

    Near a stable steady state the remaining error is about ``tol / λ``, with
    ``λ`` the slowest decay rate, so choose ``tol`` well below the accuracy wanted.
    """

    def __init__(self, tol: float = 1e-10) -> None:
        if not tol > 0:
            raise ValueError(f"SteadyState tol must be positive, got {tol!r}")
        self.tol = tol
        self._previous: np.ndarray | None = None
        self.reached_at: float | None = None

    def observe(self, step: Step) -> bool:
        previous, self._previous = self._previous, step.rho
        if previous is None or step.dt == 0:
            return False
        if np.abs(step.rho - previous).max() / step.dt <= self.tol:
            self.reached_at = step.t
            return True
        return False


COLUMNS = (
    "step", "t", "dt", "free_energy", "risk", "mass", "mass_drift", "min_rho",
    "newton_iterations", "rejected_steps", "energy_increase", "wall_mass", "flag",
)


class CSVWriter(Observer):
    """Scalar histories, one row per accepted step, flushed as written (a killed
    run leaves a valid file). ``flag`` is ``ok`` or names the failed certificate."""

    def __init__(self, path: str | Path, *, mass_tol: float = 1e-12, energy_tol: float = 1e-11) -> None:
        self.path = Path(path)
        self.mass_tol, self.energy_tol = mass_tol, energy_tol
        self._file: IO[str] | None = None
        self._writer: Any = None
        self._check_energy = True

    def start(self, info: RunInfo) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._check_energy = not info.system.has_source
        if info.start_index > 0 and self.path.is_file():  # resuming: keep the rows up to the checkpoint
            with self.path.open(newline="") as old:
                rows = [r for r in csv.reader(old) if len(r) == len(COLUMNS)]
            kept = [rows[0]] + [r for r in rows[1:] if r[0].isdigit() and int(r[0]) <= info.start_index]
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            with tmp.open("w", newline="") as new:
                csv.writer(new).writerows(kept)
            os.replace(tmp, self.path)
            self._file = self.path.open("a", newline="")
            self._writer = csv.writer(self._file)
            return
        self._file = self.path.open("w", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(COLUMNS)

    def observe(self, step: Step) -> None:
        flags = certificate_flags(step, self._check_energy, self.mass_tol, self.energy_tol)
        assert self._file is not None
        exact = [repr(float(v)) for v in (step.t, step.dt, step.free_energy, step.risk, step.mass)]
        self._writer.writerow([
            step.index, *exact, f"{step.mass_drift:.3e}", repr(step.min_rho), step.newton_iterations,
            step.rejected, f"{step.energy_increase:.3e}", repr(step.wall_mass), "+".join(flags) or "ok",
        ])
        self._file.flush()

    def finish(self, result: Result) -> None:
        if self._file is not None:
            self._file.close()


def certificate_flags(step: Step, check_energy: bool, mass_tol: float, energy_tol: float) -> list[str]:
    """Names of the certificates a step fails: ``mass``, ``negative``, ``energy``
    (the last only with ``check_energy``: a source term may raise the free energy)."""
    flags = []
    if step.mass_drift > mass_tol:
        flags.append("mass")
    if step.min_rho < -mass_tol * max(1.0, float(np.abs(step.rho).max())):
        flags.append("negative")
    if check_energy and not step.energy_increase <= energy_tol * max(1.0, abs(step.free_energy)):  # NaN fails
        flags.append("energy")
    return flags
