"""The generic compiled SGD step: any unit, through its compiled passes.

One step for the ``N`` units ``θ_i`` (rows of ``theta``, ``(N, D)``) on the
batch ``(x_q, y_q, w_q)``, ``q < B``:

    ŷ_q = (α/N) Σ_i σ*(x_q; θ_i),
    θ_i ← θ_i − DRIFT λ s_k θ_i + κ (s_k/α) Σ_q w_q (y_q − ŷ_q) ∇_θσ*(x_q; θ_i) + σ_k g_i,

on the trained coordinates only (``mask``), the move confined to the θ-domain
where there is one (:func:`particles.domain.confine_inplace`: reflection, or
projection along the move). The unit enters as its compiled ``forward`` and
``backward`` (:class:`fempde.model.UnitKernels`), passed as arguments: numba
compiles this loop once per kind of unit and process (a function taking
functions cannot be cached on disk), and inlines the passes into it.

The noise of step ``k`` (of the chunk), coordinate ``j``, unit ``i`` is normal
``first + (k D + j) N + i`` of the stream ``key`` (:mod:`particles.noise`), the
numbering every kernel of the engine shares, so that a specialised kernel and
this one draw the same numbers.

The forward pass keeps what the backward pass needs in ``scratch``; for a
large batch (full-batch gradient descent on a data quadrature) the scratch of
every pair ``(q, i)`` would not fit, and the backward pass recomputes the
forward pass instead (:data:`STORE_LIMIT`).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

from ..domain import confine_inplace, first_crossing
from ..noise import fill_normals

__all__ = ["STORE_LIMIT", "advance"]

Array = NDArray[np.float64]

STORE_LIMIT = 1 << 21
"""Most scratch numbers (``B N scratch_size``) kept between the forward and backward passes."""

FREE, REFLECT, PROJECT = 0, 1, 2
"""What happens at the θ-domain's walls: no domain, reflection, projection along the move."""


@numba.njit(fastmath=True, error_model="numpy", nogil=True)
def advance(forward: Any, backward: Any, params: Array, scratch_size: int, theta: Array, xs: Array, ys: Array,
            ws: Array, stride: int, count: int, steps: Array, stds: Array, key: np.uint64, first: int, alpha: float,
            kappa: float, shrink_rate: float, mask: NDArray[np.bool_], walls: int, normals: Array, offsets: Array,
            center: Array, inradius: float) -> None:  # pragma: no cover - compiled
    """``count`` steps of one run (module docstring). ``xs`` ``(K, B, d)``, ``ys`` ``(K, B)``:
    step ``k`` uses row ``k stride`` (``stride = 0``: the same batch every step); ``ws``
    ``(B,)`` the batch weights; ``steps`` the ``s_k``, ``stds`` the noise scales (empty:
    noiseless); ``shrink_rate`` = DRIFT λ.

    The backward pass runs over the batch outside and the units inside, each unit's
    gradient in its own row of ``grads``: no unit waits for another's sum."""
    n, dim = theta.shape
    batch = ws.shape[0]
    store = batch * n * scratch_size <= STORE_LIMIT
    scratch = np.empty((batch if store else 1, n, max(scratch_size, 1)))
    coef, grads, moves = np.empty(batch), np.empty((n, dim)), np.empty((n, dim))
    trained = np.empty(dim)
    for j in range(dim):
        trained[j] = 1.0 if mask[j] else 0.0
    point = np.empty(dim)
    noisy = stds.shape[0] > 0
    noise = np.empty((dim if noisy else 0, n))
    for k in range(count):
        row = k * stride
        for q in range(batch):
            x, held = xs[row, q], scratch[q if store else 0]
            total = 0.0
            for i in range(n):
                total += forward(x, theta[i], params, held[i])
            coef[q] = ws[q] * (ys[row, q] - alpha * total / n)
        grads[:] = 0.0
        for q in range(batch):
            x, held, c = xs[row, q], scratch[q if store else 0], coef[q]
            for i in range(n):
                if not store:
                    forward(x, theta[i], params, held[i])
                backward(x, theta[i], params, held[i], c, grads[i])
        gain = kappa * steps[k] / alpha
        shrink = shrink_rate * steps[k]
        for i in range(n):
            for j in range(dim):
                moves[i, j] = (gain * grads[i, j] - shrink * theta[i, j]) * trained[j]
        if noisy:
            fill_normals(key, first + k * dim * n, noise.reshape(dim * n))
            std = stds[k]
            for j in range(dim):
                for i in range(n):
                    moves[i, j] += std * noise[j, i] * trained[j]
        if walls == FREE:
            for i in range(n):
                for j in range(dim):
                    theta[i, j] += moves[i, j]
        else:
            for i in range(n):
                _confined_move(theta[i], moves[i], point, normals, offsets, center, inradius, walls == REFLECT)


@numba.njit(inline="always")
def _confined_move(unit: Array, move: Array, point: Array, normals: Array, offsets: Array, center: Array,
                   inradius: float, reflect: bool) -> None:  # pragma: no cover - compiled
    """``unit += move``, reflected (or stopped) at the walls it crosses (``move`` is scratch)."""
    dim = unit.shape[0]
    for j in range(dim):
        point[j] = unit[j]
    if first_crossing(point, move, normals, offsets, center, inradius)[0] < 0:
        for j in range(dim):
            unit[j] += move[j]
        return
    confine_inplace(point, move, normals, offsets, center, inradius, reflect)
    for j in range(dim):
        unit[j] = point[j]
