"""SGD and noisy SGD of the RBF network ``f̂(x) = (1/N) Σ_i K^δ(x − w_i)``
(Javanmard–Mondelli–Montanari 2020), one fresh sample per step:

    w_i ← w_i + 2 s_k (y_k − f̂(x_k)) ∇_w K^δ(x_k − w_i) + sqrt(4 s_k τ) g_i,

centres kept in Ω by reflection (or projection). Its mean increment is
``−2 s_k ∇Ψ^δ(w_i; ρ̂)`` with ``Ψ^δ(w; ρ) = (1/|Ω|) ∫ K^δ(x − w)(K^δ∗ρ − f) dx``, and
the constants (time axis, ``s_k``, the noise) come from :mod:`fempde.meanfield`.

Randomness (data, label noise, Gaussian increments) is drawn in chunks from a
``numpy.random.Generator``; the compiled loop consumes it, so the same seed
gives the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from fempde.kernels import Kernel
from fempde.meanfield import DRIFT, TimeAxis, noise_scale

from .domain import ConvexDomain, confine_inplace

__all__ = ["SGDRun", "rbf_sgd"]

Array = NDArray[np.float64]
Target = Callable[[Array], ArrayLike]


@numba.njit(cache=True)
def _sgd_chunk(centers, xs, ys, steps, noise_std, noise, power, constant, delta,
               normals, offsets, center, inradius, reflect, drift=DRIFT):  # pragma: no cover - compiled
    n, dim = centers.shape
    inv_delta2 = 1.0 / (delta * delta)
    weights = np.empty(n)
    move = np.empty(dim)
    noisy = noise.shape[0] > 0
    for k in range(xs.shape[0]):
        x = xs[k]
        prediction = 0.0
        for i in range(n):
            s = 0.0
            for d in range(dim):
                s += (x[d] - centers[i, d]) ** 2
            s = 1.0 - s * inv_delta2
            if s > 0.0:
                prediction += s**power
                weights[i] = s ** (power - 1)
            else:
                weights[i] = 0.0
        prediction *= constant / n
        # ∇_w K^δ(x − w) = 2p c (1 − |x − w|²/δ²)^{p−1} (x − w)/δ²
        scale = drift * steps[k] * (ys[k] - prediction) * 2.0 * power * constant * inv_delta2
        for i in range(n):
            if weights[i] == 0.0 and not noisy:
                continue
            distance2 = 0.0
            for d in range(dim):
                move[d] = scale * weights[i] * (x[d] - centers[i, d])
                if noisy:
                    move[d] += noise_std[k] * noise[k, i, d]
                distance2 += (centers[i, d] + move[d] - center[d]) ** 2
            if distance2 <= inradius * inradius:  # the common case, without a call
                for d in range(dim):
                    centers[i, d] += move[d]
            else:
                confine_inplace(centers[i], move, normals, offsets, center, inradius, reflect)


@dataclass(frozen=True)
class SGDRun:
    """Centres at the recorded times: ``centers`` has shape ``(n_times, N, dim)``."""

    times: Array
    centers: Array
    steps: NDArray[np.int64]


def rbf_sgd(
    domain: ConvexDomain,
    target: Target,
    kernel: Kernel,
    centers0: Array,
    axis: TimeAxis,
    times: Sequence[float],
    *,
    tau: float = 0.0,
    label_noise: float = 0.0,
    reflect: bool = True,
    rng: np.random.Generator,
    chunk: int = 4096,
) -> SGDRun:
    """Run (noisy) SGD from ``centers0`` (shape ``(N, dim)``) and record the
    centres at ``times`` (rounded to the SGD grid ``t = kε``; 0 allowed).

    ``target`` is ``f(x)`` with ``x`` of shape ``(dim, n)``; labels are
    ``y = f(x) + label_noise · N(0, 1)``.
    """
    centers = np.array(centers0, dtype=np.float64, order="C")
    if centers.ndim != 2 or centers.shape[1] != domain.dim or centers.shape[0] < 1:
        raise ValueError(f"centers0 must have shape (N >= 1, {domain.dim}), got {centers.shape}")
    if not np.all(domain.contains(centers)):
        raise ValueError("every initial centre must lie in the domain")
    if kernel.dim != domain.dim:
        raise ValueError(f"kernel is {kernel.dim}-D but the domain is {domain.dim}-D")
    if tau < 0 or label_noise < 0:
        raise ValueError(f"tau and label_noise must be >= 0, got {tau}, {label_noise}")
    marks = np.array(sorted({axis.steps_until(t) for t in times}), dtype=np.int64)
    if marks.size == 0 or marks[0] < 0:
        raise ValueError(f"record times must be >= 0, got {list(times)}")
    if tau > 0:  # keep the chunk of Gaussian increments in cache-sized memory (about 8 MB)
        chunk = max(16, min(chunk, 2**20 // centers.size))
    recorded = []
    k = 0
    for mark in marks:
        while k < mark:
            m = min(chunk, mark - k)
            xs = domain.sample(m, rng)
            ys = np.asarray(target(xs.T), dtype=np.float64).reshape(m)
            if label_noise > 0:
                ys = ys + label_noise * rng.standard_normal(m)
            steps = axis.step_sizes(k, k + m)
            noise = rng.standard_normal((m, *centers.shape)) if tau > 0 else np.empty((0, 1, 1))
            _sgd_chunk(centers, xs, ys, steps, noise_scale(steps, tau), noise, kernel.power, kernel.constant,
                       kernel.delta, domain.normals, domain.offsets, domain.center, domain.inradius, reflect)
            k += m
        recorded.append(centers.copy())
    return SGDRun(axis.time(marks), np.array(recorded), marks)
