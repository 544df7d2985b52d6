"""The scalar history of a run as CSV, one row per accepted step.

The rows are the run record's (:mod:`fempde.solvers.record`): the same numbers
and the same certificate flags as ``Result.history`` and ``Result.certificates``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO, Any

from ..atomic import write_csv
from ..solvers.observers import Observer, RunInfo
from ..solvers.record import Result, RunRecord
from ..solvers.stepping import Step

__all__ = ["COLUMNS", "CSVWriter"]

COLUMNS = (
    "step", "t", "dt", "free_energy", "risk", "mass", "mass_drift", "min_rho",
    "newton_iterations", "rejected_steps", "energy_increase", "wall_mass", "time_error", "risk_time_error", "flag",
)


class CSVWriter(Observer):
    """Scalar histories, one row per accepted step, flushed as written (a killed
    run leaves a valid file). ``flag`` is ``ok`` or names the failed certificate;
    ``time_error`` is the step's estimated local error of ρ, ``risk_time_error``
    the estimated time error of the risk so far. A run with ``estimate_space_error``
    also gets :attr:`space_error_path`, the refined-mesh estimate per output time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: IO[str] | None = None
        self._writer: Any = None
        self._record: RunRecord | None = None

    def start(self, info: RunInfo) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._record = info.record
        resumed = info.resumed_from
        if resumed is not None and self.path.is_file():  # keep the rows up to the checkpoint
            with self.path.open(newline="") as old:
                rows = [r for r in csv.reader(old) if len(r) == len(COLUMNS)]
            kept = [r for r in rows[1:] if r[0].isdigit() and resumed.keeps_row(int(r[0]))]
            write_csv(self.path, COLUMNS, kept)
            self._file = self.path.open("a", newline="")
            self._writer = csv.writer(self._file)
            return
        self._file = self.path.open("w", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(COLUMNS)

    def observe(self, step: Step) -> None:
        assert self._file is not None and self._record is not None
        flags = self._record.last_flags
        exact = [repr(float(v)) for v in (step.t, step.dt, step.free_energy, step.risk, step.mass)]
        self._writer.writerow([
            step.index, *exact, f"{step.mass_drift:.3e}", repr(step.min_rho), step.newton_iterations,
            step.rejected, f"{step.energy_increase:.3e}", repr(step.wall_mass), f"{step.time_error:.3e}",
            f"{step.risk_time_error:.3e}", "+".join(flags) or "ok",
        ])
        self._file.flush()

    @property
    def space_error_path(self) -> Path:
        """Where the spatial estimate goes when the run has one: ``<name>_space_error.csv``."""
        return self.path.with_name(f"{self.path.stem}_space_error.csv")

    def finish(self, result: Result) -> None:
        if self._file is not None:
            self._file.close()
        estimate = result.space_error
        if estimate is not None:  # per output time: R_h, R_{h/2}, the estimated errors of R_h and of ρ
            write_csv(self.space_error_path, ["t", "risk", "risk_refined", "risk_error", "rho_l1_error"],
                      [[float(v) for v in row] for row in zip(estimate.times, estimate.risk, estimate.risk_refined,
                                                              estimate.risk_error, estimate.rho_l1, strict=True)])
