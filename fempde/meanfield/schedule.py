"""Step-size schedules ξ(t): the factor in front of every mean-field PDE and
the SGD step ``s_k = ε ξ(kε)``. Defined once here for the PDE and the particles.

The PDE is autonomous in the rescaled time ``Ξ(t) = ∫_0^t ξ``, so the time
stepper uses the exact increment ``integral(t0, t1)`` rather than ``ξ`` at a
point; a singular but integrable ``ξ`` (``t^(-1/4)`` at ``t = 0``) is exact too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..checks import number

__all__ = ["Constant", "PowerLaw", "Schedule"]


@runtime_checkable
class Schedule(Protocol):
    """ξ(t) and its exact integral over a step."""

    def xi(self, t: float) -> float: ...

    def integral(self, t0: float, t1: float) -> float: ...


def _check(name: str, value: float, *, positive: bool = False) -> float:
    return number(f"schedule parameter {name}", value, positive=positive, minimum=0.0)


@dataclass(frozen=True)
class Constant:
    """ξ(t) = xi."""

    xi0: float = 1.0

    def __post_init__(self) -> None:
        _check("xi0", self.xi0, positive=True)

    def xi(self, t: float) -> float:
        return self.xi0

    def integral(self, t0: float, t1: float) -> float:
        return self.xi0 * (t1 - t0)


@dataclass(frozen=True)
class PowerLaw:
    """ξ(t) = xi0 · (t + t0)^(−alpha); ``t0 = 0`` needs ``alpha < 1`` to be integrable at 0."""

    xi0: float = 1.0
    alpha: float = 0.25
    t0: float = 0.0

    def __post_init__(self) -> None:
        _check("xi0", self.xi0, positive=True)
        _check("alpha", self.alpha)
        _check("t0", self.t0)
        if self.t0 == 0 and self.alpha >= 1:
            raise ValueError(
                f"PowerLaw with t0=0 and alpha={self.alpha} >= 1 is not integrable at t=0: "
                "give t0 > 0 or alpha < 1"
            )

    def xi(self, t: float) -> float:
        base = t + self.t0
        if base == 0:
            return math.inf if self.alpha > 0 else self.xi0
        return self.xi0 * base ** (-self.alpha)

    def integral(self, t0: float, t1: float) -> float:
        a, b = t0 + self.t0, t1 + self.t0
        if self.alpha == 1:
            return self.xi0 * math.log(b / a)
        q = 1.0 - self.alpha
        return self.xi0 * (b**q - a**q) / q
