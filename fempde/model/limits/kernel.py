"""The lazy limit: the kernel flow of the tangent kernel at initialisation.

With the output scale ``ŷ = (1/√N) Σ σ*(x; θ_i)`` and learning rate 1 (the
``"lazy"`` scaling of :class:`fempde.model.MeanFieldModel`) every unit moves by
``O(1/√N)``, the tangent kernel keeps its initial value, and the outputs ``u`` on
the training set ``(x_j, y_j)``, ``j < n``, obey the linear ODE

    du/dt = −κ ξ(t) (1/n) H (u − y),   H_jk = ∫ ∇_θσ*(x_j; θ) · ∇_θσ*(x_k; θ) ρ_0(dθ)

(frozen coordinates left out of the gradient; ``κ`` the model's gain), solved
exactly by :class:`KernelFlow`. As ``N → ∞`` the initial outputs are Gaussian,
``u(0) ~ N(0, K)`` with ``K_jk = ∫ σ*(x_j; θ) σ*(x_k; θ) ρ_0(dθ)``, when the initial
law gives ``∫ σ* dρ_0 = 0`` (units ``a σ(⟨w, x⟩ + b)`` with a trained output weight
of mean zero, independent of the rest: otherwise ``ŷ(0)`` grows like ``√N`` and
there is no limit). The limit's risk is the mean over that start,

    R(t) = (1/n) [ |E_t y|² + tr(E_t K E_t) ],   E_t = exp(−κ H Ξ(t)/n),   Ξ(t) = ∫_0^t ξ,

and the outputs at ``t`` are ``N(y − E_t y, E_t K E_t)``. ``H`` and ``K`` are integrals
over the initial law, by its quadrature: the only discretisation, whose error is
estimated on the refined rule (the rule is first made symmetric under ``a ↦ −a``,
which keeps the law and makes ``∫ σ* dρ_0 = 0`` exact).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ...checks import finite_array, number
from ...meanfield import TimeAxis

if TYPE_CHECKING:
    from ..declaration import MeanFieldModel
    from .refine import Trial

__all__ = ["KernelFlow", "kernel_trial", "lazy_kernels", "lazy_risk"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class KernelFlow:
    """``du/dt = −κ ξ(t) (1/n) H (u − y)``, solved exactly by ``H = V Λ Vᵀ`` (``scipy.linalg.eigh``):

        u(t) − y = V exp(−κ Λ Ξ(t)/n) Vᵀ (u(0) − y),   Ξ(t) = ∫_0^t ξ,

    and the step-``ε`` iteration ``u_{k+1} = u_k − κ s_k (1/n) H (u_k − y)``:
    ``u_k − y = V Π_{l<k}(1 − κ s_l Λ/n) Vᵀ (u_0 − y)``."""

    gram: Array
    residual0: Array
    kappa: float = 1.0
    eigenvalues: Array = field(init=False, repr=False)
    eigenvectors: Array = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from scipy.linalg import eigh

        h = finite_array("gram (the tangent Gram matrix H)", self.gram, (None, None))
        n = h.shape[0]
        if n < 1 or h.shape[1] != n:
            raise ValueError(f"gram (the tangent Gram matrix H) must be square (n, n) with n >= 1, got {h.shape}")
        r0 = finite_array("residual0 (u(0) − y)", self.residual0, (n,))
        scale = float(np.abs(h).max())
        asymmetry = float(np.abs(h - h.T).max())
        if asymmetry > 1e-12 * max(1.0, scale):
            raise ValueError(f"gram (the tangent Gram matrix H) must be symmetric, got max |H − Hᵀ| = {asymmetry:.3g}")
        kappa = number("kappa (the drift)", self.kappa, positive=True)
        lam, v = eigh(h)
        # a Gram matrix is positive semi-definite; eigh's round-off is O(n ε |H|)
        if lam[0] < -1e-12 * n * scale:
            raise ValueError(f"gram (the tangent Gram matrix H) must be positive semi-definite, got the eigenvalue "
                             f"{lam[0]:.6g} (largest |H_ij| = {scale:.3g}): give a Gram matrix J Jᵀ")
        object.__setattr__(self, "gram", h)
        object.__setattr__(self, "residual0", r0)
        object.__setattr__(self, "kappa", kappa)
        object.__setattr__(self, "eigenvalues", lam)
        object.__setattr__(self, "eigenvectors", v)

    @property
    def n(self) -> int:
        return int(self.residual0.size)

    @property
    def lambda_min(self) -> float:
        return float(self.eigenvalues[0])

    def bound_rate(self) -> float:
        """``2κ λ_min / n``: the exponential rate of the loss in rescaled time that seed 003 proves."""
        return 2.0 * self.kappa * self.lambda_min / self.n

    def residual(self, axis: TimeAxis, steps: NDArray[np.int64], *, discrete: bool = False) -> Array:
        """``u − y`` at steps ``k`` (shape ``(n, len(steps))``), of the flow at ``t = kε``
        or, ``discrete=True``, of the kernel iteration with the steps ``s_k`` of ``axis``."""
        values = finite_array("steps", steps, (None,))
        if np.any(values < 0) or np.any(values != np.round(values)):
            bad = values[(values < 0) | (values != np.round(values))]
            raise ValueError(f"steps must be integers k >= 0 (times t = kε), got {bad[:5].tolist()}")
        steps = values.astype(np.int64)
        c0 = self.eigenvectors.T @ self.residual0
        lam = self.eigenvalues[:, None]
        if discrete:
            s = axis.step_sizes(0, int(steps.max(initial=0)))
            factors = 1.0 - self.kappa * s[None, :] * lam / self.n  # (n, K)
            with np.errstate(divide="ignore"):  # a factor 0 gives log −inf, exp 0: exact
                logs = np.concatenate([np.zeros((lam.shape[0], 1)), np.cumsum(np.log(np.abs(factors)), 1)], 1)
            signs = np.concatenate([np.ones((lam.shape[0], 1)), np.cumprod(np.sign(factors), 1)], 1)
            decay = signs[:, steps] * np.exp(logs[:, steps])
        else:
            xi = np.array([axis.schedule.integral(0.0, float(t)) for t in axis.time(steps)])
            decay = np.exp(-self.kappa * lam * xi[None, :] / self.n)
        return self.eigenvectors @ (c0[:, None] * decay)


def _symmetric_rule(model: MeanFieldModel, level: int | None) -> tuple[Array, Array]:
    """The initial rule of ``level`` with every point's output weight mirrored (module docstring)."""
    from ..initial import Gaussian, Product
    from ..units import Ridge

    unit, start = model.unit, model.initial
    if not (isinstance(unit, Ridge) and unit.trains_output):
        raise ValueError("the lazy limit needs units a σ(⟨w, x⟩ + b) with a trained output weight a "
                         "(of mean zero at the start): otherwise the output grows like √N")
    column = unit.input_dim
    symmetric = (isinstance(start, Gaussian) and float(np.asarray(start.mean)[column]) == 0.0) or (
        isinstance(start, Product) and not isinstance(start.marginals[column], int | float)
        and abs(float(start.marginals[column].mean())) == 0.0)
    if not symmetric:
        raise ValueError("the lazy limit needs an initial output weight a of mean zero, independent of the rest "
                         "(a fempde.model.Gaussian or Product whose a has mean 0): otherwise ŷ(0) grows like √N")
    points, weights = start.quadrature(level)
    mirror = points.copy()
    mirror[:, column] *= -1.0
    return np.vstack([points, mirror]), np.concatenate([weights, weights]) / 2.0


def lazy_kernels(model: MeanFieldModel, level: int | None = None) -> tuple[Array, Array]:
    """``H`` and ``K`` ``(n, n)`` on the training set, by the initial rule of ``level`` (module docstring)."""
    rule = model.quadrature()
    theta, weights = _symmetric_rule(model, level)
    h = np.zeros((len(rule.weights),) * 2)
    k = np.zeros_like(h)
    mask = model.mask
    block = max(1, 2**22 // max(1, len(rule.weights) * model.dim))
    for start in range(0, len(theta), block):  # the unit's (n, P, D) gradients stay small
        part, w = theta[start:start + block], weights[start:start + block]
        values = model.unit(rule.points, part)
        grads = model.unit.gradient(rule.points, part)[:, :, mask]
        k += (values * w[None, :]) @ values.T
        h += np.einsum("jpd,p,kpd->jk", grads, w, grads)
    return h, k


def lazy_risk(flow: KernelFlow, covariance: Array, labels: Array, clock: Array) -> tuple[Array, Array, Array]:
    """The mean risk, the outputs' mean ``(T, n)`` and covariance ``(T, n, n)`` at the rescaled
    times ``clock`` ``(T,)`` of the flow from ``u(0) ~ N(0, covariance)`` (module docstring)."""
    lam, v = flow.eigenvalues, flow.eigenvectors
    decay = np.exp(-flow.kappa * np.maximum(lam, 0.0)[None, :] * clock[:, None] / flow.n)  # (T, n)
    y_modes = v.T @ labels
    k_modes = v.T @ covariance @ v
    mean = labels[None, :] - (decay * y_modes[None, :]) @ v.T
    cov_modes = decay[:, :, None] * k_modes[None, :, :] * decay[:, None, :]
    cov = np.einsum("ij,tjk,lk->til", v, cov_modes, v)
    risk = (np.sum((decay * y_modes[None, :]) ** 2, axis=1) + np.einsum("tjj->t", cov_modes)) / flow.n
    return risk, mean, cov


def kernel_trial(model: MeanFieldModel, times: Array, levels: dict[str, Any]) -> Trial:
    """The lazy limit with ``H`` and ``K`` by the initial rule of ``levels["initial"]``."""
    from .flows import clock
    from .refine import Trial
    from .result import KernelLaw

    gram, covariance = lazy_kernels(model, levels["initial"])
    labels = model.quadrature().y_mean
    flow = KernelFlow(gram, -labels, model.gain())
    risk, mean, cov = lazy_risk(flow, covariance, labels, clock(model.schedule, times))
    points, weights = model.initial.quadrature(levels["initial"])
    law = KernelLaw(points, weights, mean, cov)
    scale = np.sqrt(np.maximum(np.einsum("tjj->tj", cov) + mean**2, 1e-300))

    def distance(outputs: Array, others: Array) -> Array:
        return np.asarray(np.max(np.abs(outputs - others) / scale, axis=1))

    return Trial(levels, risk, law, flow, mean, distance)
