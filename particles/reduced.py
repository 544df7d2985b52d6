"""SGD of seed 002's Fig. 3 seen in the reduced variables of its mean-field limit.

The reduced DD of :class:`fempde.problems.anisotropic.AnisotropicGaussians`
lives on ``(a, b, r1, r2)``, ``r1 = ‖P_V w‖``, ``r2 = ‖P_V⊥ w‖``; this module
maps SGD weights there (:func:`reduced_variables`), runs the paper's SGD
(``a_i = b_i = 1``, ``w_i ~ N(0, κ²/d I)``) with its exact population risk on
the PDE's output times (:func:`reduced_sgd`), and measures the cloud against the
weighted points of :func:`fempde.solvers.point_flow.point_flow`: risk gap,
mean gaps and the W1 distance per marginal (:func:`compare`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import wasserstein_distance

from fempde.meanfield import GaussianClasses, TimeAxis
from fempde.solvers.point_flow import PointFlow, check_points

from .dd import Network, dd_sgd, population_risk

__all__ = ["Comparison", "ReducedSGD", "compare", "marginal_w1", "reduced_sgd", "reduced_variables"]

Array = NDArray[np.float64]


def reduced_variables(weights: Array, output: Array, offset: Array, s0: int) -> Array:
    """``(a, b, ‖w_{:s0}‖, ‖w_{s0:}‖)`` of every unit: ``weights`` ``(..., N, d)``,
    ``output`` and ``offset`` ``(..., N)``, result ``(..., N, 4)``."""
    w = np.asarray(weights, dtype=np.float64)
    if isinstance(s0, bool) or not isinstance(s0, (int, np.integer)) or not 1 <= s0 <= w.shape[-1]:
        raise ValueError(f"s0 (the dimension of V) must be an integer in [1, d = {w.shape[-1]}], got {s0!r}")
    a, b = np.asarray(output, dtype=np.float64), np.asarray(offset, dtype=np.float64)
    if a.shape != w.shape[:-1] or b.shape != w.shape[:-1]:
        raise ValueError(f"output and offset must have shape {w.shape[:-1]}, got {a.shape} and {b.shape}")
    r1 = np.linalg.norm(w[..., :s0], axis=-1)
    r2 = np.linalg.norm(w[..., s0:], axis=-1)
    return np.stack([a, b, r1, r2], axis=-1)


def marginal_w1(cloud: Array, points: Array, weights: Array) -> Array:
    """W1 between the SGD cloud (``(N, 4)``, equal weights) and the weighted points
    (``(M, 4)``), one coordinate at a time: shape ``(4,)``. Radii are compared in
    absolute value (ψ is even in them)."""
    x = np.asarray(cloud, dtype=np.float64)
    p, w = check_points(points, weights)
    if x.ndim != 2 or x.shape[1] != p.shape[1] or not np.all(np.isfinite(x)):
        raise ValueError(f"cloud must be finite with shape (N, {p.shape[1]}), got {x.shape}")
    out = np.empty(p.shape[1])
    for c in range(p.shape[1]):
        u, v = (np.abs(x[:, c]), np.abs(p[:, c])) if c >= 2 else (x[:, c], p[:, c])
        out[c] = wasserstein_distance(u, v, v_weights=w)
    return out


@dataclass(frozen=True)
class ReducedSGD:
    """``cloud[k]``: the units' ``(a, b, r1, r2)`` at ``times[k]`` (``(N, 4)``);
    ``risk[k]``: the exact population risk ``R_N``."""

    times: Array
    cloud: Array
    risk: Array

    def means(self) -> Array:
        return np.asarray(self.cloud.mean(axis=1))


def reduced_sgd(data: GaussianClasses, n: int, axis: TimeAxis, times: Sequence[float], rng: np.random.Generator,
                *, kappa: float = 0.8, output: float = 1.0, offset: float = 1.0, nodes: int = 16) -> ReducedSGD:
    """Seed 002's Fig. 3 SGD: ``n`` ReLU units ``a ReLU(⟨w, x⟩ + b)`` with ``a, b``
    trained, started at ``a = output``, ``b = offset``, ``w ~ N(0, κ²/d I)`` (drawn
    from ``rng`` before the run's samples), recorded at ``times``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n (the number of units) must be an integer >= 1, got {n!r}")
    for name, value in (("kappa", kappa), ("output", output), ("offset", offset)):
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    net = Network(data, "relu", fit_output=True)
    w0 = rng.standard_normal((n, data.d)) * (kappa / math.sqrt(data.d))
    run = dd_sgd(net, w0, axis, times, output0=np.full(n, float(output)), offset0=np.full(n, float(offset)),
                 rng=rng)
    risk = np.array([population_risk(net, w, a, b, nodes=nodes)
                     for w, a, b in zip(run.weights, run.output, run.offset, strict=True)])
    return ReducedSGD(run.times, reduced_variables(run.weights, run.output, run.offset, data.s0), risk)


@dataclass(frozen=True)
class Comparison:
    """SGD against the reduced PDE on their common times: ``risk_gap[k] = R_N − R``,
    ``mean_gap[k]`` (4,) the SGD mean minus the PDE mean per coordinate,
    ``w1[k]`` (4,) the W1 distance per marginal."""

    times: Array
    risk_gap: Array
    mean_gap: Array
    w1: Array

    @property
    def sup_risk_gap(self) -> float:
        """``sup_t |R_N − R_PDE|`` over the recorded times."""
        return float(np.abs(self.risk_gap).max())


def compare(flow: PointFlow, sgd: ReducedSGD) -> Comparison:
    """The gaps between ``sgd`` and ``flow`` at the times both recorded (to 1e-9)."""
    pairs = [(i, j) for i, t in enumerate(flow.times) for j, s in enumerate(sgd.times) if abs(t - s) <= 1e-9]
    if not pairs:
        raise ValueError(f"the PDE (times {flow.times.tolist()}) and SGD (times {sgd.times.tolist()}) share no time")
    i, j = (np.array(v) for v in zip(*pairs, strict=True))
    pde_means = flow.means()[i]
    pde_means[:, 2:] = np.einsum("tmc,m->tc", np.abs(flow.points[i][:, :, 2:]), flow.weights)
    w1 = np.array([marginal_w1(sgd.cloud[q], flow.points[p], flow.weights) for p, q in pairs])
    return Comparison(flow.times[i], sgd.risk[j] - flow.risk[i], sgd.means()[j] - pde_means, w1)
