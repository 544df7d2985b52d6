"""Steps per second of the SGD engine (``particles.sgd``): the generic kernel against
each specialised one on the same problem, noiseless and noisy; a user's own
compiled activation against the built-in one; ensembles on one and two threads.

    python benchmarks/engine.py            # about two minutes; figures in benchmarks/results/engine.txt

Every figure is the whole ``particles.sgd`` call (data drawn in blocks, the
compiled steps, the records) on a warm process, the best of short repeats
(``benchmarks/timing.py``); the kernels compile once per process before the
timing. A ratio above 1 means the first is faster.

* **specialised against generic**: the fused ridge kernel on Mei–Montanari–Nguyen's
  network (d = 40, N = 800, the paper's piecewise-linear σ); the batched ridge
  kernel on the lazy network (tanh, m = 1000, gradient descent on 50 points); the 2-homogeneous
  kernel on Chizat–Bach's students (m = 1000: full-batch gradient descent on the
  256-point circle rule, and SGD); the RBF kernel (triweight bumps, d = 1,
  N = 200 and d = 2, N = 2000);
* **a user's activation**: ``fempde.model.Compiled`` of numba-compiled functions
  against the built-in σ on the same network (tanh; and the paper's
  piecewise-linear σ written by hand against the built-in hinges), through the
  kernel the engine picks;
* **ensembles**: 8 runs of the d = 40 network, one and two threads;
* **noisy / noiseless**: the rate of each noisy run against the noiseless one.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import replace

os.environ.update(dict.fromkeys(("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"), "1"))
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import numba
import numpy as np
from timing import best_rate

import fempde
import meshes
import particles
from fempde.model import Compiled, Gaussian, MeanFieldModel, Ridge, gaussian_classes
from fempde.scenario import script

warnings.simplefilter("ignore", particles.StepSizeWarning)  # the rates, not the dynamics, are measured here
SECONDS = 0.5  # each figure: the fastest of repeats of at least this long in all


@numba.njit
def user_tanh(z):  # pragma: no cover - compiled
    return math.tanh(z)


@numba.njit
def user_tanh_slope(z):  # pragma: no cover - compiled
    t = math.tanh(z)
    return 1.0 - t * t


@numba.njit
def user_hinge(z):  # pragma: no cover - compiled
    """Seed 002's σ by hand: −2.5 below 0.5, 7.5 above 1.5, linear between."""
    return -2.5 + 10.0 * min(max(z - 0.5, 0.0), 1.0)


@numba.njit
def user_hinge_slope(z):  # pragma: no cover - compiled
    return 10.0 if 0.5 < z < 1.5 else 0.0


def rate(model, theta0, epsilon, steps, *, kernel="auto", batch=1, seed=0):
    """Steps/s of ``particles.sgd`` over ``steps`` steps (after one compiling call)."""
    axis = model.axis(epsilon)

    def run(count):
        return particles.sgd(model, theta0, axis, [count * epsilon], rng=np.random.default_rng(seed), batch=batch,
                             kernel=kernel)

    name = run(3).kernel
    return best_rate(lambda: run(steps), steps, min_seconds=SECONDS, max_runs=5), name


def compare(label, model, theta0, epsilon, steps, batch=1, beta=None):
    """The specialised kernel against the generic one, noiseless and noisy."""
    rates = {}
    for noisy in (False, True):
        m = model if not noisy else replace(model, beta=beta)
        for kernel in ("auto", "generic"):
            rates[noisy, kernel] = rate(m, theta0, epsilon, steps if kernel == "auto" else max(steps // 10, 50),
                                        kernel=kernel, batch=batch)
    name = rates[False, "auto"][1]
    for noisy in (False, True):
        fast, slow = rates[noisy, "auto"][0], rates[noisy, "generic"][0]
        print(f"{label:<44} {'noisy' if noisy else 'plain':>5}: {name} {fast:>10,.0f} steps/s | generic "
              f"{slow:>9,.0f} steps/s | specialised/generic {fast / slow:6.1f}x")
    for kernel in ("auto", "generic"):
        print(f"{'':<44} noisy/noiseless ({rates[True, kernel][1]}): "
              f"{rates[True, kernel][0] / rates[False, kernel][0]:.2f}")


def mmn(d=40, activation="piecewise-linear", beta=math.inf):
    return MeanFieldModel(Ridge(activation, d), gaussian_classes(0.8, d), Gaussian(np.zeros(d), 0.8 / math.sqrt(d)),
                          beta=beta, name="mmn")


def specialised_against_generic():
    print("# specialised kernel against the generic one, same problem, same seed")
    model = mmn()
    compare("ridge: MMN d=40 N=800, piecewise-linear", model, model.sample_initial(800, np.random.default_rng(1)),
            1e-4, 20_000, beta=100.0)
    data = particles.TrainingSet.sphere(50, 5, np.random.default_rng(6))
    lazy = fempde.model.lazy_network(fempde.model.FiniteData(data.x, data.y))
    compare("batched: lazy tanh m=1000, GD on 50 points", lazy, lazy.sample_initial(1000, np.random.default_rng(7)),
            1.0, 200, batch="full", beta=1e4)
    teacher = fempde.model.chizat_bach()
    theta0 = teacher.sample_initial(1000, np.random.default_rng(2))
    compare("homogeneous: Chizat-Bach m=1000, GD 256 pts", teacher, theta0, 0.02, 100, batch="full", beta=1e4)
    compare("homogeneous: Chizat-Bach m=1000, SGD", teacher, theta0, 1e-3, 20_000, beta=1e4)
    for dim, n, mesh in ((1, 200, meshes.interval(0, 1, 0.01)), (2, 2000, meshes.disk(h=0.1))):
        rbf = fempde.model.jmm_rbf(mesh, lambda x: 1.0 + 0.0 * x[0], 0.2)
        compare(f"bump: RBF d={dim} N={n}", rbf, rbf.sample_initial(n, np.random.default_rng(3)), 1e-5, 20_000,
                beta=10.0)


def users_activation():
    print("# a user's compiled activation against the built-in one, same network and seed (the kernel the engine"
          " picks)")
    for d in (40, 4):
        theta0 = mmn(d).sample_initial(800, np.random.default_rng(4))
        pairs = (("tanh", "tanh", Compiled(user_tanh, user_tanh_slope, name="user tanh")),
                 ("piecewise-linear", "piecewise-linear", Compiled(user_hinge, user_hinge_slope, kinks=(0.5, 1.5),
                                                                  name="user hinge")))
        for label, builtin, own in pairs:
            for kernel in ("auto", "generic"):
                steps = 20_000 if kernel == "auto" else 2000
                (ours, name), (theirs, _) = (rate(mmn(d, sigma), theta0, 1e-4, steps, kernel=kernel)
                                             for sigma in (builtin, own))
                print(f"d={d:>2} N=800 {label:<17} {name:>7}: built-in {ours:>9,.0f} steps/s | user's "
                      f"{theirs:>9,.0f} steps/s | built-in/user {ours / theirs:5.2f}")


def ensembles():
    print(f"# ensembles of the d=40 N=800 network (NUMBA_NUM_THREADS = {numba.config.NUMBA_NUM_THREADS})")
    model = mmn()
    rng = np.random.default_rng(5)
    members = [particles.Member(model.sample_initial(800, g), model.axis(1e-4), g) for g in rng.spawn(8)]
    steps = 5000
    for threads in (1, 2):
        numba.set_num_threads(threads)
        particles.ensemble(model, members[:2], [3e-4])
        total = best_rate(lambda: particles.ensemble(model, members, [steps * 1e-4]), 8 * steps,
                          min_seconds=SECONDS, max_runs=3)
        print(f"8 runs, {threads} thread(s): {total:>10,.0f} steps/s in all")
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def main() -> None:
    parser = script.parser(__doc__, __file__, "the specialised kernels against the generic one only")
    args = parser.parse_args()
    with script.report(script.output(args, parser) / "engine.txt"):
        specialised_against_generic()
        if not args.quick:
            users_activation()
            ensembles()


if __name__ == "__main__":
    main()
