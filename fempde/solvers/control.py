"""Choosing the next step size: a PI controller on the error estimate, or growth on easy Newton solves.

Under error control (``rtol`` given) :class:`PIController` picks the step after
an accepted one from its error ratio ``E`` and the previous one (Gustafsson
1991; Hairer–Wanner II, IV.8: ``k E^{−0.7/q} E_prev^{0.4/q}`` with a safety
factor, ``q`` the order of the estimate), within ``[0.2, 5]`` times the last (at
most 1 right after a rejection), and shrinks a rejected step by ``E^{−1/q}``.
Without control, :class:`NewtonGrowth` grows the step by 1.5 after an easy
Newton solve. Either way :func:`bounded` caps the step after a hard Newton solve
and keeps it within ``[dt_min, dt_max]``. A new controller is one class beside
these, with ``rejects``, ``retry`` and ``next``.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Controller", "NewtonGrowth", "PIController", "bounded"]

_SAFETY = 0.9
_PI_CURRENT, _PI_PREVIOUS = 0.7, 0.4
_GROW_MAX, _SHRINK_MIN = 5.0, 0.2
_TINY = 1e-10  # error ratios are floored here (an exact step would give 0)


class Controller(Protocol):
    """What the stepper asks about step sizes."""

    def rejects(self, ratio: float) -> bool:
        """Whether a step with error ratio ``ratio`` is rejected."""
        ...

    def retry(self, k: float, ratio: float, order: int) -> float:
        """The size to retry a rejected step of size ``k`` with."""
        ...

    def next(self, k: float, proposal: float, ratio: float, order: int, iterations: int,
             after_rejection: bool) -> float:
        """The step to try after an accepted one of size ``k``, taken when ``proposal``
        was asked for (``k < proposal``: cut short to land on an output time)."""
        ...


class PIController:
    """Gustafsson's PI controller (module docstring); ``previous`` is the last
    accepted step's error ratio (1 before the first)."""

    def __init__(self, previous: float = 1.0) -> None:
        self.previous = previous

    def rejects(self, ratio: float) -> bool:
        return ratio > 1.0

    def retry(self, k: float, ratio: float, order: int) -> float:
        return k * max(_SHRINK_MIN, _SAFETY * ratio ** (-1.0 / order))

    def next(self, k: float, proposal: float, ratio: float, order: int, iterations: int,
             after_rejection: bool) -> float:
        current = max(ratio, _TINY)
        factor = _SAFETY * current ** (-_PI_CURRENT / order) * self.previous ** (_PI_PREVIOUS / order)
        dt = k * min(max(factor, _SHRINK_MIN), 1.0 if after_rejection else _GROW_MAX)
        if k < proposal and dt < proposal:  # a step cut short to land on a mark says little about the next
            dt = min(proposal, max(dt, k))
        self.previous = max(ratio, _TINY)
        return dt


class NewtonGrowth:
    """No error control: grow the step by 1.5 after a Newton solve of at most 4 iterations."""

    def rejects(self, ratio: float) -> bool:
        return False

    def retry(self, k: float, ratio: float, order: int) -> float:
        return k

    def next(self, k: float, proposal: float, ratio: float, order: int, iterations: int,
             after_rejection: bool) -> float:
        return 1.5 * proposal if iterations <= 4 else proposal


def bounded(dt: float, k: float, iterations: int, dt_min: float, dt_max: float) -> float:
    """``dt`` at most ``0.7 k`` after a hard Newton solve (more than 10 iterations),
    and within ``[dt_min, dt_max]``."""
    if iterations > 10:
        dt = min(dt, 0.7 * k)
    return max(min(dt, dt_max), dt_min)
