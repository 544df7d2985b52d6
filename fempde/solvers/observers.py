"""Observers attached to a run: the base class, progress, steady-state stop.

An observer sees every accepted :class:`~fempde.solvers.step.Step`, after
the run's :class:`~fempde.solvers.record.RunRecord` has; returning ``True``
from :meth:`Observer.observe` stops the run cleanly. Writers of files live in
:mod:`fempde.io`, never in the solver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..checks import number
from .record import RunRecord
from .result import Result
from .resume import ResumePoint
from .step import Step
from .system import GradientFlowSystem

__all__ = ["Observer", "ProgressBar", "RunInfo", "SteadyState"]


@dataclass(frozen=True)
class RunInfo:
    """What an observer learns when the run starts."""

    system: GradientFlowSystem
    t_end: float
    times: tuple[float, ...]
    record: RunRecord
    """The run's record: history and certificate flags, the current step's included."""
    resumed_from: ResumePoint | None = None
    """Where a resumed run continues (None for a new run)."""


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
        self.tol = number("SteadyState tol", tol, positive=True)
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
