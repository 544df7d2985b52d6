"""What a population risk of N units costs (:func:`fempde.model.population_risk`),
against N, and against the exact risk it replaces.

    NUMBA_NUM_THREADS=1 python benchmarks/risk.py

Ridge units ``σ(⟨w, x⟩)`` on Mei–Montanari–Nguyen's classes at d = 40 (Δ = 0.5,
``w ~ N(0, 1.5²/d I)``): a hinge of 61 knots through tanh on [−3, 3], and tanh
itself, for N = 100 ... 1600, with the slope of log(time) against log(N) fitted
over N >= 200. Then the 61-knot hinge on units about 10° from one direction
(every pair |c| > 0.93: Mehler's series still takes them all) and about 2°
(|c| > 0.997: every pair takes the window formula, the costliest regime), and
in d = 1 (one integral); the exact risk this module replaced (a Python loop
over pairs of N² K² terms, kept below as the baseline :func:`old_population_risk`)
at N = 50 and 100, extrapolated to N = 400 with its own fitted slope; the RBF
network's mesh quadrature (with the refined rule of its estimate) and the
teacher's closed form.

Every figure is the best of a few repeats (``benchmarks/timing.py``).
"""

from __future__ import annotations

import math
import os
import time

os.environ.update(dict.fromkeys(("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"), "1"))

import numba
import numpy as np
from timing import best_of

import fempde
import meshes
from fempde.meanfield import GaussianClasses
from fempde.model import Gaussian, MeanFieldModel, Ridge, gaussian_classes, population_risk
from fempde.problems.neurons import gaussian_nodes
from fempde.scenario import script

SIZES = (100, 200, 400, 800, 1600)


def old_population_risk(sigma: fempde.Hinges, data: GaussianClasses, w: np.ndarray, nodes: int = 32) -> float:
    """``particles.dd.population_risk`` as it was before ``fempde.model.risk`` (a = 1, b = 0): per
    class, for every unit i a Gauss–Legendre rule split at σ's kinks, and for all j >= i the
    closed-form conditional mean at every node: N² K² nodes terms."""
    n = len(w)
    pair = 0.0
    linear = 0.0
    for y in (-1.0, 1.0):
        scaled = w * data.std(y)
        cov = scaled @ scaled.T
        sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        cosines = np.clip(cov / np.maximum(np.outer(sd, sd), 1e-300), -1.0, 1.0)
        linear += -0.5 * y * float(sigma.gaussian_mean(np.zeros(n), sd).sum())
        for i in range(n):
            z, wz = gaussian_nodes(sigma, sd[i], nodes)
            c, s = cosines[i, i:], sd[i:]
            inner = sigma.gaussian_mean((s * c)[:, None] * z[None, :], (s * np.sqrt(1 - c**2))[:, None])
            values = inner @ (wz * sigma(sd[i] * z))
            pair += 0.5 * (values[0] + 2.0 * values[1:].sum())
    return 1.0 + 2.0 * linear / n + pair / n**2


def slope(sizes: list[int], seconds: list[float]) -> float:
    """The fitted exponent of time against N over N >= 200."""
    keep = [k for k, n in enumerate(sizes) if n >= 200] or list(range(len(sizes)))
    return float(np.polyfit(np.log([sizes[k] for k in keep]), np.log([seconds[k] for k in keep]), 1)[0])


def row(label: str, n: int, seconds: float, value: float, error: float) -> None:
    pairs = n * (n + 1) / 2
    print(f"{label:<34} {n:>5} {seconds:>10.4f} {pairs / seconds:>12.3e} {value:>20.15f} {error:>9.1e}")


def scan(label: str, model: MeanFieldModel, draw, sizes=SIZES) -> list[float]:
    seconds = []
    for n in sizes:
        theta = draw(n)
        population_risk(model, theta)  # compiled and cached
        best, risk = best_of(lambda theta=theta: population_risk(model, theta), min_seconds=2.0, max_runs=10)
        seconds.append(best)
        row(label, n, best, risk.value, risk.error)
    fitted = [n for n in sizes if n >= 200] or list(sizes)
    print(f"{label:<34} slope in N over N = {fitted[0]}..{fitted[-1]}: {slope(list(sizes), seconds):.2f}")
    return seconds


def main() -> None:
    parser = script.parser(__doc__, __file__, "N = 200, 400 for the 61-knot hinge and the teacher only")
    args = parser.parse_args()
    with script.report(script.output(args, parser) / "risk.txt"):
        _run(args.quick)


def _run(quick: bool) -> None:
    rng = np.random.default_rng(20261201)
    d = 40
    xs = np.linspace(-3, 3, 61)
    hinge61 = fempde.Hinges.through(list(zip(xs, np.tanh(xs), strict=True)))
    classes = gaussian_classes(0.5, d)
    start = Gaussian(np.zeros(d), 1.5 / math.sqrt(d))
    print(f"threads: NUMBA_NUM_THREADS = {numba.get_num_threads()}; BLAS on one thread")
    print(f"{'risk':<34} {'N':>5} {'seconds':>10} {'pairs/s':>12} {'value':>20} {'error':>9}")

    hinge_model = MeanFieldModel(Ridge(hinge61, d), classes, start)
    if quick:
        scan("hinge, 61 knots, d = 40", hinge_model, lambda n: hinge_model.sample_initial(n, rng), sizes=(200, 400))
        teacher = fempde.model.chizat_bach()
        scan("Chizat–Bach teacher, closed form", teacher, lambda n: teacher.sample_initial(n, rng), sizes=(200, 400))
        return
    hinge_seconds = scan("hinge, 61 knots, d = 40", hinge_model, lambda n: hinge_model.sample_initial(n, rng))
    tanh_model = MeanFieldModel(Ridge("tanh", d), classes, start)
    scan("tanh, d = 40", tanh_model, lambda n: tanh_model.sample_initial(n, rng))

    def aligned(degrees: float):
        def draw(n: int) -> np.ndarray:  # about `degrees` from the first axis
            directions = np.zeros((n, d))
            directions[:, 0] = 1.0
            directions[:, 1:] = rng.standard_normal((n, d - 1)) * math.tan(math.radians(degrees)) / math.sqrt(d - 1)
            return 1.5 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
        return draw

    scan("hinge 61, within 10° (|c| > 0.93)", hinge_model, aligned(10), sizes=(100, 200, 400))
    scan("hinge 61, within 2° (|c| > 0.997)", hinge_model, aligned(2), sizes=(50, 100))
    line_model = MeanFieldModel(Ridge(hinge61, 1), gaussian_classes(0.5, 1), Gaussian(np.zeros(1), 1.5))
    scan("hinge, 61 knots, d = 1", line_model, lambda n: line_model.sample_initial(n, rng))

    old_sizes, old_seconds = [50, 100], []
    for n in old_sizes:
        w = hinge_model.sample_initial(n, rng)
        begin = time.perf_counter()
        value = old_population_risk(hinge61, classes.classes, w)
        old_seconds.append(time.perf_counter() - begin)
        new = population_risk(hinge_model, w)
        row("old exact loop, hinge 61, d = 40", n, old_seconds[-1], value, abs(value - new.value))
    exponent = math.log(old_seconds[1] / old_seconds[0]) / math.log(2)
    at_400 = old_seconds[1] * 4**exponent
    print(f"old exact loop: slope {exponent:.2f}; extrapolated to N = 400: {at_400:.0f} s; new at N = 400: "
          f"{hinge_seconds[2]:.3f} s; ratio {at_400 / hinge_seconds[2]:.0f}")
    print("(the error column of the old rows is |old − new|)")

    mesh = meshes.disk(h=0.05)
    rbf = fempde.model.jmm_rbf(mesh, lambda x: 1 - x[0] ** 2 - x[1] ** 2, 0.2)
    scan("RBF bumps, disk h = 0.05, δ = 0.2", rbf, lambda n: rbf.sample_initial(n, rng))
    teacher = fempde.model.chizat_bach()
    scan("Chizat–Bach teacher, closed form", teacher, lambda n: teacher.sample_initial(n, rng))


if __name__ == "__main__":
    main()
