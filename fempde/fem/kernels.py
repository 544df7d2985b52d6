"""Compactly supported bumps ``K ≥ 0`` with ``∫K = 1`` in any dimension, and
their scaled versions ``K^δ(x) = δ^{-d} K(x/δ)`` (Javanmard–Mondelli–Montanari).

Both kernels are radial polynomials of ``s = |x|²`` on the unit ball,
``K(x) = c_{d,p} (1 − |x|²)^p_+``, normalised by
``∫_{B_1} (1 − |x|²)^p dx = π^{d/2} Γ(p + 1) / Γ(d/2 + p + 1)``:

* ``"epanechnikov"``: ``p = 1`` (continuous, kinked at the rim);
* ``"triweight"``: ``p = 3`` (``C²``: its gradient is smooth, what SGD differentiates).

The particles' compiled loops evaluate the same formula from ``(p, c_{d,p})``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..checks import choice, integer, number

__all__ = ["KERNELS", "Kernel", "kernel"]

Array = NDArray[np.float64]

KERNELS = {"epanechnikov": 1, "triweight": 3}


@dataclass(frozen=True)
class Kernel:
    """``K^δ`` in ``dim`` dimensions; ``x`` has shape ``(dim, n)``."""

    name: str
    dim: int
    delta: float

    def __post_init__(self) -> None:
        choice("kernel", self.name, tuple(KERNELS))
        integer("kernel dimension", self.dim, maximum=3)
        number("delta (the bump width)", self.delta, positive=True)

    @property
    def power(self) -> int:
        return KERNELS[self.name]

    @property
    def constant(self) -> float:
        """``c_{d,p} δ^{-d}``: the value of ``K^δ`` at 0."""
        p, d = self.power, self.dim
        unit_ball_integral = math.pi ** (d / 2) * math.gamma(p + 1) / math.gamma(d / 2 + p + 1)
        return 1.0 / (unit_ball_integral * self.delta**d)

    def __call__(self, x: Array) -> Array:
        s = np.sum(np.asarray(x) ** 2, axis=0) / self.delta**2
        return self.constant * np.maximum(1.0 - s, 0.0) ** self.power

    def gradient(self, x: Array) -> Array:
        """``∇K^δ(x) = −2p c (1 − s)^{p−1} x / δ²``, shape ``(dim, n)``."""
        x = np.asarray(x)
        s = np.sum(x**2, axis=0) / self.delta**2
        inside = np.maximum(1.0 - s, 0.0)
        p = self.power
        factor = -2.0 * p * self.constant * np.where(s < 1.0, inside ** (p - 1), 0.0) / self.delta**2
        return factor * x


def kernel(name: str, dim: int, delta: float) -> Kernel:
    """The kernel called ``name`` (see :data:`KERNELS`)."""
    return Kernel(name, dim, delta)
