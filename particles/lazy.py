"""Lazy (1/√m, neural tangent kernel) against mean-field (1/m) training of a
two-layer network on a fixed training set (seed 003, Li; Du et al.):

    f(x) = (α/m) Σ_i a_i σ(⟨w_i, x⟩),   θ_i = (a_i, w_i) ∈ R^{1+d},
    L(θ) = (1/2n) Σ_j (f(x_j) − y_j)²,

trained by full-batch gradient descent ``θ ← θ − s_k η ∇_θ L`` on a
:class:`fempde.meanfield.TimeAxis` (time ``t = kε``, step ``s_k = ∫ξ``).

**Time scaling.** With ``φ_ij = ∇_θ[a σ(⟨w, x_j⟩)]`` at ``θ_i`` and the
normalised tangent Gram matrix ``H = (1/m) Σ_i φ_i φ_iᵀ`` (``n × n``, of order
one in both scalings), the outputs ``u_j = f(x_j)`` of the gradient flow obey

    du/dt = −η (α²/m) (1/n) H(θ(t)) (u − y).

The learning rate is therefore ``η = κ m / α²``, and ``du/dt = −κ ξ (1/n) H (u − y)``:

* **lazy**, ``α = √m``, ``κ = 1``: ``η = 1``, a step size independent of m.
  Each unit moves ``θ̇_i = −(1/√m)(1/n) Σ_j r_j φ_ij = O(1/√m)``, so ``H`` stays
  at its initial value and GD follows the linear kernel flow
  ``du/dt = −ξ (1/n) H(0) (u − y)`` (seed 003's Gram matrix; :class:`KernelFlow`);
* **mean-field**, ``α = 1``, ``κ = DRIFT``: ``η = DRIFT·m``, a step size that grows
  like m. Then ``θ̇_i = −DRIFT ξ ∇Ψ(θ_i; ρ̂)`` with
  ``Ψ(θ; ρ) = V(θ) + ∫ U(θ, θ') ρ(dθ')`` on the empirical data law, which is the
  particle system of fempde's ``∂_t ρ = DRIFT ξ ∇·(ρ ∇Ψ)`` (:mod:`fempde.meanfield`):
  the units move by O(1) and the loss curve has an m-independent limit.

**What the kernel limit is.** At a fixed step ``ε`` the m → ∞ limit of lazy GD is
the linear iteration ``u ← u − s_k (1/n) H(0)(u − y)`` (the linearised network
is linear in θ), solved exactly like the flow by the eigendecomposition of
``H(0)``; the flow is its ε → 0 limit. :meth:`KernelFlow.residual` gives both,
so a width gap and a step-size gap are measured apart. The smallest eigenvalue
``λ_min(H)`` bounds the decay ``L(t) ≤ L(0) exp(−2κ λ_min Ξ(t)/n)`` (seed 003's
exponential rate, reached as t → ∞).

Inputs lie on the unit sphere, so ``⟨w_i, x⟩ ~ N(0, w_scale²)`` in every
dimension (seed 003's assumption 2). The default activation is ``tanh``:
bounded with bounded derivatives (seed 003's assumption 3) and, unlike the
sigmoid, its tangent kernel on 50 points in d = 5 is well enough conditioned
(λ_min ≈ 0.035 against ≈ 1e-5 for the sigmoid) for its rate to be seen.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from fempde.checks import finite_array, generator, integer, number
from fempde.meanfield import DRIFT, Constant, Schedule, TimeAxis
from fempde.model import FiniteData, MeanFieldModel, lazy_network
from fempde.model.limits.kernel import KernelFlow

from .batch import FULL
from .engine import sgd

__all__ = [
    "DIVERGENCE", "SMOOTH_ACTIVATIONS", "GDRun", "KernelFlow", "Regime", "TrainingSet", "TwoLayer", "declaration",
    "drift", "gradient_descent", "learning_rate", "loss", "loss_rate", "output_scale", "smooth_target",
]

Array = NDArray[np.float64]
Regime = Literal["lazy", "mean-field"]
REGIMES: tuple[Regime, ...] = ("lazy", "mean-field")


def _tanh(z: Array) -> tuple[Array, Array]:
    s = np.tanh(z)
    return s, 1.0 - s * s


def _sigmoid(z: Array) -> tuple[Array, Array]:
    s = 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow of exp for large |z|
    return s, s * (1.0 - s)


SMOOTH_ACTIVATIONS: dict[str, Callable[[Array], tuple[Array, Array]]] = {"tanh": _tanh, "sigmoid": _sigmoid}
"""σ and σ' of each smooth activation, evaluated together (both come from one exp);
not :data:`fempde.problems.ACTIVATIONS`, the hinges of the PDE problems."""

DIVERGENCE = 1e4
"""GD stops with ``FloatingPointError`` once the loss exceeds ``DIVERGENCE · L(0)``
(gradient descent at a stable step does not raise the loss by orders of magnitude)."""


def _features(activation: str, x: Array, w: Array) -> tuple[Array, Array]:
    """``S = σ(X Wᵀ)`` and ``σ'(X Wᵀ)``, shape ``(n, m)`` each."""
    return SMOOTH_ACTIVATIONS[activation](x @ w.T)


def _gram(s: Array, ds: Array, a: Array, x: Array) -> Array:
    """``H = (1/m)[S Sᵀ + (G Gᵀ) ∘ (X Xᵀ)]``, ``G = a σ'(X Wᵀ)``: the tangent Gram matrix."""
    g = ds * a
    return (s @ s.T + (g @ g.T) * (x @ x.T)) / a.size


def _regime(regime: object) -> Regime:
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {REGIMES}, got {regime!r}")
    return regime  # type: ignore[return-value]


def output_scale(regime: Regime, m: int) -> float:
    """α: ``√m`` (lazy, the NTK scaling of seed 003) or ``1`` (mean-field)."""
    m = integer("m (the number of units)", m)
    return math.sqrt(m) if _regime(regime) == "lazy" else 1.0


def drift(regime: Regime) -> float:
    """κ in ``du/dt = −κ ξ (1/n) H (u − y)``: 1 for the kernel flow of seed 003,
    fempde's :data:`~fempde.meanfield.DRIFT` for the mean-field particle system."""
    return 1.0 if _regime(regime) == "lazy" else DRIFT


def learning_rate(regime: Regime, m: int) -> float:
    """η = κ m / α² in ``θ ← θ − s_k η ∇L``: 1 (lazy) or ``DRIFT · m`` (mean-field)."""
    return drift(regime) * m / output_scale(regime, m) ** 2


def smooth_target(x: Array) -> Array:
    """``y = sin(2⟨v, x⟩) + ½ ⟨v, x⟩²`` with ``v = (1, …, 1)/√d``: smooth, not a polynomial."""
    z = x.sum(axis=1) / math.sqrt(x.shape[1])
    return np.sin(2.0 * z) + 0.5 * z * z


@dataclass(frozen=True)
class TrainingSet:
    """``n`` fixed training points ``x`` (shape ``(n, d)``) with labels ``y`` (shape ``(n,)``)."""

    x: Array
    y: Array

    def __post_init__(self) -> None:
        x = finite_array("x (the training inputs)", self.x, (None, None))
        if x.shape[0] < 1 or x.shape[1] < 1:
            raise ValueError(f"x (the training inputs) must have shape (n, d) with n, d >= 1, got {x.shape}")
        y = finite_array("y (the labels)", self.y, (x.shape[0],))
        object.__setattr__(self, "x", np.ascontiguousarray(x, dtype=np.float64))
        object.__setattr__(self, "y", np.ascontiguousarray(y, dtype=np.float64))

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @property
    def d(self) -> int:
        return int(self.x.shape[1])

    @classmethod
    def sphere(cls, n: int, d: int, rng: np.random.Generator,
               target: Callable[[Array], Array] = smooth_target) -> TrainingSet:
        """``n`` points uniform on the unit sphere of R^d, labelled by ``target``."""
        n, d = integer("n (the number of training points)", n), integer("d (the input dimension)", d, minimum=2)
        x = generator("rng", rng).standard_normal((n, d))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return cls(x, np.asarray(target(x), dtype=np.float64))


def loss(residual: Array) -> Array:
    """``L = (1/2n) Σ_j r_j²`` of residuals ``r`` (shape ``(n,)`` or ``(n, times)``)."""
    return 0.5 * np.mean(residual * residual, axis=0)


@dataclass(frozen=True)
class TwoLayer:
    """``f(x) = (alpha/m) Σ_i a_i σ(⟨w_i, x⟩)``: ``a`` of shape ``(m,)``, ``w`` of shape ``(m, d)``."""

    a: Array
    w: Array
    alpha: float
    activation: str = "tanh"

    def __post_init__(self) -> None:
        a = finite_array("a (the output weights)", self.a, (None,))
        if a.size < 1:
            raise ValueError(f"a (the output weights) must have shape (m,) with m >= 1, got {a.shape}")
        w = finite_array("w (the input weights)", self.w, (a.size, None))
        alpha = number("alpha (the output scale)", self.alpha, positive=True)
        if self.activation not in SMOOTH_ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(SMOOTH_ACTIVATIONS)}, got {self.activation!r}")
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "w", np.ascontiguousarray(w))
        object.__setattr__(self, "alpha", alpha)

    @property
    def m(self) -> int:
        return int(self.a.size)

    @classmethod
    def initial(cls, regime: Regime, m: int, d: int, rng: np.random.Generator, *, w_scale: float = 4.0,
                activation: str = "tanh") -> TwoLayer:
        """i.i.d. units ``a_i ~ N(0, 1)``, ``w_i ~ N(0, w_scale² I_d)``, α of ``regime``."""
        alpha = output_scale(regime, m)
        d = integer("d (the input dimension)", d)
        w_scale = number("w_scale (the standard deviation of w)", w_scale, positive=True)
        rng = generator("rng", rng)
        return cls(rng.standard_normal(m), w_scale * rng.standard_normal((m, d)), alpha, activation)

    def _check(self, x: Array) -> None:
        if x.ndim != 2 or x.shape[1] != self.w.shape[1]:
            raise ValueError(f"data x must have shape (n, d) with d = {self.w.shape[1]}, got shape {x.shape}")

    def output(self, x: Array) -> Array:
        """``f(x_j)`` for ``x`` of shape ``(n, d)``."""
        self._check(x)
        s, _ = _features(self.activation, x, self.w)
        return (self.alpha / self.m) * (s @ self.a)

    def tangent_gram(self, x: Array) -> Array:
        """``H = (1/m) Σ_i φ_i φ_iᵀ``, ``φ_ij = ∇_θ[a σ(⟨w, x_j⟩)](θ_i)``, shape ``(n, n)``:
        ``(1/m)[S Sᵀ + (G Gᵀ) ∘ (X Xᵀ)]`` with ``S = σ(X Wᵀ)``, ``G = a σ'(X Wᵀ)``. The
        Jacobian ``J`` of the outputs in all parameters has ``J Jᵀ = (α²/m) H``."""
        self._check(x)
        s, ds = _features(self.activation, x, self.w)
        return _gram(s, ds, self.a, x)


@dataclass(frozen=True)
class GDRun:
    """One gradient-descent run. ``loss[k]`` at every step ``k = 0..K`` (time ``axis.time(k)``);
    ``displacement[q] = max_i ‖θ_i − θ_i(0)‖`` and ``residual[:, q] = u − y`` at the steps
    ``record[q]``; ``gram0``, ``residual0``:
    ``H`` and ``u − y`` at initialisation; ``net``: the final network."""

    regime: Regime
    axis: TimeAxis
    loss: Array
    record: NDArray[np.int64]
    displacement: Array
    residual: Array
    gram0: Array
    residual0: Array
    net: TwoLayer
    wall_s: float

    @property
    def times(self) -> Array:
        return self.axis.time(np.arange(self.loss.size))

    def slowest_mode_rate(self, t0: float, t1: float) -> float:
        """The fitted rate of ``|⟨v_min, u − y⟩|`` on ``[t0, t1]``, ``v_min`` the eigenvector of
        ``λ_min(H(0))``: the kernel flow has ``κ ξ λ_min / n`` (for constant ξ)."""
        kernel = self.kernel()
        mode = np.abs(kernel.eigenvectors[:, 0] @ self.residual)
        return 0.5 * loss_rate(self.axis.time(self.record), mode * mode, t0, t1)

    def kernel(self) -> KernelFlow:
        """The kernel flow of ``H(0)`` from this run's initial residual, with this regime's κ."""
        return KernelFlow(self.gram0, self.residual0, drift(self.regime))


def gradient_descent(net: TwoLayer, data: TrainingSet, regime: Regime, axis: TimeAxis, t_end: float, *,
                     records: int = 50) -> GDRun:
    """Full-batch GD ``θ ← θ − s_k η ∇_θ L`` from ``net`` up to ``t_end`` (``η`` of
    :func:`learning_rate`), with the loss at every step and the largest unit
    displacement at ``records`` evenly spaced steps: the SGD engine's full-batch
    run (:func:`particles.sgd`, ``batch="full"``) of :func:`declaration`, observed at
    every step. Raises ``FloatingPointError`` when the loss exceeds :data:`DIVERGENCE`
    ``· L(0)`` or is not finite (the step is past the stability limit ``2n/(κ λ_max)``:
    lower ε)."""
    regime = _regime(regime)
    if not isinstance(net, TwoLayer) or not isinstance(data, TrainingSet):
        raise TypeError(f"net must be a TwoLayer and data a TrainingSet, got {type(net)} and {type(data)}")
    if net.w.shape[1] != data.d:
        raise ValueError(f"data x has dimension d = {data.d}, the network's w has d = {net.w.shape[1]}")
    alpha = output_scale(regime, net.m)
    if not math.isclose(net.alpha, alpha, rel_tol=1e-12):
        raise ValueError(f"net.alpha = {net.alpha!r} is not the {regime} scale α = {alpha!r} for m = {net.m}")
    t_end = number("t_end", t_end, positive=True)
    records = integer("records", records)
    steps_total = axis.steps_until(t_end)
    if steps_total < 1:
        raise ValueError(f"t_end = {t_end} is less than one step epsilon = {axis.epsilon}: give a larger t_end")
    record = np.unique(np.linspace(0, steps_total, records + 1).round().astype(np.int64))
    model = declaration(net, data, regime, axis.schedule)
    started = time.perf_counter()
    s, ds = _features(net.activation, data.x, net.w)
    gram0, residual0 = _gram(s, ds, net.a, data.x), net.output(data.x) - data.y
    watch = _Watch(net, data, axis)
    run = sgd(model, np.column_stack([net.w, net.a]), axis, axis.time(np.arange(steps_total + 1)).tolist(),
              rng=np.random.default_rng(0), batch=FULL, observe=watch, keep_theta=False)  # GD: draws nothing
    assert run.observed is not None
    residuals, displacement = run.observed[:, :-1], run.observed[:, -1]
    wall = time.perf_counter() - started
    return GDRun(regime=regime, axis=axis, loss=loss(residuals.T), record=record, displacement=displacement[record],
                 residual=residuals[record].T.copy(), gram0=gram0, residual0=residual0,
                 net=TwoLayer(watch.last[:, -1].copy(), watch.last[:, :-1].copy(), net.alpha, net.activation),
                 wall_s=wall)


def declaration(net: TwoLayer, data: TrainingSet, regime: Regime, schedule: Schedule | None = None) -> MeanFieldModel:
    """The network as a :class:`fempde.model.MeanFieldModel`: :func:`fempde.model.lazy_network`,
    ``θ_i = (w_i, a_i)``, on ``data`` with ``regime``'s scaling (its initial law a
    placeholder: the runs here start from ``net``)."""
    model = lazy_network(FiniteData(data.x, data.y), activation=net.activation, regime=regime)
    return replace(model, schedule=schedule or Constant())


class _Watch:
    """The observer of :func:`gradient_descent`: ``u − y`` at the training points and the
    largest displacement ``max_i ‖θ_i − θ_i(0)‖`` at every step; stops a diverging run."""

    def __init__(self, net: TwoLayer, data: TrainingSet, axis: TimeAxis) -> None:
        self.net, self.data, self.axis = net, data, axis
        self.start = np.column_stack([net.w, net.a])
        self.last = self.start
        self.step, self.loss0 = 0, math.nan

    def __call__(self, theta: Array) -> Array:
        net, data = self.net, self.data
        residual = TwoLayer(theta[:, -1], theta[:, :-1], net.alpha, net.activation).output(data.x) - data.y
        value = float(loss(residual))
        if self.step == 0:
            self.loss0 = value
        if not value <= DIVERGENCE * self.loss0:  # NaN too
            raise FloatingPointError(
                f"GD diverged: the loss {value:.3g} at t = {self.axis.time(self.step):.6g} (step {self.step}) exceeds "
                f"{DIVERGENCE:g} × L(0) = {DIVERGENCE * self.loss0:.3g}: lower epsilon (now {self.axis.epsilon:g})")
        self.step += 1
        self.last = theta
        shift = math.sqrt(float(np.max(np.sum((theta - self.start) ** 2, axis=1))))
        return np.append(residual, shift)


def loss_rate(times: Array, losses: Array, t0: float, t1: float) -> float:
    """The exponential rate ``−d log L/dt`` fitted by least squares on ``t0 <= t <= t1``."""
    t0, t1 = number("t0", t0), number("t1", t1)
    times, losses = np.asarray(times, dtype=np.float64), np.asarray(losses, dtype=np.float64)
    window = (times >= t0) & (times <= t1)
    if window.sum() < 2:
        raise ValueError(f"the window [{t0}, {t1}] holds {int(window.sum())} times, a rate needs 2 or more")
    if not np.all(losses[window] > 0):
        raise ValueError("a log-rate needs losses > 0 in the window")
    slope = np.polyfit(times[window], np.log(losses[window]), 1)[0]
    return float(-slope)
