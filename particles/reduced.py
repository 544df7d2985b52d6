"""SGD of seed 002's Fig. 3 seen in the reduced variables of its mean-field limit.

The reduced DD of :class:`fempde.problems.anisotropic.AnisotropicGaussians`
lives on ``(a, b, r1, r2)``, ``r1 = ‖P_V w‖``, ``r2 = ‖P_V⊥ w‖``; this module
maps SGD weights there (:func:`reduced_variables`; the SGD itself is the engine's
run of :func:`fempde.model.mmn_anisotropic`), holds such a run's cloud and exact
population risk at its recorded times (:class:`ReducedSGD`), and gives the W1
distance per marginal of a cloud to weighted points of the reduced law
(:func:`marginal_w1`, what :func:`particles.crosscheck` measures for a model
declaring the symmetry).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import wasserstein_distance

from fempde.model import MeanFieldModel
from fempde.problems.anisotropic import REDUCED_VARIABLES, InitialLaw
from fempde.solvers.point_flow import check_points

__all__ = ["ReducedSGD", "fig3_sgd", "marginal_w1", "reduced_variables"]

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
        raise ValueError(f"cloud must be finite with shape (N, {p.shape[1]}) of {REDUCED_VARIABLES}, got {x.shape}")
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


def fig3_sgd(model: MeanFieldModel, s0: int, n: int, epsilon: float, times: Sequence[float],
             rng: np.random.Generator) -> ReducedSGD:
    """Fig. 3's SGD on the engine: ``n`` units of ``model`` (:func:`fempde.model.mmn_anisotropic`)
    from the paper's law (``w`` drawn from ``rng`` before the run's samples), in the reduced
    variables with their exact population risk at ``times``."""
    from fempde.model import population_risk

    from .engine import sgd

    d = model.unit.input_dim
    w0, a0, b0 = InitialLaw(0.8, 1.0, 1.0).sample(n, d, rng)
    run = sgd(model, np.column_stack([w0, a0, b0]), model.axis(epsilon), times, rng=rng)
    theta = run.theta
    assert theta is not None  # kept: keep_theta is the engine's default
    risk = np.array([population_risk(model, units).value for units in theta])
    return ReducedSGD(run.times, reduced_variables(theta[..., :d], theta[..., d], theta[..., d + 1], s0), risk)
