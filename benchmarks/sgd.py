"""SGD steps per second of the two-layer network (d = 40, N = 800) and of the
RBF network: fempde's compiled loops against a plain numpy loop of the same
update (vectorised over the units, one Python iteration per step), the
fraction of one core's flop floor reached, and ensembles on 1 and 2 threads.

    python benchmarks/sgd.py          # CPU
    python benchmarks/sgd.py --gpu    # the optional PyTorch path (needs torch and a CUDA device)

The two-layer figures: the whole of ``particles.sgd`` of
:func:`fempde.model.mmn_isotropic` (data drawn from the
Generator in blocks of steps, the compiled update, the records), timed
unprofiled, and where its time goes, from profiled runs apart (the compiled
update, the data draws, the rest), against the
floor of 4Nd flops a step at the float64 DGEMM rate of one core, which the
script measures itself (numpy, one BLAS thread). Then the noisy runs, whose
Gaussian increments are computed inside the compiled loops
(:mod:`particles.noise`): for the two-layer network the N d normals a step
cost more than the 4Nd flops, so their rate is also given as normals/s.

Every figure is the best of several short repeats (``benchmarks/timing.py``):
other processes share the cores, and a short run is more likely to find the
core to itself.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.update(dict.fromkeys(("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"), "1"))  # one core

import numpy as np
from timing import best_rate, profile_parts

import fempde
import meshes
import particles
from fempde.meanfield import noise_scale
from fempde.model import jmm_rbf, mmn_isotropic
from fempde.scenario import script
from particles.kernels.bump import _sgd_chunk


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


def measure(dim: int, n: int, steps: int, tau: float) -> float:
    """RBF SGD: the whole ``particles.sgd`` of :func:`fempde.model.jmm_rbf`, its compiled update
    alone, a numpy loop; returns the whole's rate."""
    mesh = meshes.interval(0, 1, 0.01) if dim == 1 else meshes.rectangle(h=0.05)
    domain = particles.ConvexDomain.from_mesh(mesh)
    kernel = fempde.Kernel("triweight", dim, 0.1)
    rng = np.random.default_rng(0)
    centers0 = domain.sample(n, rng)
    model = jmm_rbf(mesh, target, kernel.delta, tau=tau, kernel=kernel.name)
    axis = model.axis(1e-5)
    particles.sgd(model, centers0, axis, [10 * axis.epsilon], rng=rng)  # compile
    whole = best_rate(lambda: particles.sgd(model, centers0, axis, [steps * axis.epsilon], rng=rng), steps)
    xs, ys = domain.sample(steps, rng), np.ones(steps)
    s = np.full(steps, axis.epsilon)
    stds = noise_scale(s, tau) if tau > 0 else np.empty(0)

    def update() -> None:
        _sgd_chunk(centers0.copy(), xs, ys, s, stds, np.uint64(12345), 0, kernel.power, kernel.constant,
                   kernel.delta, domain.normals, domain.offsets, domain.center, domain.inradius, True)

    compiled = best_rate(update, steps)
    few = max(200, steps // 50)
    plain = best_rate(lambda: numpy_loop(centers0.copy(), xs[:few], ys[:few], axis.epsilon, kernel, tau, rng, 0.0,
                                         1.0), few, max_runs=2)
    label = "noisy" if tau > 0 else "plain"
    print(f"d={dim} N={n:>6} {label:>5} SGD: engine {whole:>11,.0f} steps/s | compiled update {compiled:>11,.0f} "
          f"steps/s | numpy loop {plain:>9,.0f} steps/s | speed-up {whole / plain:6.1f}x", flush=True)
    return whole


def dgemm_rate(size: int = 1024) -> float:
    """Single-thread float64 GEMM, FLOP/s (best of several): the practical peak of one core."""
    a = np.random.default_rng(0).standard_normal((size, size))
    a @ a
    return best_rate(lambda: a @ a, 2 * size**3, max_runs=8)


def measure_dd(n: int = 800, d: int = 40, steps: int = 8192) -> None:
    """The two-layer network of seed 002 (σ(⟨w, x⟩), d = 40, N = 800) on one core:
    all of ``particles.sgd`` and its parts, the floor, a numpy loop, the noisy run;
    then an ensemble of 8 such runs on 1 and on 2 threads."""
    import math

    import numba

    from particles.dd import sample_isotropic

    numba.set_num_threads(1)
    model = fempde.IsotropicGaussians(0.8, d)
    network, noisy_network = mmn_isotropic(0.8, d), mmn_isotropic(0.8, d, beta=100.0)
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((n, d)) * 0.8 / math.sqrt(d)
    axis = network.axis(1e-4)
    particles.sgd(network, w0, axis, [10 * axis.epsilon], rng=rng)  # compile
    particles.sgd(noisy_network, w0, axis, [10 * axis.epsilon], rng=rng)

    def run() -> object:
        return particles.sgd(network, w0, axis, [steps * axis.epsilon], rng=rng)

    whole = best_rate(run, steps, min_seconds=3.0, max_runs=40)  # unprofiled: the headline
    parts = profile_parts(run, steps, {"update": ("particles/kernels/ridge.py", "advance"),
                                       "data": ("particles/plan.py", "take")})
    xs, ys = sample_isotropic(model, 2000, rng)
    sigma = model.activation
    few, w = 2000, w0.copy()
    start = time.perf_counter()
    for k in range(few):
        pre = w @ xs[k]
        coef = 2 * axis.epsilon * (ys[k] - sigma(pre).mean())
        w += np.outer(coef * sigma.derivative(pre), xs[k])
    plain = few / (time.perf_counter() - start)
    flops, peak = 4 * n * d, dgemm_rate()
    floor = peak / flops
    print(f"d={d} N={n} two-layer SGD, one core, float64: engine {whole:>9,.0f} steps/s = {whole / floor:.0%} of the "
          f"flop floor ({floor:,.0f} steps/s: 4Nd flops a step at the {peak / 1e9:.1f} GFLOP/s of one-core DGEMM) "
          f"| numpy loop {plain:>7,.0f} steps/s", flush=True)
    compiled = 1 / parts["update"]
    print(f"  where a step's {1e6 * parts['total']:.2f} us go (the fastest of 5 profiled runs): compiled update "
          f"{1e6 * parts['update']:.2f} us ({compiled:,.0f} steps/s = {compiled / floor:.0%} of the floor), "
          f"data (x, y) in blocks {1e6 * parts['data']:.2f} us, the rest (chunks, records, Python, profiler) "
          f"{1e6 * (parts['total'] - parts['update'] - parts['data']):.2f} us", flush=True)
    noisy_steps = 2000
    noisy = best_rate(lambda: particles.sgd(noisy_network, w0, axis, [noisy_steps * axis.epsilon], rng=rng),
                      noisy_steps, max_runs=5)
    print(f"  noisy (beta = 100): engine {noisy:>9,.0f} steps/s = {noisy / whole:.2f} of the noiseless rate "
          f"({noisy * n * d / 1e6:,.0f}M normals/s drawn in the compiled loop)", flush=True)
    runs, ensemble_steps = 8, steps // 2
    for threads in (1, 2):
        numba.set_num_threads(threads)
        members = [particles.Member(w0, axis, np.random.default_rng(seed)) for seed in range(runs)]
        particles.ensemble(network, members[:2], [10 * axis.epsilon])  # compile
        rate = best_rate(lambda members=members: particles.ensemble(network, members, [ensemble_steps * axis.epsilon]),
                         runs * ensemble_steps, max_runs=3)
        print(f"  ensemble of {runs} runs (seeds), {threads} thread(s): {rate:>9,.0f} steps/s in all", flush=True)
    numba.set_num_threads(1)


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
    for dtype in ("float64",):  # the engine's device path runs in float64 (round-off agreement with the CPU)
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
    parser = script.parser(__doc__, __file__, "the two-layer network and the 1-D RBF network, shorter runs")
    parser.add_argument("--gpu", action="store_true", help="the optional PyTorch path (needs torch and a CUDA device)")
    args = parser.parse_args()
    with script.report(script.output(args, parser) / ("sgd_gpu.txt" if args.gpu else "sgd.txt")):
        _run(args)


def _run(args: argparse.Namespace) -> None:
    if args.gpu:
        measure_gpu()
        return
    if args.quick:
        measure_dd(steps=1024)
        measure(1, 200, 40_000, 0.0)
        return
    measure_dd()
    measure(1, 200, 400_000, 0.0)
    measure(1, 200, 200_000, 0.01)
    plain = measure(2, 10_000, 20_000, 0.0)
    noisy = measure(2, 10_000, 5_000, 0.01)
    print(f"  d=2 N=10000: noisy RBF SGD at {noisy / plain:.2f} of the noiseless rate")


if __name__ == "__main__":
    main()
