"""Files that are either absent, the old version or the new one, never half-written.

Every file fempde and particles write whole goes through :func:`atomic_write`:
the content is written under a temporary name beside the target, then renamed
over it (``os.replace`` is atomic on POSIX and Windows), so a run killed at any
moment — or a full disk — leaves each file complete. The one file written as
it grows, a run's ``history.csv``, is appended a flushed row at a time (a killed
run leaves whole rows) and rewritten through :func:`write_csv` on resume.
:func:`write_csv` and :func:`csv_cell` are the one CSV convention: a header row,
then rows, floats as ``repr`` (round-trip exact).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_write", "csv_cell", "temporary_path", "write_csv"]


def temporary_path(path: Path) -> Path:
    """The temporary name for ``path``: hidden, beside it, same suffix (some
    writers choose the format from the suffix)."""
    return path.with_name(f".{path.stem}.tmp{path.suffix}")


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` and rename ``tmp`` to ``path``; on any error the
    temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    tmp = temporary_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def csv_cell(value: Any) -> str:
    """One CSV field in the convention of :func:`write_csv` (floats by ``repr``, exact)."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        return repr(float(value))  # round-trip exact, and np.float64(0.1) as 0.1
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def write_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Write a CSV file atomically: ``header``, then ``rows`` (floats as ``repr``)."""
    rows = [list(r) for r in rows]
    for k, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"CSV row {k} has {len(row)} fields, the header {len(header)}: {list(header)}")

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as file:
            out = csv.writer(file, lineterminator="\n")
            out.writerow(header)
            out.writerows([csv_cell(v) for v in row] for row in rows)

    return atomic_write(path, write)
