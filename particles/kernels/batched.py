"""The step of ridge units ``a σ(⟨w, x⟩ + b)`` on a batch, as matrix products.

The specialised kernel behind :func:`particles.sgd` for :class:`fempde.model.Ridge`
units on ``B > 1`` samples a step or the data quadrature (full-batch gradient
descent: the lazy and mean-field networks on a training set), every
coordinate trained, no θ-domain. With ``Z = X Wᵀ + b`` ``(B, N)``:

    ŷ = (α/N) σ(Z) a,   c = κ s w ⊙ (y − ŷ)/α,   G = (c a ᵀ) ⊙ σ'(Z),
    W ← (1 − DRIFT λ s) W + Gᵀ X,   a ← ... + σ(Z)ᵀ c,   b ← ... + Gᵀ 1,

the generic kernel's step (:mod:`.generic`) with its sums in BLAS and σ in
numpy's vectorised functions (the activation's own ``pair``, or ``__call__``
and ``derivative``), so it differs from the generic kernel by round-off. The noise
of step ``k``, coordinate ``j``, unit ``i`` is normal ``first + (k D + j) N + i``
of the run's stream, as in every kernel.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fempde.model import MeanFieldModel, Ridge

from ..noise import normals

__all__ = ["advance"]

Array = NDArray[np.float64]


def advance(model: MeanFieldModel, theta: Array, xs: Array, ys: Array, weights: Array, stride: int, steps: Array,
            stds: Array, key: int, first: int, alpha: float, kappa: float, shrink_rate: float) -> None:
    """``len(steps)`` steps of one run on ``theta`` ``(N, D)`` in place; step ``k`` uses the
    batch ``xs[k stride]`` ``(B, d)``, ``ys[k stride]`` ``(B,)`` with ``weights`` ``(B,)``;
    ``stds``: the noise scales (empty: noiseless)."""
    unit = model.unit
    assert isinstance(unit, Ridge)
    sigma, d = unit.sigma, unit.input_dim
    pair = getattr(sigma, "pair", None)  # σ and σ' from one evaluation, where the activation has it
    n, dim = theta.shape
    col_b = d + int(unit.trains_output)
    for k in range(len(steps)):
        x, y = xs[k * stride], ys[k * stride]
        w, a, b = unit.split(theta)
        z = x @ w.T + b[None, :]
        value, slope = pair(z) if pair is not None else (sigma(z), sigma.derivative(z))
        coef = (kappa * steps[k] / alpha) * weights * (y - (alpha / n) * (value @ a))
        g = (coef[:, None] * slope) * a[None, :]
        move = np.empty((n, dim))
        move[:, :d] = g.T @ x
        if unit.trains_output:
            move[:, d] = value.T @ coef
        if unit.trains_bias:
            move[:, col_b] = g.sum(axis=0)
        theta *= 1.0 - shrink_rate * steps[k]
        theta += move
        if stds.size:
            theta += stds[k] * normals(key, first + k * dim * n, dim * n).reshape(dim, n).T
