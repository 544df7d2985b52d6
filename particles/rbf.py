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

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from fempde.atomic import atomic_write
from fempde.fem.kernels import Kernel
from fempde.meanfield.axis import DRIFT, TimeAxis, noise_scale

from .domain import ConvexDomain, confine_inplace
from .plan import chunk_plan, record_steps

__all__ = ["SGDRun", "rbf_sgd"]

Array = NDArray[np.float64]
Target = Callable[[Array], ArrayLike]


@numba.njit(cache=True)
def _sgd_chunk(centers: Array, xs: Array, ys: Array, steps: Array, noise_std: Array, noise: Array, power: int,
               constant: float, delta: float, normals: Array, offsets: Array, center: Array, inradius: float,
               reflect: bool, drift: float = DRIFT) -> None:  # pragma: no cover - compiled
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
    checkpoint: str | Path | None = None,
    checkpoint_every: float = 60.0,
    resume: bool = False,
) -> SGDRun:
    """Run (noisy) SGD from ``centers0`` (shape ``(N, dim)``) and record the
    centres at ``times`` (rounded to the SGD grid ``t = kε``; 0 allowed).

    ``target`` is ``f(x)`` with ``x`` of shape ``(dim, n)``; labels are
    ``y = f(x) + label_noise · N(0, 1)``.

    With ``checkpoint`` (an ``.npz`` path), the state at a chunk boundary —
    centres, step ``k``, the Generator's state, the records so far — is written
    atomically every ``checkpoint_every`` seconds, at the end, and when Ctrl-C
    interrupts (the state before the interrupted chunk). ``resume=True``
    continues from that file: the same seed's run, bit for bit.
    """
    centers = np.array(centers0, dtype=np.float64, order="C")
    if centers.ndim != 2 or centers.shape[1] != domain.dim or centers.shape[0] < 1:
        raise ValueError(f"centers0 must have shape (N >= 1, {domain.dim}), got {centers.shape}")
    if not np.all(domain.contains(centers)):
        raise ValueError("every initial centre must lie in the domain")
    if kernel.dim != domain.dim:
        raise ValueError(f"kernel is {kernel.dim}-D but the domain is {domain.dim}-D")
    for name, value in (("tau", tau), ("label_noise", label_noise)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk (SGD steps per compiled call) must be a positive integer, got {chunk!r}")
    if not np.all(np.isfinite(centers)):
        raise ValueError("centers0 must be finite")
    marks = record_steps(axis, times)
    if tau > 0:  # keep the chunk of Gaussian increments in cache-sized memory (about 8 MB)
        chunk = max(16, min(chunk, 2**20 // centers.size))
    recorded: list[Array] = []
    k = 0
    if resume:
        if checkpoint is None:
            raise ValueError("resume=True needs the checkpoint path")
        k, centers, recorded = _load(Path(checkpoint), rng, marks, centers.shape)
    saver = _Saver(Path(checkpoint), checkpoint_every) if checkpoint is not None else None
    try:
        _advance(domain, target, kernel, axis, centers, marks, k, recorded, tau, label_noise, reflect, rng, chunk,
                 saver)
    except KeyboardInterrupt:
        if saver is not None:
            saver.write_boundary()
        raise
    if saver is not None:
        saver.write_boundary()
    return SGDRun(axis.time(marks), np.array(recorded), marks)


class _Saver:
    """Keeps the state at the last chunk boundary and writes it when due."""

    def __init__(self, path: Path, every: float) -> None:
        if not every >= 0:
            raise ValueError(f"checkpoint_every must be >= 0 seconds, got {every!r}")
        self.path, self.every = path, every
        self.written_at = time.monotonic()
        self.boundary: dict[str, Any] | None = None
        self.recorded: list[Array] = []
        self.n_recorded = 0

    def at_boundary(self, k: int, centers: Array, recorded: list[Array], marks: NDArray[np.int64],
                    rng: np.random.Generator) -> None:
        # the records are immutable copies: keep the list and how many belong to this boundary
        self.boundary = {"k": k, "centers": centers.copy(), "marks": marks,
                         "rng_state": json.dumps(rng.bit_generator.state)}
        self.recorded, self.n_recorded = recorded, len(recorded)
        if time.monotonic() - self.written_at >= self.every:
            self.write_boundary()

    def write_boundary(self) -> None:
        if self.boundary is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        boundary = self.boundary
        shape = (self.n_recorded, *boundary["centers"].shape)
        recorded = np.array(self.recorded[: self.n_recorded]).reshape(shape)
        atomic_write(self.path, lambda tmp: np.savez(tmp, recorded=recorded, **boundary))
        self.written_at = time.monotonic()


def _load(path: Path, rng: np.random.Generator, marks: NDArray[np.int64],
          shape: tuple[int, ...]) -> tuple[int, Array, list[Array]]:
    if not path.is_file():
        raise FileNotFoundError(f"no SGD checkpoint at {path}")
    with np.load(path) as data:
        if not np.array_equal(data["marks"], marks) or data["centers"].shape != shape:
            raise ValueError(f"checkpoint {path} belongs to another run (record times or N differ)")
        rng.bit_generator.state = json.loads(str(data["rng_state"]))
        return int(data["k"]), np.array(data["centers"]), list(np.array(data["recorded"]))


def _advance(domain: ConvexDomain, target: Target, kernel: Kernel, axis: TimeAxis, centers: Array,
             marks: NDArray[np.int64], k: int, recorded: list[Array], tau: float, label_noise: float,
             reflect: bool, rng: np.random.Generator, chunk: int, saver: _Saver | None) -> None:
    """The chunk loop from step ``k`` (the marks before it are in ``recorded``): draw
    a chunk of data and noise, run the compiled steps, record at the marks."""
    for start, m, record in chunk_plan(marks[len(recorded):], chunk, start=k):
        if m > 0:
            if saver is not None:
                saver.at_boundary(start, centers, recorded, marks, rng)
            xs = domain.sample(m, rng)
            ys = np.asarray(target(xs.T), dtype=np.float64).reshape(m)
            if not np.all(np.isfinite(ys)):
                bad = xs[~np.isfinite(ys)][0]
                raise ValueError(f"the target f is not finite at x = {bad.tolist()} (a sample of Ω): "
                                 "SGD needs a finite f on the whole domain")
            if label_noise > 0:
                ys = ys + label_noise * rng.standard_normal(m)
            steps = axis.step_sizes(start, start + m)
            noise = rng.standard_normal((m, *centers.shape)) if tau > 0 else np.empty((0, 1, 1))
            _sgd_chunk(centers, xs, ys, steps, noise_scale(steps, tau), noise, kernel.power, kernel.constant,
                       kernel.delta, domain.normals, domain.offsets, domain.center, domain.inradius, reflect)
            k = start + m
        if record:
            recorded.append(centers.copy())
    if saver is not None:
        saver.at_boundary(k, centers, recorded, marks, rng)
