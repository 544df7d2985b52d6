"""The RBF network's specialised SGD kernel: bumps ``K^δ(x − w_i)`` on one sample a
step in a convex domain, noiseless or noisy, with reflection (Javanmard–Mondelli–Montanari);
restricted to Ω or, on a box, reflected at its walls (the sample replaced by its
mirror images :func:`fempde.fem.kernels.mirror_images`: the prediction sums the bumps
at every image and every image moves the centres with the same residual).

The engine (:mod:`particles.engine`) runs it behind :func:`particles.sgd` for
bump units on their own domain where it pays (:mod:`particles.kernels`): only the
units under the support of the sample move when there is no noise, and a noisy
unit tests the walls only when its bound on the distance to them runs out. It
gives the generic kernel's numbers to round-off (tests).
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

from fempde.fem.kernels import mirror_images
from fempde.meanfield.axis import DRIFT

from ..domain import confine_inplace, first_crossing
from ..noise import fill_normals

__all__ = ["_sgd_chunk"]

Array = NDArray[np.float64]

_BLOCK = 256  # centres per block of the compiled passes: a block's scratch rows stay in L1


@numba.njit(cache=True, fastmath=True, error_model="numpy", nogil=True)  # no division branches; GIL released
def _sgd_chunk(centers: Array, xs: Array, ys: Array, steps: Array, noise_std: Array, key: np.uint64, first: int,
               power: int, constant: float, delta: float, normals: Array, offsets: Array, center: Array,
               inradius: float, reflect: bool, drift: float = DRIFT, lower: Array | None = None,
               upper: Array | None = None) -> None:  # pragma: no cover - compiled
    """The steps of one chunk; ``noise_std`` (one per step, empty: noiseless) scales
    normal ``first + (k dim + j) N + i`` of the stream ``key`` (step ``k``,
    coordinate ``j``, centre ``i``). ``lower``, ``upper``: the box of the reflected
    kernel (None: the kernel restricted to Ω).

    The centres are held transposed, ``(dim, N)``, so that every pass runs along
    the units and vectorises: the distances, the kernel's powers, and for noisy
    runs (where every centre moves) the moves, a block of centres at a time; a
    noisy centre goes through the faces only when its bound on the distance to
    ∂Ω runs out (:func:`_noisy_block`), so most steps test no face."""
    n, dim = centers.shape
    ct = np.ascontiguousarray(centers.T)
    inv_delta2 = 1.0 / (delta * delta)
    images = np.empty((2**dim, dim))  # the sample and its mirror images (boundary="reflected")
    level, weights, span = np.empty(_BLOCK), np.empty((images.shape[0], n)), np.empty(_BLOCK)
    noisy = noise_std.shape[0] > 0
    clearance = np.empty(n if noisy else 0)
    for i in range(clearance.shape[0]):
        clearance[i] = _clearance(ct, i, normals, offsets)
    noise, move = np.empty((dim, _BLOCK)), np.empty((dim, _BLOCK))
    point, rest = np.empty(dim), np.empty(dim)
    for k in range(xs.shape[0]):
        n_images = 1
        if lower is not None and upper is not None:  # (numba drops this branch when they are None)
            n_images = mirror_images(xs[k], lower, upper, delta, images)
        else:
            images[0] = xs[k]
        prediction = 0.0
        for g in range(n_images):
            for lo in range(0, n, _BLOCK):
                prediction += _kernel_block(ct, lo, min(_BLOCK, n - lo), images[g], inv_delta2, power, level,
                                            weights[g])
        prediction *= constant / n
        # ∇_w K^δ(x − w) = 2p c (1 − |x − w|²/δ²)^{p−1} (x − w)/δ²
        scale = drift * steps[k] * (ys[k] - prediction) * 2.0 * power * constant * inv_delta2
        if noisy:
            for lo in range(0, n, _BLOCK):  # a block of centres at a time: its passes stay in L1
                _noisy_block(ct, lo, min(_BLOCK, n - lo), images[:n_images], scale, noise_std[k], weights,
                             clearance, key, first + k * dim * n, noise, move, span, point, rest, normals, offsets,
                             center, inradius, reflect)
        else:
            for i in range(n):
                seen = False
                for d in range(dim):
                    rest[d] = 0.0
                for g in range(n_images):
                    if weights[g, i] != 0.0:  # off the kernel's support: no move
                        seen = True
                        for d in range(dim):
                            rest[d] += scale * weights[g, i] * (images[g, d] - ct[d, i])
                if seen:
                    _move_near_faces(ct, i, point, rest, normals, offsets, center, inradius, reflect)
    centers[:] = ct.T


@numba.njit(cache=True, fastmath=True, error_model="numpy")
def _kernel_block(ct: Array, lo: int, m: int, x: Array, inv_delta2: float, power: int, level: Array,
                  weights: Array) -> float:  # pragma: no cover - compiled
    """``weights[lo:lo+m]`` = ``(1 − |x − w_i|²/δ²)_+^(p−1)`` (0 off the support) of
    centres ``lo:lo+m``, and their sum of ``(1 − |x − w_i|²/δ²)_+^p`` (``level``:
    scratch of ``m`` or more)."""
    w, lv = weights[lo:lo + m], level[:m]
    for i in range(m):
        lv[i] = 0.0
    for d in range(ct.shape[0]):
        xd, row = x[d], ct[d, lo:lo + m]
        for i in range(m):
            lv[i] += (xd - row[i]) ** 2
    for i in range(m):
        s = 1.0 - lv[i] * inv_delta2
        inside = s > 0.0
        lv[i] = s if inside else 0.0
        w[i] = 1.0 if inside else 0.0
    for _ in range(power - 1):
        for i in range(m):
            w[i] *= lv[i]
    total = 0.0
    for i in range(m):
        total += w[i] * lv[i]
    return total


@numba.njit(cache=True, fastmath=True, error_model="numpy")
def _noisy_block(ct: Array, lo: int, m: int, images: Array, scale: float, std: float, weights: Array,
                 clearance: Array, key: np.uint64, first: int, noise: Array, move: Array, span: Array, point: Array,
                 rest: Array, normals: Array, offsets: Array, center: Array, inradius: float,
                 reflect: bool) -> None:  # pragma: no cover - compiled
    """The noisy moves of centres ``lo:lo+m`` of ``ct`` (``(dim, N)``), whose
    increments are normals ``first + j N + lo + i`` of the stream ``key``; the
    sample's images (``images[g]``, the sample itself first) pull them with
    the weights ``weights[g]``.

    Centre ``i`` carries a lower bound ``clearance[i]`` on its distance to ∂Ω,
    less the length of every move since it was computed: a move no longer than
    that crosses no face, so the test is one comparison; a centre whose bound
    runs out goes through the faces and gets a new bound. (``noise``, ``move``,
    ``span``: scratch.) The slices start at 0, so the loops vectorise without
    index checks."""
    dim, n = ct.shape
    clear, total = clearance[lo:lo + m], span[:m]
    for d in range(dim):
        fill_normals(key, first + d * n + lo, noise[d, :m])
    for i in range(m):
        total[i] = 0.0
    for d in range(dim):
        row, moved, g = ct[d, lo:lo + m], move[d, :m], noise[d, :m]
        for i in range(m):
            moved[i] = std * g[i]
        for image in range(images.shape[0]):
            xd, w = images[image, d], weights[image, lo:lo + m]
            for i in range(m):
                moved[i] += scale * w[i] * (xd - row[i])
        for i in range(m):
            total[i] += moved[i] * moved[i]
    for i in range(m):
        clear[i] -= np.sqrt(total[i]) * (1.0 + 1e-9) + 1e-15  # (the margin covers round-off)
    for d in range(dim):
        row, moved = ct[d, lo:lo + m], move[d, :m]
        for i in range(m):
            row[i] += moved[i] if clear[i] >= 0.0 else 0.0
    for i in range(m):
        if clear[i] < 0.0:  # near a face, or its bound used up: the exact move, a new bound
            for d in range(dim):
                rest[d] = move[d, i]
            _move_near_faces(ct, lo + i, point, rest, normals, offsets, center, inradius, reflect)
            clear[i] = _clearance(ct, lo + i, normals, offsets)


@numba.njit(cache=True, fastmath=True, error_model="numpy")
def _clearance(ct: Array, i: int, normals: Array, offsets: Array) -> float:  # pragma: no cover - compiled
    """The distance from centre ``i`` of ``ct`` (``(dim, N)``) to the nearest face
    (unit normals): Ω holds the ball of that radius around it."""
    nearest = np.inf
    for j in range(normals.shape[0]):
        height = offsets[j]
        for d in range(ct.shape[0]):
            height -= normals[j, d] * ct[d, i]
        nearest = min(nearest, height)
    return nearest


@numba.njit(inline="always")  # numba inlines it: a call with nine arrays costs more than the test
def _move_near_faces(ct: Array, i: int, point: Array, rest: Array, normals: Array, offsets: Array, center: Array,
                     inradius: float, reflect: bool) -> None:  # pragma: no cover - compiled
    """Move centre ``i`` of ``ct`` (``(dim, N)``) by ``rest`` (scratch, as is ``point``):
    directly when the move crosses no face (:func:`particles.domain.first_crossing`,
    the test :func:`confine_inplace` makes first), else through :func:`confine_inplace`."""
    dim = ct.shape[0]
    for d in range(dim):
        point[d] = ct[d, i]
    if first_crossing(point, rest, normals, offsets, center, inradius)[0] < 0:
        for d in range(dim):
            ct[d, i] += rest[d]
        return
    confine_inplace(point, rest, normals, offsets, center, inradius, reflect)
    for d in range(dim):
        ct[d, i] = point[d]
