"""The explicit stepper: second-order Runge–Kutta–Chebyshev (RKC2) on the edge fluxes, compiled.

Where the step that accuracy allows is far above explicit Euler's stability
limit (diffusion: ``K ≤ 2/λ``, ``λ ~ 8(ρ + τ)/h²``) but the flow is smooth,
a stabilised explicit method reaches it without a Newton solve: RKC2 with
``s`` stages is stable for ``Kλ ≤ β(s) ≈ 0.65 s²`` (Sommeijer, Shampine &
Verwer, J. Comput. Appl. Math. 88, 1998; damping ``ε = 2/13``), so a step
costs ``s ∝ √(Kλ)`` evaluations of the right-hand side, each one compiled
pass over the edges (:func:`fempde.fem.flux.rate`). The whole step — every
stage — is one compiled call.

What it keeps, and how:

* **mass** — each stage is an affine combination of states (coefficients
  summing to 1) plus multiples of the right-hand side, whose mass is zero
  (antisymmetric fluxes): exact to round-off (``Σ m ρ`` drifts by ~1e-16 per
  step, the certificate's 1e-12 holds);
* **ρ ≥ 0 and the free-energy decay** are *not* proved for ``s`` stages (the
  Chebyshev polynomial is not absolutely monotonic beyond a radius of order 1):
  they are checked on every step, and a step with a negative density or a
  free energy above the last one's (beyond round-off, as for BDF2) is taken
  again by implicit Euler, for which both are proved
  (:func:`~fempde.solvers.schemes.attempt`); so they hold for every accepted
  step, and each step says which scheme took it (``Step.scheme``; ``Result.schemes`` counts them);
* **stability** — the stage count comes from a Gershgorin bound ``λ`` of the
  right-hand side's Jacobian at the step's start (computed in the same pass
  as the right-hand side there, so it costs nothing extra), times
  :data:`SAFETY` for its change within the step: ``s = 1 + ⌊√(1 + 1.54 K λ)⌋``
  (the rule of Sommeijer et al.'s code, ``β(s) ≥ Kλ``), at most :data:`MAX_STAGES`;
* **error** — the embedded estimate of RKC2,
  ``e = 0.8 (ρ_n − ρ_{n+1}) + 0.4 K (F_n + F_{n+1})``, of order ``K³`` like
  BDF2's, goes to the same error norm and PI controller as the implicit
  schemes (:mod:`fempde.solvers.milne`, :mod:`fempde.solvers.control`);
  ``F_{n+1}`` is the next step's ``F_n`` (first same as last). Without a
  Jacobian the global error is carried forward unchanged (the sum of the
  local errors: an upper bound where the flow contracts in L1, as the
  porous-medium flow does), not by :mod:`fempde.solvers.propagation`'s
  linearised step.

It applies to flows whose potential is local and affine and that have no
source (the porous-medium flow: the system's ``edge_form``); elsewhere the
stepper refuses ``scheme="rkc"`` and ``"auto"`` takes the implicit schemes.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numba
import numpy as np
from numpy.typing import NDArray

from ..fem.flux import EdgeForm, rate, rate_and_bound

__all__ = ["MAX_STAGES", "SAFETY", "Explicit", "ExplicitStep", "coefficients", "stages_for", "stability_limit"]

Array = NDArray[np.float64]

DAMPING = 2.0 / 13.0
"""RKC's ``ε``: the stability polynomial is shifted by ``ε/s²`` off −1, which damps the stiff modes."""
MAX_STAGES = 250
"""The most stages a step takes (beyond, the step is cut: the cost of a step grows as ``√K``,
and implicit steps are cheaper long before)."""
SAFETY = 1.1
"""The Gershgorin bound at the step's start, times this: the bound at its end may be larger."""


class Coefficients(NamedTuple):
    """RKC2's ``μ_j, ν_j, μ̃_j, γ̃_j`` for ``j = 0..s`` (entries 0, and 1 of ``μ, ν, γ̃``, unused)."""

    mu: Array
    nu: Array
    mu_tilde: Array
    gamma_tilde: Array


@functools.lru_cache(maxsize=MAX_STAGES)
def coefficients(s: int) -> Coefficients:
    """The coefficients of the ``s``-stage RKC2 (Sommeijer, Shampine & Verwer 1998, eqs. 2.5–2.8):
    Chebyshev polynomials ``T_j`` at ``w0 = 1 + ε/s²``, ``b_j = T_j''(w0)/T_j'(w0)²``."""
    if s < 2:
        raise ValueError(f"RKC2 needs at least 2 stages, got {s}")
    w0 = 1.0 + DAMPING / s**2
    root = math.sqrt(w0 * w0 - 1.0)
    argument = s * math.log(w0 + root)
    w1 = math.sinh(argument) * (w0 * w0 - 1.0) / (math.cosh(argument) * s * root - w0 * math.sinh(argument))
    t, dt, ddt = np.zeros(s + 1), np.zeros(s + 1), np.zeros(s + 1)
    t[0], t[1], dt[1] = 1.0, w0, 1.0
    for j in range(2, s + 1):
        t[j] = 2 * w0 * t[j - 1] - t[j - 2]
        dt[j] = 2 * t[j - 1] + 2 * w0 * dt[j - 1] - dt[j - 2]
        ddt[j] = 4 * dt[j - 1] + 2 * w0 * ddt[j - 1] - ddt[j - 2]
    b = np.empty(s + 1)
    b[2:] = ddt[2:] / dt[2:] ** 2
    b[0] = b[1] = b[2]
    mu, nu, mu_tilde, gamma_tilde = np.zeros(s + 1), np.zeros(s + 1), np.zeros(s + 1), np.zeros(s + 1)
    mu_tilde[1] = b[1] * w1
    for j in range(2, s + 1):
        mu[j] = 2 * w0 * b[j] / b[j - 1]
        nu[j] = -b[j] / b[j - 2]
        mu_tilde[j] = 2 * w1 * b[j] / b[j - 1]
        gamma_tilde[j] = -(1.0 - b[j - 1] * t[j - 1]) * mu_tilde[j]
    return Coefficients(mu, nu, mu_tilde, gamma_tilde)


def stages_for(k: float, bound: float) -> int:
    """The stages a step of ``k`` (in Ξ) needs where the Jacobian's spectral radius is at most ``bound``."""
    return max(2, 1 + int(math.sqrt(1.0 + 1.54 * k * SAFETY * bound)))


def stability_limit(bound: float, stages: int = MAX_STAGES) -> float:
    """The largest step (in Ξ) that ``stages`` stages keep stable under ``bound``."""
    return ((stages - 1) ** 2 - 1.0) / (1.54 * SAFETY * bound) if bound > 0 else math.inf


@numba.njit(cache=True)
def _rkc_step(i: NDArray[np.int64], j: NDArray[np.int64], weight: Array, inverse_mass: Array, tau: float,
              mobility: int, slope: float, offset: Array, rho0: Array, rate0: Array, k: float, mu: Array,
              nu: Array, mu_tilde: Array, gamma_tilde: Array, rho_out: Array, rate_out: Array,
              rows: Array) -> float:
    """One RKC2 step of ``k`` from ``rho0`` (where the right-hand side is ``rate0``) into ``rho_out``;
    ``rate_out`` gets the right-hand side at the end and the return value its Gershgorin bound."""
    n, s = rho0.size, mu.size - 1
    older = rho0.copy()
    old = rho0 + (mu_tilde[1] * k) * rate0
    new = np.empty(n)
    f = np.empty(n)
    for stage in range(2, s + 1):
        rate(i, j, weight, inverse_mass, tau, mobility, slope, offset, old, f)
        a, b, c = 1.0 - mu[stage] - nu[stage], mu[stage], nu[stage]
        d, e = mu_tilde[stage] * k, gamma_tilde[stage] * k
        for q in range(n):
            new[q] = a * rho0[q] + b * old[q] + c * older[q] + d * f[q] + e * rate0[q]
        older, old, new = old, new, older
    rho_out[:] = old
    return rate_and_bound(i, j, weight, inverse_mass, tau, mobility, slope, offset, rho_out, rate_out, rows)


class ExplicitStep(NamedTuple):
    """An RKC2 step: the density, its embedded local error estimate, and its stages."""

    rho: Array
    error: Array
    stages: int


class Explicit:
    """The explicit stepper of one run on ``form``: the right-hand side at the current state and
    its bound (first same as last: the end of an accepted step is the next one's start)."""

    def __init__(self, form: EdgeForm) -> None:
        self.form = form
        n = form.inverse_mass.size
        self._rows = np.empty(n)
        self._at: Array | None = None  # the state the cached rate belongs to
        self._rate = np.empty(n)
        self._bound = 0.0
        self._next: tuple[Array, Array, float] | None = None  # (ρ, rate, bound) at the end of the last step
        self.evaluations = 0

    def bound(self, rho: Array) -> float:
        """The Gershgorin bound of the right-hand side's Jacobian at ``rho``."""
        self._prepare(rho)
        return self._bound

    def step(self, rho: Array, k: float) -> ExplicitStep:
        """One step of ``k`` (in Ξ) from ``rho``."""
        self._prepare(rho)
        form, stages = self.form, stages_for(k, self._bound)
        c = coefficients(stages)
        new, new_rate = np.empty_like(rho), np.empty_like(rho)
        bound = _rkc_step(form.i, form.j, form.weight, form.inverse_mass, form.tau, form.mobility, form.slope,
                          form.offset, rho, self._rate, k, c.mu, c.nu, c.mu_tilde, c.gamma_tilde, new, new_rate,
                          self._rows)
        self.evaluations += stages
        self._next = (new, new_rate, bound)
        error = 0.8 * (rho - new) + (0.4 * k) * (self._rate + new_rate)
        return ExplicitStep(new, error, stages)

    def _prepare(self, rho: Array) -> None:
        """The rate and bound at ``rho``: from the last step when it ended there, else one pass."""
        if self._at is rho:
            return
        if self._next is not None and self._next[0] is rho:
            _, self._rate, self._bound = self._next
        else:
            form = self.form
            self._rate = np.empty_like(rho)
            self._bound = rate_and_bound(form.i, form.j, form.weight, form.inverse_mass, form.tau, form.mobility,
                                         form.slope, form.offset, rho, self._rate, self._rows)
            self.evaluations += 1
        self._at = rho
