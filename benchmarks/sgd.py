"""SGD steps per second of the two-layer network (d = 40, N = 800) and of the
RBF network: fempde's compiled loops against a plain numpy loop of the same
update (vectorised over the units, one Python iteration per step), the
fraction of one core's DGEMM rate reached, and ensembles on 1 and 2 threads.

    python benchmarks/sgd.py          # CPU
    python benchmarks/sgd.py --gpu    # the optional PyTorch path (needs torch and a CUDA device)

Reported for the whole of ``particles.rbf_sgd`` (data sampling, labels and
noise drawn from the Generator in chunks, the compiled update, reflection) and
for the compiled update alone, noiseless and noisy.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core for the DGEMM reference

import numpy as np  # noqa: E402

import fempde  # noqa: E402
import meshes  # noqa: E402
import particles  # noqa: E402
from particles.rbf import _sgd_chunk  # noqa: E402


def target(x):
    return 1.0 + 0.0 * x[0]


def numpy_loop(centers, xs, ys, s, kernel, tau, rng, lower, upper):
    """The same update in numpy; reflection at the faces of a box."""
    n = len(centers)
    for k in range(len(xs)):
        diff = xs[k] - centers
        q = 1.0 - np.sum(diff**2, axis=1) / kernel.delta**2
        inside = np.maximum(q, 0.0)
        prediction = kernel.constant * np.sum(inside**kernel.power) / n
        grad = 2 * kernel.power * kernel.constant * inside ** (kernel.power - 1) / kernel.delta**2
        centers += 2 * s * (ys[k] - prediction) * grad[:, None] * diff
        if tau > 0:
            centers += np.sqrt(4 * s * tau) * rng.standard_normal(centers.shape)
        centers[:] = np.where(centers < lower, 2 * lower - centers, centers)
        centers[:] = np.where(centers > upper, 2 * upper - centers, centers)
    return centers


def measure(dim: int, n: int, steps: int, tau: float) -> None:
    mesh = meshes.interval(0, 1, 0.01) if dim == 1 else meshes.rectangle(h=0.05)
    domain = particles.ConvexDomain.from_mesh(mesh)
    kernel = fempde.Kernel("triweight", dim, 0.1)
    rng = np.random.default_rng(0)
    centers0 = domain.sample(n, rng)
    axis = fempde.TimeAxis(1e-5)
    particles.rbf_sgd(domain, target, kernel, centers0, axis, [10 * axis.epsilon], tau=tau, rng=rng)  # compile
    start = time.perf_counter()
    particles.rbf_sgd(domain, target, kernel, centers0, axis, [steps * axis.epsilon], tau=tau, rng=rng)
    whole = steps / (time.perf_counter() - start)

    xs, ys = domain.sample(steps, rng), np.ones(steps)
    s = np.full(steps, axis.epsilon)
    noise = rng.standard_normal((steps, n, dim)) if tau > 0 else np.empty((0, 1, 1))
    centers = centers0.copy()
    start = time.perf_counter()
    _sgd_chunk(centers, xs, ys, s, fempde.noise_scale(s, tau), noise, kernel.power, kernel.constant,
               kernel.delta, domain.normals, domain.offsets, domain.center, domain.inradius, True)
    compiled = steps / (time.perf_counter() - start)

    few = max(200, steps // 50)
    start = time.perf_counter()
    numpy_loop(centers0.copy(), xs[:few], ys[:few], axis.epsilon, kernel, tau, rng, 0.0, 1.0)
    plain = few / (time.perf_counter() - start)
    label = "noisy" if tau > 0 else "plain"
    print(f"d={dim} N={n:>6} {label:>5} SGD: rbf_sgd {whole:>11,.0f} steps/s | compiled update {compiled:>11,.0f} "
          f"steps/s | numpy loop {plain:>9,.0f} steps/s | speed-up {whole / plain:6.1f}x", flush=True)


def dgemm_rate(size: int = 1024) -> float:
    """Single-thread float64 GEMM, FLOP/s: the practical peak of one core."""
    a = np.random.default_rng(0).standard_normal((size, size))
    a @ a
    start = time.perf_counter()
    for _ in range(3):
        a @ a
    return 3 * 2 * size**3 / (time.perf_counter() - start)


def measure_dd(n: int = 800, d: int = 40, steps: int = 100_000) -> None:
    """The two-layer network of seed 002 (σ(⟨w, x⟩), d = 40, N = 800): the
    compiled update on one core, all of ``dd_sgd``, a numpy loop; then an
    ensemble of 8 such runs on 1 and on 2 threads."""
    import math

    import numba

    from particles.dd import Member, _advance, dd_ensemble, dd_sgd, sample_isotropic

    numba.set_num_threads(1)
    model = fempde.IsotropicGaussians(0.8, d)
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((n, d)) * 0.8 / math.sqrt(d)
    axis = fempde.TimeAxis(1e-4)
    dd_sgd(model, w0, axis, [10 * axis.epsilon], rng=rng)  # compile
    start = time.perf_counter()
    dd_sgd(model, w0, axis, [steps * axis.epsilon], rng=rng)
    whole = steps / (time.perf_counter() - start)
    xs, ys = sample_isotropic(model, steps, rng)
    s, sigma = np.full(steps, axis.epsilon), model.activation
    wt, a, b = np.ascontiguousarray(w0.T), np.ones(n), np.zeros(n)
    knots, jumps = np.array(sigma.knots), np.array(sigma.jumps)
    start = time.perf_counter()
    _advance(wt, a, b, xs, ys, s, steps, 0.0, s * 0, np.empty((0, 1, 1)), knots, jumps, sigma.offset,
             sigma.slope, 2.0, False)
    compiled = steps / (time.perf_counter() - start)
    few, w = 2000, w0.copy()
    start = time.perf_counter()
    for k in range(few):
        pre = w @ xs[k]
        coef = 2 * axis.epsilon * (ys[k] - sigma(pre).mean())
        w += np.outer(coef * sigma.derivative(pre), xs[k])
    plain = few / (time.perf_counter() - start)
    flops, peak = 4 * n * d, dgemm_rate()
    print(f"d={d} N={n} two-layer SGD, one core: compiled update {compiled:>9,.0f} steps/s "
          f"({compiled * flops / 1e9:.1f} GFLOP/s at 4Nd flops/step = {compiled * flops / peak:.0%} of the "
          f"{peak / 1e9:.1f} GFLOP/s of one-core DGEMM) | dd_sgd {whole:>9,.0f} steps/s | numpy loop {plain:>7,.0f} "
          f"steps/s", flush=True)
    runs, ensemble_steps = 8, steps // 4
    for threads in (1, 2):
        numba.set_num_threads(threads)
        members = [Member(w0, axis, np.random.default_rng(seed)) for seed in range(runs)]
        dd_ensemble(model, members[:2], [10 * axis.epsilon])  # compile
        start = time.perf_counter()
        dd_ensemble(model, members, [ensemble_steps * axis.epsilon])
        rate = runs * ensemble_steps / (time.perf_counter() - start)
        print(f"  ensemble of {runs} runs (seeds), {threads} thread(s): {rate:>9,.0f} steps/s in all", flush=True)


def measure_gpu(n: int = 800, d: int = 40, steps: int = 2000) -> None:
    """The optional PyTorch path on a CUDA device: ensembles of R runs of N = 800 at d = 40."""
    import math

    try:
        import torch
    except ImportError:
        print("GPU path: PyTorch is not installed (pip install torch); skipped")
        return
    if not torch.cuda.is_available():
        print("GPU path: no CUDA device; skipped")
        return
    from particles.gpu import dd_ensemble_torch

    model = fempde.IsotropicGaussians(0.8, d)
    axis = fempde.TimeAxis(1e-4)
    print(f"GPU path on {torch.cuda.get_device_name()}:")
    for dtype in ("float64", "float32"):
        for runs in (1, 16, 128, 1024):
            w0 = np.random.default_rng(0).standard_normal((runs, n, d)) * 0.8 / math.sqrt(d)
            rngs = [np.random.default_rng(seed) for seed in range(runs)]
            dd_ensemble_torch(model, w0, axis, [20 * axis.epsilon], rngs, dtype=dtype)  # warm up
            torch.cuda.synchronize()
            start = time.perf_counter()
            dd_ensemble_torch(model, w0, axis, [steps * axis.epsilon], rngs, dtype=dtype, chunk=steps)
            torch.cuda.synchronize()
            rate = runs * steps / (time.perf_counter() - start)
            print(f"  {dtype} R = {runs:>5} runs: {rate:>12,.0f} steps/s in all ({rate / runs:>9,.0f} per run)",
                  flush=True)


def main() -> None:
    import sys

    if "--gpu" in sys.argv:
        measure_gpu()
        return
    measure_dd()
    measure(1, 200, 400_000, 0.0)
    measure(1, 200, 200_000, 0.01)
    measure(2, 10_000, 20_000, 0.0)
    measure(2, 10_000, 5_000, 0.01)


if __name__ == "__main__":
    main()
