"""Exact discrete steady states of the porous-medium flow (README, "Numerics").

A steady state of the scheme has zero flux on every edge, i.e. a constant
chemical potential on the support: with ``a = τ|Ω|``,

* ``τ = 0``: ``ρ = (f − c)_+``;
* ``τ > 0``: ``ρ + a log ρ = f + c``, i.e. ``ρ = a ω((f + c)/a − log a)`` with
  Wright's omega ``ω`` (``ω + log ω = z``);

``c`` is fixed by the discrete mass ``Σ m_i ρ_i = 1``. These hold at the nodes
exactly, so a converged run reproduces them to round-off.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq
from scipy.special import wrightomega

from ..fem.space import Space
from .porous_medium import PorousMedium

__all__ = ["steady_state"]


def steady_state(problem: PorousMedium, space: Space, mass: float = 1.0) -> NDArray[np.float64]:
    """Nodal values of the steady state of ``problem`` with the given mass."""
    f = space.interpolate(problem.target, "target f")
    a = problem.tau * space.volume
    if a == 0:
        def profile(c: float) -> NDArray[np.float64]:
            return np.maximum(f - c, 0.0)
    else:
        def profile(c: float) -> NDArray[np.float64]:
            return a * np.real(wrightomega((f + c) / a - np.log(a)))

    def excess(c: float) -> float:
        return space.integrate(profile(c)) - mass

    # mass is increasing in c for τ > 0 and decreasing for τ = 0: bracket both ways.
    sign = -1.0 if a == 0 else 1.0
    lo = -float(np.abs(f).max()) - mass / space.volume - 1.0
    hi = float(np.abs(f).max()) + mass / space.volume + 1.0
    while sign * excess(lo) > 0:
        lo = 2 * lo - 1
    while sign * excess(hi) < 0:
        hi = 2 * hi + 1
    c = brentq(excess, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    return profile(c)
