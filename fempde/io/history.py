"""The scalar history of a run as CSV, one row per accepted step.

The rows are the run record's (:mod:`fempde.solvers.record`): the same numbers
and the same certificate flags as ``Result.history`` and ``Result.certificates``.
The file is created whole (header, or the rows a resumed run keeps) and then
appended a flushed row at a time, never through a link (:mod:`fempde.atomic`);
an old history a resumed run reads back is parsed row by row, and one that is
not CSV is refused naming its line (:class:`~fempde.bounded.FileFormatError`).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO, Any

from ..atomic import csv_cell, open_append, owned_file, write_csv
from ..bounded import FileFormatError
from ..solvers.observers import Observer, RunInfo
from ..solvers.record import HISTORY_COLUMNS, RunRecord, history_row
from ..solvers.result import Result
from ..solvers.resume import ResumePoint
from ..solvers.step import Step

__all__ = ["COLUMNS", "CSVWriter"]

COLUMNS = ("step", *HISTORY_COLUMNS, "energy_increase", "flag")
"""The run record's columns (:data:`~fempde.solvers.record.HISTORY_COLUMNS`), with the
step's index, its free-energy increase and its certificate flag."""


class CSVWriter(Observer):
    """Scalar histories, one row per accepted step, flushed as written (a killed
    run leaves a valid file; numbers round-trip exactly). ``flag`` is ``ok`` or
    names the failed certificate; ``time_error`` and ``risk_time_error`` are the
    estimated global errors of ρ (L1) and of the risk from the time stepping. A run with ``estimate_space_error``
    also gets :attr:`space_error_path`, the spatial estimate per output time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: IO[str] | None = None
        self._writer: Any = None
        self._record: RunRecord | None = None

    @property
    def files(self) -> tuple[str, ...]:
        """The names this writer writes in its directory."""
        return self.path.name, self.space_error_path.name

    def start(self, info: RunInfo) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._record = info.record
        resumed = info.resumed_from
        kept = self._kept_rows(resumed) if resumed is not None and owned_file(self.path) else []
        write_csv(self.path, COLUMNS, kept)  # the header, and the rows up to the checkpoint
        self._file = open_append(self.path)
        self._writer = csv.writer(self._file, lineterminator="\n")

    def _kept_rows(self, resumed: ResumePoint) -> list[list[str]]:
        """The rows of the old history a resumed run keeps: one per step up to the
        checkpoint, in order, and the same numbers as the checkpoint's history (a
        killed run's partial last row, or rows after the checkpoint, are not kept)."""
        assert self._record is not None
        kept: list[list[str]] = []
        try:
            with self.path.open(newline="", encoding="utf-8") as old:
                for row in csv.reader(old):
                    if len(row) == len(COLUMNS) and row[0].isdigit() and resumed.keeps_row(int(row[0])):
                        if int(row[0]) != len(kept):
                            raise FileFormatError(self.path, "history", f"has step {row[0]} where step {len(kept)} "
                                                                        f"should be: edited or mixed with another run")
                        kept.append(row)
        except (csv.Error, UnicodeDecodeError) as err:
            raise FileFormatError(self.path, "history", f"is not a CSV history ({err})") from None
        if len(kept) != resumed.index + 1:
            raise FileFormatError(self.path, "history", f"has rows for {len(kept)} of the {resumed.index + 1} steps up "
                                                        f"to the checkpoint: truncated or edited; restore it, or start "
                                                        f"afresh")
        for row, recorded in zip(kept, self._record.rows, strict=True):
            try:
                same = all(float(cell) == value or (cell == "nan" and value != value)
                           for cell, value in zip(row[1:], recorded, strict=False))
            except ValueError:
                same = False
            if not same:
                raise FileFormatError(self.path, "history", f"row of step {row[0]} differs from the checkpoint's "
                                                            f"history: edited, or of another run")
        return kept

    def observe(self, step: Step) -> None:
        assert self._file is not None and self._record is not None
        flags = self._record.last_flags
        values = [csv_cell(v) for v in (step.index, *history_row(step), step.energy_increase)]
        self._writer.writerow([*values, "+".join(flags) or "ok"])
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
