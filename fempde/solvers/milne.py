"""The local error of a step, by Milne's device, and its size against the tolerance.

The solution ``ρ_c`` of a step is compared with the polynomial extrapolation
``ρ_p`` of the accepted past (linear for implicit Euler, quadratic for BDF2; the
first step uses an explicit-Euler predictor from the residual): the local
error — what the step misses, the exact value minus ``ρ_c`` — is
``e = C_c/(C_p − C_c) (ρ_c − ρ_p)`` with the error constants of both on the
actual step sizes (:func:`milne_factor`). Its size ``E``
(:func:`error_ratio`) is the larger of two ratios: the mass-weighted L1 norm
relative to the density, ``Σ m_i |e_i| / (rtol (Σ m_i |ρ_i| + atol |Ω|))``, and
the error it causes in the risk relative to the risk,
``|R(ρ) − R(ρ − e)| / (rtol (|R| + atol))`` — the risk curve is what a
cross-check compares, and it may decay by orders of magnitude, so its relative
accuracy is controlled too. The controller (:mod:`fempde.solvers.control`)
accepts a step with ``E <= 1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from .system import GradientFlowSystem

__all__ = ["Predicting", "error_ratio", "local_error", "milne_factor", "predict"]

Array = NDArray[np.float64]


class Predicting(Protocol):
    """A step's scheme as Milne's device sees it (:mod:`fempde.solvers.schemes`)."""

    def predict(self, system: GradientFlowSystem, t_new: float) -> Array: ...

    def milne_factor(self) -> float: ...


def local_error(scheme: Predicting, system: GradientFlowSystem, rho: Array, t_new: float) -> Array:
    """The local error of a step to ``t_new`` taken with ``scheme`` that gave ``rho``."""
    return scheme.milne_factor() * (rho - scheme.predict(system, t_new))


def milne_factor(k: float, past_dt: Sequence[float], scheme: str) -> float:
    """``C_c / (C_p − C_c)``: the local error of a step of size ``k`` is this
    times ``ρ_c − ρ_p`` (module docstring). ``past_dt`` are the previous step
    sizes, newest first; the constants are those of ``(t − t_n)^{q}/q!`` with
    ``q`` = the order + 1, on the actual steps.

    Implicit Euler (``"euler"``, ``q = 2``; linear predictor through ``t_n, t_{n−1}``,
    or explicit Euler when ``past_dt`` is empty): ``C_c = −k²/2``,
    ``C_p = k(k + k₁)/2`` (``k²/2`` for explicit Euler). BDF2 (``"bdf2"``, ``q = 3``;
    quadratic predictor through ``t_n, t_{n−1}, t_{n−2}``): ``C_p = k(k + k₁)(k + k₁ + k₂)/6``
    and ``C_c`` from the scheme applied to ``(t − t_n)³/6``. For constant steps
    these give ``−1/3`` and ``−2/11``.
    """
    if scheme == "euler":
        c_c = -0.5 * k * k
        c_p = 0.5 * k * (k + past_dt[0]) if past_dt else 0.5 * k * k
        return c_c / (c_p - c_c)
    k1, k2 = past_dt[0], past_dt[1]
    w = k / k1
    c_p = k * (k + k1) * (k + k1 + k2) / 6
    c_c = k**3 / 6 - w * w * k1**3 / (6 * (1 + 2 * w)) - k * (1 + w) / (1 + 2 * w) * k * k / 2
    return c_c / (c_p - c_c)


def predict(rho: Array, past: tuple[Array, ...], k: float, past_dt: Sequence[float], order: int) -> Array:
    """The polynomial through ``(t_n, ρ)`` and ``order`` past states (newest first,
    ``past_dt`` the steps between them), at ``t_n + k``."""
    if order == 1:
        return rho + (k / past_dt[0]) * (rho - past[0])
    k1, k2 = past_dt[0], past_dt[1]
    # Newton's divided differences on t_n, t_{n-1} = t_n − k1, t_{n-2} = t_n − k1 − k2
    d1 = (rho - past[0]) / k1
    d1_old = (past[0] - past[1]) / k2
    d2 = (d1 - d1_old) / (k1 + k2)
    return rho + k * d1 + k * (k + k1) * d2


def error_ratio(system: GradientFlowSystem, rho: Array, risk: float, error: Array, rtol: float | None,
                atol: float) -> float:
    """``E`` of a step that gave ``rho`` (of risk ``risk``) with local error ``error``
    (module docstring); without control (``rtol=None``) against ``rtol = 1``."""
    space = system.space
    m = space.m
    error_l1 = float(m @ np.abs(error))
    risk_local = abs(risk - system.risk(rho - error))
    risk_scale = abs(risk) + atol
    tolerance = rtol if rtol is not None else 1.0
    density_scale = tolerance * (float(m @ np.abs(rho)) + atol * space.volume)
    return max(error_l1 / density_scale if density_scale > 0 else 0.0,
               risk_local / (tolerance * risk_scale) if risk_scale > 0 else 0.0)
