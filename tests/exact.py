"""Exact solutions the validation suite compares against."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Barenblatt:
    """Barenblatt solution (m = 2) of ``∂_t ρ = κ Δ(ρ²)`` with mass 1, centred at 0:

    ``ρ(x, t) = s^{-α} (C − k |x|² s^{-2β})_+``, ``s = κ t``, ``α = d/(d+2)``,
    ``β = 1/(d+2)``, ``k = 1/(4(d+2))``; the support has radius ``sqrt(C/k) s^β``.

    fempde's porous-medium flow with ``f = 0``, ``τ = 0``, ``ξ = 1`` is this with
    ``κ = 1/|Ω|`` (``2ξ/|Ω| ∇·(ρ∇ρ) = (1/|Ω|) Δ(ρ²)``) while the support stays inside Ω.
    """

    dim: int
    kappa: float

    @property
    def alpha(self) -> float:
        return self.dim / (self.dim + 2)

    @property
    def beta(self) -> float:
        return 1.0 / (self.dim + 2)

    @property
    def k(self) -> float:
        return 1.0 / (4 * (self.dim + 2))

    @property
    def C(self) -> float:
        sphere = 2 * math.pi ** (self.dim / 2) / math.gamma(self.dim / 2)  # |S^{d-1}|
        d = self.dim
        return (d * (d + 2) / (2 * sphere) * self.k ** (d / 2)) ** (1 / (1 + d / 2))

    def front(self, t: float) -> float:
        return math.sqrt(self.C / self.k) * (self.kappa * t) ** self.beta

    def time_of_front(self, radius: float) -> float:
        return (radius / math.sqrt(self.C / self.k)) ** (1 / self.beta) / self.kappa

    def __call__(self, x: NDArray[np.float64], t: float) -> NDArray[np.float64]:
        s = self.kappa * t
        r2 = np.sum(x**2, axis=0)
        return s ** (-self.alpha) * np.maximum(self.C - self.k * r2 * s ** (-2 * self.beta), 0.0)


def fitted_rate(h: NDArray[np.float64] | list[float], err: NDArray[np.float64] | list[float]) -> float:
    """Slope of log(err) against log(h) (least squares)."""
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])


@dataclass(frozen=True)
class CosineField:
    """``c0 + Σ_k a_k Π_d cos(π n_kd x_d)`` on the unit box: zero normal derivative
    on its walls. Gives the value, gradient ``(dim, n)`` and Laplacian."""

    c0: float
    terms: tuple[tuple[float, tuple[int, ...]], ...]

    def value(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.full(x.shape[1], self.c0)
        for a, n in self.terms:
            out += a * np.prod([np.cos(np.pi * nk * xk) for nk, xk in zip(n, x, strict=True)], axis=0)
        return out

    def grad(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.zeros_like(x)
        for a, n in self.terms:
            for d in range(x.shape[0]):
                factors = [
                    -np.pi * nk * np.sin(np.pi * nk * xk) if k == d else np.cos(np.pi * nk * xk)
                    for k, (nk, xk) in enumerate(zip(n, x, strict=True))
                ]
                out[d] += a * np.prod(factors, axis=0)
        return out

    def laplacian(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.zeros(x.shape[1])
        for a, n in self.terms:
            out -= a * np.pi**2 * sum(nk**2 for nk in n) * np.prod(
                [np.cos(np.pi * nk * xk) for nk, xk in zip(n, x, strict=True)], axis=0
            )
        return out


@dataclass(frozen=True)
class BallField:
    """``c0 + a (r² − r⁴/2) + (b·x)(3 − r²)`` on the unit ball (``b`` a 3-vector): both
    parts have zero normal derivative on the sphere (``∂_r(r² − r⁴/2) = 2r − 2r³``,
    ``∂_r(r cos θ (3 − r²)) = cos θ (3 − 3r²)``). Value, gradient ``(3, n)``, Laplacian."""

    c0: float
    a: float
    b: tuple[float, float, float]

    def value(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        r2 = np.sum(x**2, axis=0)
        return self.c0 + self.a * (r2 - r2**2 / 2) + (np.asarray(self.b) @ x) * (3 - r2)

    def grad(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        r2, b = np.sum(x**2, axis=0), np.asarray(self.b)
        return self.a * (2 - 2 * r2) * x + b[:, None] * (3 - r2) - 2 * x * (b @ x)

    def laplacian(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        # Δ(r² − r⁴/2) = 6 − 10 r² and Δ((b·x)(3 − r²)) = −10 b·x in 3-D
        return self.a * (6 - 10 * np.sum(x**2, axis=0)) - 10 * (np.asarray(self.b) @ x)


def porous_medium_source(rho: CosineField, f: CosineField, tau: float, volume: float):
    """``S`` such that ``rho`` is a steady state of
    ``∂_t ρ = 2[(1/|Ω|) ∇·(ρ∇(ρ − f)) + τΔρ] + S`` (ξ = 1)."""

    def source(x: NDArray[np.float64], t: float = 0.0) -> NDArray[np.float64]:
        grad_g = rho.grad(x) - f.grad(x)
        lap_g = rho.laplacian(x) - f.laplacian(x)
        div = np.sum(rho.grad(x) * grad_g, axis=0) + rho.value(x) * lap_g
        return -2.0 * (div / volume + tau * rho.laplacian(x))

    return source
