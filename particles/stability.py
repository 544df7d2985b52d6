"""The largest stable step of a model at its start, estimated before a run, and
the warning a run gets when its first step is past it.

One step of the engine on a sample ``x`` moves the prediction there by

    Δŷ(x) = (α/N) Σ_i ∇_θσ*(x; θ_i) · Δθ_i = s K(x, x) (y − ŷ(x)),
    K(x, x') = (κ/N) Σ_i ∇_θσ*(x; θ_i) · ∇_θσ*(x'; θ_i)   (over the trained coordinates),

with ``Δθ_i = κ (s/α)(y − ŷ) ∇_θσ*(x; θ_i)``: ``K`` is the tangent kernel of the
network times the gain κ, and the output scale α cancels (``Δθ_i`` carries
``1/α``, ``ŷ`` carries α). So the error at the sample is multiplied by
``1 − s K(x, x)``, which is larger than 1 in size once ``s > 2/K(x, x)``: the
step then amplifies the error it should correct, and SGD rises where its
limit falls. The estimate, from units ``θ_i`` at the start:

* one fresh sample a step: ``s* = 2 / K̄``, ``K̄`` the mean of ``K(x, x)`` over the data;
* ``B`` samples a step: ``s* = 2 / (K̄/B + (1 − 1/B) λ)``, ``λ`` the largest
  eigenvalue of the data-weighted kernel ``E_x' K(x, x') f(x')``;
* full batch: ``s* = 2 / λ`` (gradient descent on a quadratic: the classical bound);

and ``DRIFT λ s < 1``, else the ridge term alone flips θ's sign every step.

The data are :data:`STABILITY_POINTS` draws from a Generator of its own
(:data:`STABILITY_SEED`), never the run's (the same seed gives the same run,
warned or not), or the data quadrature when the run uses it and it is small
enough. The estimate is of the linearised step at the start: a run can still
drift into instability later (units grow), which the engine reports as a
``FloatingPointError`` once θ stops being finite.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fempde.meanfield import DRIFT, TimeAxis
from fempde.model import MeanFieldModel

from .batch import Batch

__all__ = ["STABILITY_POINTS", "STABILITY_SEED", "StepLimit", "StepSizeWarning", "check_step_size", "step_limit"]

Array = NDArray[np.float64]

STABILITY_POINTS = 256
"""Data points of the estimate (the quadrature itself when it has no more)."""

STABILITY_SEED = 0x5EED5
"""The seed of the estimate's own Generator."""

_BLOCK = 1 << 20  # numbers of ∇σ* held at once


class StepSizeWarning(UserWarning):
    """The first step of a run is past the stability limit estimated from the model."""


@dataclass(frozen=True)
class StepLimit:
    """``limit``: the largest stable ``s_0`` (module docstring); ``kernel``: the ``K̄``
    or ``λ`` it comes from; ``ridge``: the ridge's own limit ``1/(DRIFT λ)``."""

    limit: float
    kernel: float
    ridge: float
    batch: Batch

    @property
    def stable(self) -> float:
        """The smaller of the two limits."""
        return min(self.limit, self.ridge)


def _points(model: MeanFieldModel, batch: Batch) -> tuple[Array, Array]:
    """The data points ``(M, d)`` and weights ``(M,)`` of the estimate."""
    own = np.random.default_rng(STABILITY_SEED)
    if batch.full:
        rule = model.quadrature(batch.level)
        if len(rule.weights) <= STABILITY_POINTS:
            return np.asarray(rule.points, dtype=np.float64), np.asarray(rule.weights, dtype=np.float64)
        pick = own.choice(len(rule.weights), size=STABILITY_POINTS, p=rule.weights / rule.weights.sum())
        return np.asarray(rule.points, dtype=np.float64)[pick], np.full(STABILITY_POINTS, 1.0 / STABILITY_POINTS)
    x, _ = model.data.sample(STABILITY_POINTS, own)
    return np.asarray(x, dtype=np.float64), np.full(STABILITY_POINTS, 1.0 / STABILITY_POINTS)


def _kernel(model: MeanFieldModel, theta: Array, points: Array, gram: bool) -> Array:
    """``K(x_q, x_q)`` ``(M,)``, or with ``gram`` the matrix ``K(x_q, x_q')`` ``(M, M)``."""
    mask = model.mask
    n, m = len(theta), len(points)
    out = np.zeros((m, m) if gram else m)
    block = max(1, _BLOCK // max(1, m * model.dim))
    for lo in range(0, n, block):
        g = model.unit.gradient(points, theta[lo:lo + block])[:, :, mask].reshape(m, -1)  # (M, units × trained)
        out += g @ g.T if gram else np.einsum("qk,qk->q", g, g)
    return out * (model.gain() / n)


def step_limit(model: MeanFieldModel, theta: Array, batch: Batch) -> StepLimit:
    """The stability limit of ``model``'s step from units ``theta`` ``(N, D)`` on ``batch``."""
    points, weights = _points(model, batch)
    ridge = math.inf if model.lam == 0 else 1.0 / (DRIFT * model.lam)
    with np.errstate(over="ignore", invalid="ignore"):  # a start far out gives inf: the limit is 0
        if batch.size == 1:
            kernel = float(weights @ _kernel(model, theta, points, gram=False))
        else:
            root = np.sqrt(weights)
            matrix = _kernel(model, theta, points, gram=True)
            top = float(np.linalg.eigvalsh(root[:, None] * matrix * root[None, :])[-1]) \
                if np.all(np.isfinite(matrix)) else math.inf
            if batch.full:
                kernel = top
            else:
                assert batch.size is not None
                mean = float(weights @ np.diag(matrix))
                kernel = mean / batch.size + (1.0 - 1.0 / batch.size) * top
    limit = 2.0 / kernel if kernel > 0 else math.inf
    return StepLimit(limit if math.isfinite(kernel) else 0.0, kernel, ridge, batch)


def check_step_size(model: MeanFieldModel, theta: Array, axis: TimeAxis, batch: Batch,
                    stacklevel: int = 3) -> StepLimit:
    """Warn (:class:`StepSizeWarning`) when the first step ``s_0`` of ``axis`` is past
    :func:`step_limit`; returns the limit."""
    estimate = step_limit(model, theta, batch)
    s0 = float(axis.step_sizes(0, 1)[0])
    scale = axis.epsilon / s0  # epsilon per unit of s_0
    if s0 > estimate.limit:
        what = ("K̄, the mean over the data of the tangent kernel K(x, x) = (κ/N) Σ_i |∇_θσ*(x; θ_i)|²"
                if batch.size == 1 else "the largest eigenvalue of the data-weighted tangent kernel")
        warnings.warn(
            f"the first step s_0 = {s0:.3g} (epsilon = {axis.epsilon:g}, {batch.describe()} a step) is past the "
            f"stability limit 2/{estimate.kernel:.3g} = {estimate.limit:.3g} estimated from {model.name!r} at its "
            f"start ({what}): a step multiplies the prediction error by 1 − s K, larger than 1 in size there, so SGD "
            f"is likely to rise or diverge while its limit falls; lower epsilon below {estimate.limit * scale:.3g}",
            StepSizeWarning, stacklevel=stacklevel)
    if DRIFT * model.lam * s0 >= 1.0:
        warnings.warn(
            f"DRIFT λ s_0 = {DRIFT * model.lam * s0:.3g} >= 1 (lam = {model.lam:g}, s_0 = {s0:.3g}): the ridge term "
            f"alone flips θ's sign every step; lower epsilon below {estimate.ridge * scale:.3g}",
            StepSizeWarning, stacklevel=stacklevel)
    return estimate
