"""Landing on output times: the steps end exactly on each output time and on ``t_end``.

:class:`OutputTimes` cuts a proposed step short where it would pass the next
output time, stretches it where it would leave a sliver before one, and says
when a step has reached one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..checks import number

__all__ = ["OutputTimes"]

_SLIVER = 1e-9  # relative to the step: a step ending this close before an output time lands on it


class OutputTimes:
    """The output times ``times`` and ``t_end`` of a run now at time ``t``."""

    def __init__(self, times: Sequence[float], t_end: float, t: float = 0.0) -> None:
        marks = np.unique(np.append([number(f"times[{k}]", s) for k, s in enumerate(times)], t_end))
        if marks[0] <= 0 or marks[-1] > t_end:
            raise ValueError(f"output times must lie in (0, t_end={t_end}], got {list(times)}")
        self.marks = marks
        self._next = int(np.searchsorted(marks, t, side="right"))

    @property
    def target(self) -> float:
        """The next output time."""
        return float(self.marks[self._next])

    def land(self, t: float, dt: float) -> float:
        """Where a step of size ``dt`` from ``t`` ends: at most the next output time."""
        target = self.target
        t_new = min(t + dt, target)
        if target - t_new < _SLIVER * dt:  # don't leave a sliver before an output time
            t_new = target
        return t_new

    def reached(self, t: float) -> bool:
        """Whether an accepted step ending at ``t`` is at an output time (then the next one is aimed at)."""
        if t != self.target:
            return False
        self._next += 1
        return True
