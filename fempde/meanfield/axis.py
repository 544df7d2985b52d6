"""One time axis and one set of constants for the PDE and the SGD that matches it.

SGD runs ``k = 0, 1, ...`` with time ``t_k = kε`` and step

    s_k = ∫_{kε}^{(k+1)ε} ξ(t) dt  ( = ε ξ(kε) + O(ε²); exactly ε ξ for constant ξ ),

the exact integral so that a singular but integrable schedule (``t^{-1/4}``)
has a finite first step and the SGD's clock is the PDE's rescaled time
``Ξ(t) = ∫_0^t ξ`` (:mod:`fempde.meanfield.schedule`, used by the PDE stepper too).

The noise is derived from the PDE, not copied. The (noisy) SGD update

    w ← w − 2 s_k ∇Ψ(w; ρ) + sqrt(4 s_k τ) g,   g ~ N(0, I),

is Euler–Maruyama for ``dw = −2ξ ∇Ψ dt + sqrt(4ξτ) dB``: drift ``−2ξ∇Ψ`` and
noise variance ``4ξτ`` per unit time and coordinate. Its law solves the
Fokker–Planck equation with generator ``2ξ∇Ψ·∇ + ½·4ξτ Δ``:

    ∂_t ρ = 2ξ [ ∇·(ρ ∇Ψ) + τ Δρ ],

which is the PDE the library solves (for the porous-medium network
``Ψ → (ρ − f)/|Ω|`` as δ → 0, :class:`fempde.PorousMedium`). A noise
``sqrt(2 s_k τ)`` would give ``τ/2`` instead: the stationary law pins it (tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from ..checks import number
from .schedule import Constant, Schedule

__all__ = ["DRIFT", "TimeAxis", "check_lam_beta", "noise_scale", "temperature"]

DRIFT = 2.0
"""The factor in ``∂_t ρ = DRIFT · ξ [∇·(ρ∇Ψ) + τΔρ]`` and in the SGD step
``w ← w − DRIFT · s_k ∇Ψ + ...``: both sides read it from here."""


def noise_scale(step: NDArray[np.float64] | float, tau: float) -> NDArray[np.float64]:
    """Standard deviation ``sqrt(2 · DRIFT · s_k τ) = sqrt(4 s_k τ)`` of the per-step
    Gaussian noise: variance per unit time twice the diffusion coefficient ``DRIFT ξ τ``."""
    return np.sqrt(2.0 * DRIFT * np.asarray(step, dtype=np.float64) * tau)


def temperature(beta: float) -> float:
    """``τ = β⁻¹``, the diffusion coefficient of noisy DD (0 for ``β = ∞``, noiseless);
    a ``beta`` that is not a number > 0 raises ``ValueError``."""
    beta = number("beta (the inverse temperature)", beta, positive=True, infinite=True)
    return 0.0 if math.isinf(beta) else 1.0 / beta


def check_lam_beta(lam: float, beta: float, schedule: Schedule) -> None:
    """Validate the ridge penalty, the inverse temperature and the schedule of a DD
    problem or of its SGD (both sides call this, so their messages agree)."""
    number("lam (the ridge penalty λ)", lam, minimum=0.0)
    temperature(beta)  # checks beta
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must have xi(t) and integral(t0, t1), got {schedule!r}")


class HasSchedule(Protocol):
    """A mean-field problem: it carries the schedule ξ(t) of its PDE."""

    @property
    def schedule(self) -> Schedule: ...


@dataclass(frozen=True)
class TimeAxis:
    """SGD step ``k`` at time ``t = kε`` with step size ``s_k`` (module docstring)."""

    epsilon: float
    schedule: Schedule = field(default_factory=Constant)

    def __post_init__(self) -> None:
        object.__setattr__(self, "epsilon", number("epsilon (the SGD time step)", self.epsilon, positive=True))

    @classmethod
    def of(cls, problem: HasSchedule, epsilon: float) -> TimeAxis:
        """The SGD time axis of ``problem``'s PDE: its schedule, SGD step ``epsilon``
        (the one way to build both sides from one schedule)."""
        return cls(epsilon, problem.schedule)

    def time(self, k: int | NDArray[np.int64]) -> NDArray[np.float64]:
        return np.asarray(k, dtype=np.float64) * self.epsilon

    def steps_until(self, t: float) -> int:
        """The number of SGD steps that reach time ``t`` (``t`` rounded to the grid)."""
        return int(round(t / self.epsilon))

    def step_sizes(self, k0: int, k1: int) -> NDArray[np.float64]:
        """``s_k`` for ``k0 <= k < k1``."""
        if isinstance(self.schedule, Constant):  # every step the same: no per-step calls
            return np.full(k1 - k0, self.schedule.integral(0.0, self.epsilon))
        k = np.arange(k0, k1 + 1, dtype=np.float64) * self.epsilon
        return np.array([self.schedule.integral(a, b) for a, b in zip(k[:-1], k[1:], strict=True)])
