"""The population moments of a weighted set of units, and the risks made of them.

For units ``θ_i`` with weights ``v_i`` every risk here is a combination of

    E y²,   E[y σ*(x; θ_i)] = −V(θ_i),   U(θ_i, θ_i),   Σ_ij v_i v_j U(θ_i, θ_j),

which each method (:mod:`fempde.model.risk`) computes: :class:`Moments` holds
them, and :meth:`Moments.risk` and :meth:`Moments.expected_risk` are the one
place where they are combined. A method's error comes one of two ways: bounds
on each moment (the exact methods), or the same moments by a refined rule
(``refined``: the quadratures), whose combination's difference is the error
estimate; the terms of a risk nearly cancel where the network fits the data,
and so do the rule's errors in them, so the difference of risks is the estimate,
not the sum of the moments' differences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["ROUND_OFF", "Moments", "RiskValue"]

Array = NDArray[np.float64]

ROUND_OFF = 64 * float(np.finfo(np.float64).eps)
"""The round-off allowance in every stated error, relative to the sizes of the terms summed."""


@dataclass(frozen=True)
class RiskValue:
    """A population risk ``E(y − ŷ)²`` with its error.

    ``value`` includes the label-noise variance ``noise`` (part of ``E y²``; the Bayes risk
    of the data law); :attr:`excess` is the rest. ``error`` bounds ``|value − exact|`` when
    ``bounded``, else estimates it (from a refined rule); ``method`` says how ``value``
    was computed."""

    value: float
    error: float
    method: str
    noise: float
    bounded: bool

    @property
    def excess(self) -> float:
        """``value − noise``: the risk above the label noise's."""
        return self.value - self.noise


@dataclass(frozen=True)
class Moments:
    """The moments of units ``θ`` ``(P, D)`` with weights ``weights`` ``(P,)`` (module docstring).

    ``second`` = ``E y²`` (label noise included, ``noise`` of it), ``linear`` ``(P,)`` =
    ``E[y σ*(x; θ_i)]``, ``diagonal`` ``(P,)`` = ``U(θ_i, θ_i)``, ``quadratic`` =
    ``Σ_ij v_i v_j U(θ_i, θ_j)``. Either the ``*_error`` fields bound each (``bounded``), or
    ``refined`` holds the same moments by a refined rule (then the errors are estimates)."""

    weights: Array
    second: float
    noise: float
    linear: Array
    diagonal: Array
    quadratic: float
    method: str
    bounded: bool
    linear_error: Array | None = None
    diagonal_error: Array | None = None
    quadratic_error: float = 0.0
    refined: Moments | None = None

    def _round_off(self, scale: float) -> float:
        v = np.abs(self.weights)
        size = self.second + 2 * scale * float(v @ np.abs(self.linear))
        return ROUND_OFF * (size + (scale * float(v @ np.sqrt(np.abs(self.diagonal)))) ** 2)

    def _value(self) -> float:
        return self.second - 2 * float(self.weights @ self.linear) + self.quadratic

    def _expected(self, n: int, scale: float) -> float:
        v = self.weights
        return (self.second - 2 * scale * float(v @ self.linear)
                + scale**2 * (float(v @ self.diagonal) / n + (1 - 1 / n) * self.quadratic))

    def _bound(self, linear: float, diagonal: float, quadratic: float) -> float:
        v = np.abs(self.weights)
        lin = 0.0 if self.linear_error is None else float(v @ self.linear_error)
        diag = 0.0 if self.diagonal_error is None else float(v @ self.diagonal_error)
        return linear * lin + diagonal * diag + quadratic * self.quadratic_error

    def risk(self) -> RiskValue:
        """``E y² − 2 Σ v_i E[y σ*_i] + Σ_ij v_i v_j U_ij``: the risk of ``ŷ = Σ_i v_i σ*(x; θ_i)``."""
        value = self._value()
        error = self._round_off(1.0) + (self._bound(2.0, 0.0, 1.0) if self.refined is None
                                        else abs(value - self.refined._value()))
        return RiskValue(value, error, self.method, self.noise, self.bounded)

    def expected_risk(self, n: int, scale: float) -> RiskValue:
        """``E R_n`` for ``ŷ = (scale/n) Σ_{k<=n} σ*(x; θ_k)``, ``θ_k`` i.i.d. from
        ``ρ = Σ_i v_i δ_{θ_i}`` (``weights`` = ``v``, probabilities):
        ``E y² − 2 scale ∫E[y σ*]ρ + scale² [(1/n) ∫U(θ, θ)ρ + (1 − 1/n) ∬Uρρ]``, i.e. for
        ``scale = 1`` the limit's ``R(ρ)`` plus the self-interaction ``(1/n)(∫U(θ,θ)ρ − ∬Uρρ)``."""
        value = self._expected(n, scale)
        error = self._round_off(scale) + (
            self._bound(2.0 * scale, scale**2 / n, scale**2 * (1 - 1 / n)) if self.refined is None
            else abs(value - self.refined._expected(n, scale)))
        return RiskValue(value, error, self.method, self.noise, self.bounded)
