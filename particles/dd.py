"""SGD of the two-layer network ``ŷ(x) = (1/N) Σ_i σ(⟨w_i, x⟩)`` on the isotropic
two-Gaussian data of Mei–Montanari–Nguyen (2018), one fresh sample per step
(their Eq. 3, with λ and the noise of Eq. 11 as the PDE needs it):

    w_i ← (1 − 2λ s_k) w_i + 2 s_k (y_k − ŷ(x_k)) σ'(⟨w_i, x_k⟩) x_k + sqrt(4 s_k / β) g_i,

on the time axis of :mod:`fempde.meanfield` (``DRIFT = 2``, noise ``sqrt(4 s_k τ)``
with ``τ = 1/β``). Its mean-field limit is the distributional dynamics, whose
rotation-reduced form is :class:`fempde.RadialDD`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray

from fempde.meanfield import DRIFT, TimeAxis, noise_scale
from fempde.radial import IsotropicGaussians, gaussian_nodes

__all__ = ["DDRun", "dd_sgd", "population_risk", "sample_isotropic"]

Array = NDArray[np.float64]


def sample_isotropic(model: IsotropicGaussians, n: int, rng: np.random.Generator) -> tuple[Array, Array]:
    """``n`` samples ``(x, y)``: ``y = ±1`` equally likely, ``x | y ~ N(0, (1 + yΔ)² I_d)``."""
    d = int(model.d)
    y = rng.choice(np.array([-1.0, 1.0]), size=n)
    x = rng.standard_normal((n, d)) * (1.0 + model.delta * y)[:, None]
    return x, y


@numba.njit(cache=True, fastmath=True)  # lets LLVM vectorise the dot products (deterministic)
def _dd_chunk(w, xs, ys, steps, ridge, noise_std, noise, t1, t2, s1, s2, drift):  # pragma: no cover - compiled
    n, d = w.shape
    slope = (s2 - s1) / (t2 - t1)
    pre = np.empty(n)
    noisy = noise.shape[0] > 0
    for k in range(xs.shape[0]):
        x = xs[k]
        prediction = 0.0
        for i in range(n):
            z = 0.0
            for j in range(d):
                z += w[i, j] * x[j]
            pre[i] = z
            prediction += s1 if z <= t1 else (s2 if z >= t2 else s1 + slope * (z - t1))
        prediction /= n
        coef = drift * steps[k] * (ys[k] - prediction)
        shrink = 1.0 - drift * ridge * steps[k]
        for i in range(n):
            g = coef * slope if t1 < pre[i] < t2 else 0.0
            if g == 0.0 and shrink == 1.0 and not noisy:
                continue
            for j in range(d):
                w[i, j] = shrink * w[i, j] + g * x[j]
                if noisy:
                    w[i, j] += noise_std[k] * noise[k, i, j]


@dataclass(frozen=True)
class DDRun:
    """Weights at the recorded times: ``weights`` has shape ``(n_times, N, d)``."""

    times: Array
    weights: Array


def dd_sgd(model: IsotropicGaussians, weights0: Array, axis: TimeAxis, times: Sequence[float], *,
           lam: float = 0.0, beta: float = math.inf, rng: np.random.Generator, chunk: int = 2048) -> DDRun:
    """Run (noisy) SGD from ``weights0`` (``(N, d)``) and record at ``times`` (on the grid ``t = kε``)."""
    w = np.array(weights0, dtype=np.float64, order="C")
    if w.ndim != 2 or w.shape[1] != int(model.d) or len(w) < 1:
        raise ValueError(f"weights0 must have shape (N >= 1, d = {model.d}), got {w.shape}")
    tau = 0.0 if math.isinf(beta) else 1.0 / beta
    sigma = model.sigma
    marks = np.array(sorted({axis.steps_until(t) for t in times}), dtype=np.int64)
    if tau > 0:
        chunk = max(16, min(chunk, 2**20 // w.size))
    recorded, k = [], 0
    for mark in marks:
        while k < mark:
            m = min(chunk, mark - k)
            xs, ys = sample_isotropic(model, m, rng)
            steps = axis.step_sizes(k, k + m)
            noise = rng.standard_normal((m, *w.shape)) if tau > 0 else np.empty((0, 1, 1))
            _dd_chunk(w, xs, ys, steps, lam, noise_scale(steps, tau), noise, sigma.t1, sigma.t2, sigma.s1, sigma.s2,
                      DRIFT)
            k += m
        recorded.append(w.copy())
    return DDRun(axis.time(marks), np.array(recorded))


def population_risk(model: IsotropicGaussians, weights: Array, nodes: int = 32) -> float:
    """``R_N = 1 + (2/N) Σ V(w_i) + (1/N²) Σ_ij U(w_i, w_j)`` exactly: ``V`` from
    ``v(‖w‖)`` and ``U`` from the pair expectation at each pair's actual cosine
    (Gauss–Legendre in ``Z1`` split at σ's kinks, closed form in ``Z2``; no sampling)."""
    sigma = model.sigma
    w = np.asarray(weights, dtype=np.float64)
    r = np.linalg.norm(w, axis=1)
    cosines = np.clip((w @ w.T) / np.maximum(np.outer(r, r), 1e-300), -1.0, 1.0)
    n = len(w)
    pair = 0.0
    for scale in model.scales:
        for i in range(n):
            a = scale * r[i]
            z, wz = gaussian_nodes(sigma, a, nodes)
            b, c = scale * r[i:], cosines[i, i:]
            inner = sigma.gaussian_mean(c[:, None] * np.outer(b, z), (b * np.sqrt(1 - c**2))[:, None])
            values = inner @ (wz * sigma(a * z))
            pair += 0.5 * (values[0] + 2.0 * values[1:].sum())
    return 1.0 + 2.0 * float(model.v(r).sum()) / n + pair / n**2
