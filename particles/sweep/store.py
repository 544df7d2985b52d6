"""The finished cross-checks of a sweep on disk: :class:`ResultStore`.

One directory per sweep, ``runs/<stamp>/`` in the sweep's output directory
(``<stamp>``: a hash of the cross-check file and the swept key, so an edited
sweep writes beside the old results instead of mixing with them). For each
value of the swept parameter, ``value_<v>.json`` holds the finished
cross-check's rows (one per run) and slopes, written atomically once it is
done; ``checkpoints/value_<v>/`` holds its SGD runs' checkpoints while it runs.
A sweep started again skips the values with a result and resumes the others'
runs from their checkpoints.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fempde.atomic import atomic_write

from ..crosscheck import CrossCheck
from .schema import Sweep

__all__ = ["ResultStore", "value_label"]


def value_label(value: Any) -> str:
    """The file-name form of a parameter value (``"all"`` when none is swept)."""
    return "all" if value is None else f"{value:.6g}"


@dataclass(frozen=True)
class ResultStore:
    """The results of ``sweep``'s cross-checks, one file per parameter value, in :attr:`directory`."""

    sweep: Sweep

    @property
    def directory(self) -> Path:
        return self.sweep.directory / "runs" / self.sweep.stamp

    def open(self) -> ResultStore:
        """Create the directory and record the shared settings in ``sweep.json``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        settings = {"scenario": self.sweep.scenario, "parameter": self.sweep.parameter}
        atomic_write(self.directory / "sweep.json", lambda tmp: tmp.write_text(json.dumps(settings, indent=1)))
        return self

    def path(self, value: Any) -> Path:
        return self.directory / f"value_{value_label(value)}.json"

    def checkpoints(self, value: Any) -> Path:
        return self.directory / "checkpoints" / f"value_{value_label(value)}"

    def missing(self) -> list[Any]:
        """The parameter values without a result, in order."""
        return [v for v in self.sweep.points if not self.path(v).is_file()]

    def save(self, value: Any, check: CrossCheck) -> None:
        """Keep the rows and slopes of the finished cross-check at ``value`` (atomically)."""
        record = {"value": value, "rows": check.table(), "slopes": [asdict(s) for s in check.slopes()],
                  "resolved": check.resolved("risk") is not False, "limit": check.limit.describe(),
                  "warnings": check.warnings()}
        text = json.dumps(record, sort_keys=True)
        atomic_write(self.path(value), lambda tmp: tmp.write_text(text))

    def results(self) -> list[dict[str, Any]]:
        """Every stored result of the sweep, in the parameter's order."""
        return [json.loads(self.path(v).read_text()) for v in self.sweep.points if self.path(v).is_file()]
