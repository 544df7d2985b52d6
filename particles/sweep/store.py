"""The finished runs of a sweep on disk: :class:`ResultStore`.

One JSON file per run, ``runs/<stamp>/<run>.json`` in the sweep's directory,
written atomically as each result arrives: a sweep killed at any moment
leaves whole files or none, so the next start runs exactly what is missing.
``<stamp>`` hashes the settings every run shares (not the grid), so an edited
sweep writes beside the old results instead of mixing with them; the
settings themselves are kept in ``sweep.json`` there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fempde.atomic import atomic_write

from .schema import Sweep, run_name

__all__ = ["ResultStore"]


def _write_json(path: Path, data: dict[str, Any], **options: Any) -> None:
    text = json.dumps(data, sort_keys=True, **options)
    atomic_write(path, lambda tmp: tmp.write_text(text))


@dataclass(frozen=True)
class ResultStore:
    """The results of ``sweep``'s runs, one file each, in :attr:`directory`."""

    sweep: Sweep

    @property
    def directory(self) -> Path:
        return self.sweep.directory / "runs" / self.sweep.stamp

    def open(self) -> ResultStore:
        """Create the directory and record the shared settings in ``sweep.json``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        _write_json(self.directory / "sweep.json", {"crosscheck": self.sweep.crosscheck, "base": self.sweep.base},
                    indent=1)
        return self

    def path(self, params: dict[str, Any]) -> Path:
        """The result file of the run ``params``."""
        return self.directory / f"{run_name(params)}.json"

    def missing(self) -> list[dict[str, Any]]:
        """The runs of the grid without a result, in grid order."""
        return [p for p in self.sweep.runs() if not self.path(p).is_file()]

    def save(self, params: dict[str, Any], metrics: dict[str, float]) -> None:
        """Keep the result ``metrics`` of the run ``params`` (atomically)."""
        _write_json(self.path(params), {**params, **metrics})

    def rows(self) -> list[dict[str, Any]]:
        """Every stored result of the grid, ``params`` and metrics in one dict, in grid order."""
        return [json.loads(self.path(p).read_text()) for p in self.sweep.runs() if self.path(p).is_file()]
