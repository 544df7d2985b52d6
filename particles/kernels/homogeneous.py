"""The SGD and gradient-descent step of 2-homogeneous units ``a ReLU(⟨b, x⟩)``.

The specialised kernel behind :func:`particles.sgd` for
:class:`fempde.model.Homogeneous` units (Chizat–Bach's students of a teacher)
with every coordinate trained and no θ-domain, on any batch: one sample a step
or the data quadrature every step (full-batch gradient descent, the limit's own
rule). It computes the generic kernel's step (:mod:`.generic`) with the units
held as columns, ``a`` ``(N,)`` and ``b`` ``(d, N)``, so that every pass runs
along contiguous rows of units and vectorises: per batch point one pass for
the pre-activations and the prediction, one for the gradients ``∇_a = ReLU(z)``,
``∇_b = a 1{z > 0} x``. The noise of step ``k``, coordinate ``j`` (``a``, then
``b_1 ... b_d``) and unit ``i`` is normal ``first + (k D + j) N + i`` of the
run's stream, the generic kernel's numbering.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

from ..noise import fill_normals

__all__ = ["advance"]

Array = NDArray[np.float64]


@numba.njit(cache=True, fastmath=True, error_model="numpy", nogil=True)
def advance(a: Array, b: Array, xs: Array, ys: Array, ws: Array, stride: int, count: int, steps: Array,
            stds: Array, key: np.uint64, first: int, alpha: float, kappa: float,
            shrink_rate: float) -> None:  # pragma: no cover - compiled
    """``count`` steps: step ``k`` uses the batch ``xs[k stride]`` ``(B, d)``,
    ``ys[k stride]`` ``(B,)`` with weights ``ws`` ``(B,)`` (``stride = 0``: the same
    batch every step, gradient descent); ``a`` ``(N,)`` and ``b`` ``(d, N)`` in place;
    ``stds``: the noise scales (empty: noiseless); ``shrink_rate`` = DRIFT λ."""
    d, n = b.shape
    batch = ws.shape[0]
    width = d + 1
    z = np.empty((batch, n))
    coef = np.empty(batch)
    ga, gb = np.empty(n), np.empty((d, n))
    noisy = stds.shape[0] > 0
    noise = np.empty((width if noisy else 0, n))
    for k in range(count):
        row = k * stride
        for q in range(batch):
            x, zq = xs[row, q], z[q]
            for i in range(n):
                zq[i] = 0.0
            for j in range(d):
                xj, bj = x[j], b[j]
                for i in range(n):
                    zq[i] += bj[i] * xj
            h = 0.0
            for i in range(n):
                h += a[i] * (zq[i] if zq[i] > 0.0 else 0.0)
            coef[q] = ws[q] * (ys[row, q] - alpha * h / n)
        ga[:] = 0.0
        gb[:] = 0.0
        for q in range(batch):
            x, zq, c = xs[row, q], z[q], coef[q]
            for i in range(n):
                on = c if zq[i] > 0.0 else 0.0
                ga[i] += on * zq[i]
            for j in range(d):
                xj, gbj = x[j], gb[j]
                for i in range(n):
                    gbj[i] += (c * xj if z[q, i] > 0.0 else 0.0)
        gain = kappa * steps[k] / alpha
        shrink = 1.0 - shrink_rate * steps[k]
        if noisy:
            fill_normals(key, first + k * width * n, noise.reshape(width * n))
        for i in range(n):
            ai = a[i]
            a[i] = shrink * ai + gain * ga[i]
            for j in range(d):
                b[j, i] = shrink * b[j, i] + gain * ai * gb[j, i]
        if noisy:
            std = stds[k]
            for i in range(n):
                a[i] += std * noise[0, i]
            for j in range(d):
                for i in range(n):
                    b[j, i] += std * noise[j + 1, i]
