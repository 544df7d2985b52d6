"""The fused SGD step of ridge units ``a σ(⟨w, x⟩ + b)``, one sample a step.

The specialised kernel behind :func:`particles.sgd` for :class:`fempde.model.Ridge`
units trained on one fresh sample a step (Mei–Montanari–Nguyen's networks, lazy
and mean-field ``a σ(⟨w, x⟩)``), with every coordinate trained and no θ-domain.
It computes what the generic kernel (:mod:`.generic`) computes, in another order:

* the weights are held transposed, ``Wᵀ`` ``(d, N)``, so that every pass runs
  along contiguous rows of units and vectorises;
* one pass a step over the weights updates them (``w ← shrink w + g x``, plus
  the noise) and accumulates the pre-activations ``⟨w, x_next⟩ + b`` of the
  next step's input at once: each weight is loaded and stored once a step;
* the activation is a separate pass over the units: the hinges of the papers
  branch-free with their knots unrolled (:func:`_hinge`), any other σ through
  its compiled ``evaluate(z, params) -> (σ, σ')`` (a user's own
  :class:`fempde.model.Compiled` included), passed as an argument and inlined.

The noise of step ``k``, coordinate row ``j`` (``w_j``, then ``a``, ``b`` where
trained) and unit ``i`` is normal ``first + (k D + j) N + i`` of the stream
``key``, the generic kernel's numbering.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

from ..noise import fill_normals

__all__ = ["advance"]

Array = NDArray[np.float64]
Knots = tuple[float, ...]


# In the kernels, fastmath lets LLVM vectorise the loops over units (deterministic: the same code gives the
# same sums) and error_model="numpy" drops the ZeroDivisionError branches that would stop it.
@numba.njit(fastmath=True, error_model="numpy", inline="always")
def _hinge(z: Array, a: Array, act: Array, g: Array, knots: Knots, jumps: Knots, c0: float,
           c1: float) -> float:  # pragma: no cover - compiled
    """``act = σ(z)``, ``g = a σ'(z)`` and the sum ``Σ a σ(z)``, with
    ``σ(z) = c0 + c1 z + Σ_q jumps_q (z − knots_q)_+`` branch-free. The knots
    come as tuples: their number is part of the type, so the loop over them
    unrolls and the one pass over the units vectorises."""
    prediction = 0.0
    for i in range(z.shape[0]):
        zi = z[i]
        s, slope = c0 + c1 * zi, c1
        for q in range(len(knots)):
            h = zi - knots[q]
            on = 1.0 if h > 0.0 else 0.0
            s += jumps[q] * h * on
            slope += jumps[q] * on
        act[i] = s
        g[i] = a[i] * slope
        prediction += a[i] * s
    return prediction


@numba.njit(fastmath=True, error_model="numpy", inline="always")
def _activate(evaluate: Any, params: Array, hinge: bool, knots: Knots, jumps: Knots, c0: float, c1: float, z: Array,
              a: Array, act: Array, g: Array) -> float:  # pragma: no cover - compiled
    """:func:`_hinge` for a hinge sum, else ``evaluate`` unit by unit."""
    if hinge:
        return _hinge(z, a, act, g, knots, jumps, c0, c1)
    prediction = 0.0
    for i in range(z.shape[0]):
        s, slope = evaluate(z[i], params)
        act[i] = s
        g[i] = a[i] * slope
        prediction += a[i] * s
    return prediction


@numba.njit(fastmath=True, error_model="numpy")
def _rows8(wt: Array, j: int, g: Array, z: Array, x: Array, x_next: Array, shrink: float, noise: Array,
           std: float) -> None:  # pragma: no cover - compiled
    """Rows ``j:j+8`` of ``Wᵀ``: ``w ← shrink w + x_j g (+ std noise)`` and, in the same
    pass, ``z += Σ_j w x_next_j`` for the next step's input ``x_next``: each weight is loaded and
    stored once a step, ``z`` and ``g`` once per eight rows (written out: LLVM
    vectorises this form along the units, not a loop over the eight rows)."""
    n = wt.shape[1]
    r0, r1, r2, r3, r4, r5, r6, r7 = wt[j], wt[j + 1], wt[j + 2], wt[j + 3], wt[j + 4], wt[j + 5], wt[j + 6], \
        wt[j + 7]
    x0, x1, x2, x3, x4, x5, x6, x7 = x[j], x[j + 1], x[j + 2], x[j + 3], x[j + 4], x[j + 5], x[j + 6], x[j + 7]
    v0, v1, v2, v3, v4, v5, v6, v7 = x_next[j], x_next[j + 1], x_next[j + 2], x_next[j + 3], x_next[j + 4], \
        x_next[j + 5], x_next[j + 6], x_next[j + 7]
    if noise.shape[0] == 0 and shrink == 1.0:  # no ridge: one FMA a weight
        for i in range(n):
            gi = g[i]
            w0, w1, w2, w3 = r0[i] + x0 * gi, r1[i] + x1 * gi, r2[i] + x2 * gi, r3[i] + x3 * gi
            w4, w5, w6, w7 = r4[i] + x4 * gi, r5[i] + x5 * gi, r6[i] + x6 * gi, r7[i] + x7 * gi
            r0[i], r1[i], r2[i], r3[i], r4[i], r5[i], r6[i], r7[i] = w0, w1, w2, w3, w4, w5, w6, w7
            z[i] += (w0 * v0 + w1 * v1 + w2 * v2 + w3 * v3) + (w4 * v4 + w5 * v5 + w6 * v6 + w7 * v7)
    elif noise.shape[0] == 0:
        for i in range(n):
            gi = g[i]
            w0, w1, w2, w3 = r0[i] * shrink + x0 * gi, r1[i] * shrink + x1 * gi, r2[i] * shrink + x2 * gi, \
                r3[i] * shrink + x3 * gi
            w4, w5, w6, w7 = r4[i] * shrink + x4 * gi, r5[i] * shrink + x5 * gi, r6[i] * shrink + x6 * gi, \
                r7[i] * shrink + x7 * gi
            r0[i], r1[i], r2[i], r3[i], r4[i], r5[i], r6[i], r7[i] = w0, w1, w2, w3, w4, w5, w6, w7
            z[i] += (w0 * v0 + w1 * v1 + w2 * v2 + w3 * v3) + (w4 * v4 + w5 * v5 + w6 * v6 + w7 * v7)
    else:
        e0, e1, e2, e3, e4, e5, e6, e7 = noise[j], noise[j + 1], noise[j + 2], noise[j + 3], noise[j + 4], \
            noise[j + 5], noise[j + 6], noise[j + 7]
        for i in range(n):
            gi = g[i]
            w0, w1, w2, w3 = r0[i] * shrink + x0 * gi + std * e0[i], r1[i] * shrink + x1 * gi + std * e1[i], \
                r2[i] * shrink + x2 * gi + std * e2[i], r3[i] * shrink + x3 * gi + std * e3[i]
            w4, w5, w6, w7 = r4[i] * shrink + x4 * gi + std * e4[i], r5[i] * shrink + x5 * gi + std * e5[i], \
                r6[i] * shrink + x6 * gi + std * e6[i], r7[i] * shrink + x7 * gi + std * e7[i]
            r0[i], r1[i], r2[i], r3[i], r4[i], r5[i], r6[i], r7[i] = w0, w1, w2, w3, w4, w5, w6, w7
            z[i] += (w0 * v0 + w1 * v1 + w2 * v2 + w3 * v3) + (w4 * v4 + w5 * v5 + w6 * v6 + w7 * v7)


@numba.njit(fastmath=True, error_model="numpy", nogil=True)
def advance(evaluate: Any, params: Array, hinge: bool, knots: Knots, jumps: Knots, c0: float, c1: float, wt: Array,
            a: Array, b: Array, fit_a: bool, fit_b: bool, xs: Array, ys: Array, steps: Array, count: int,
            shrink_rate: float, stds: Array, key: np.uint64, first: int, alpha: float,
            kappa: float) -> None:  # pragma: no cover - compiled
    """``count`` steps of one run. ``wt`` is ``Wᵀ`` (``(d, N)``, C order); ``a``, ``b``
    ``(N,)`` (their fixed values where ``fit_a``, ``fit_b`` are False); ``xs`` ``(K, d)``
    and ``ys`` ``(K,)`` the samples of the steps; ``steps`` the ``s_k``, ``stds`` the
    noise scales (empty: noiseless); ``shrink_rate`` = DRIFT λ; ``alpha``, ``kappa``:
    ``ŷ = (α/N) Σ a σ(z)`` and the gain κ. The activation: ``knots``, ``jumps``,
    ``c0``, ``c1`` of a hinge sum (``hinge``), else ``evaluate`` and its ``params``."""
    d, n = wt.shape
    width = d + int(fit_a) + int(fit_b)
    noisy = stds.shape[0] > 0
    z, z_next, act, g = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    noise = np.empty((width if noisy else 0, n))
    no_next = np.zeros(d)  # the "next input" of the last step: its pre-activations are not needed
    if count > 0:
        for i in range(n):
            z[i] = b[i]
        for j in range(d):
            xj = xs[0, j]
            for i in range(n):
                z[i] += wt[j, i] * xj
    for k in range(count):
        x = xs[k]
        prediction = _activate(evaluate, params, hinge, knots, jumps, c0, c1, z, a, act, g)
        coef = kappa * steps[k] * (ys[k] - alpha * prediction / n) / alpha
        shrink = 1.0 - shrink_rate * steps[k]
        std = stds[k] if noisy else 0.0
        if noisy:
            fill_normals(key, first + k * width * n, noise.reshape(width * n))
        for i in range(n):
            g[i] *= coef
        if fit_a:
            for i in range(n):
                a[i] = shrink * a[i] + coef * act[i]
            if noisy:
                for i in range(n):
                    a[i] += std * noise[d, i]
        if fit_b:
            for i in range(n):
                b[i] = shrink * b[i] + g[i]
            if noisy:
                for i in range(n):
                    b[i] += std * noise[d + int(fit_a), i]
        x_next = xs[k + 1] if k + 1 < count else no_next
        for i in range(n):
            z_next[i] = b[i]
        tiled = d - d % 8
        for j in range(0, tiled, 8):
            _rows8(wt, j, g, z_next, x, x_next, shrink, noise, std)
        for j in range(tiled, d):
            row, xj, vj = wt[j], x[j], x_next[j]
            for i in range(n):
                w = row[i] * shrink + xj * g[i]
                if noisy:
                    w += std * noise[j, i]
                row[i] = w
                z_next[i] += w * vj
        z, z_next = z_next, z
