"""SGD of the two-layer networks of Mei–Montanari–Nguyen (2018) on their
two-Gaussian data, one fresh sample per step (their Eq. 3, with λ and the noise
of Eq. 11 as the PDE needs it):

    ŷ(x) = (1/N) Σ_i a_i σ(⟨w_i, x⟩ + b_i),
    θ_i ← (1 − 2λ s_k) θ_i + 2 s_k (y_k − ŷ(x_k)) ∇_θ[a_i σ(⟨w_i, x_k⟩ + b_i)] + sqrt(4 s_k / β) g_i,

on the time axis of :mod:`fempde.meanfield` (``DRIFT = 2``, noise ``sqrt(4 s_k τ)``
with ``τ = 1/β``). The seed's networks fix ``a_i = 1``, ``b_i = 0`` and train
``θ_i = w_i``; ``Network(fit_output=True)`` trains ``θ_i = (w_i, a_i, b_i)``
(the ReLU network of their Fig. 3). The data: ``y = ±1`` equally likely,
``x | y ~ N(0, Σ_y)`` with ``Σ_± = I + ((1 ± Δ)² − 1) P_V``, ``V`` the first
``relevant`` coordinates (all of them: the isotropic problem, whose mean-field
limit reduces to :class:`fempde.RadialDD`).

The SGD itself is the engine's (:func:`particles.sgd`, whose fused ridge kernel
:mod:`particles.kernels.ridge` this network gets); :func:`dd_sgd` and
:func:`dd_ensemble` are its interface from before the engine, kept for their
callers, and :func:`declaration` says which :class:`fempde.model.MeanFieldModel`
they run. :func:`population_risk` is the network's exact population risk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fempde.checks import finite_array, generator
from fempde.meanfield import Constant, GaussianClasses, Schedule, TimeAxis
from fempde.model import TRAINED, Gaussian, MeanFieldModel, Ridge, gaussian_classes
from fempde.problems import Hinges, IsotropicGaussians, activation

from . import engine

__all__ = [
    "DDRun", "GaussianClasses", "Member", "Network", "as_network", "dd_ensemble", "dd_sgd", "declaration",
    "population_risk", "sample_isotropic",
]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Network:
    """Units ``a σ(⟨w, x⟩ + b)`` on ``data``; ``fit_output=False`` fixes ``a = 1``, ``b = 0``."""

    data: GaussianClasses
    sigma: Hinges | str = "piecewise-linear"
    fit_output: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma", activation(self.sigma))

    @property
    def activation(self) -> Hinges:
        assert isinstance(self.sigma, Hinges)  # converted in __post_init__
        return self.sigma

    @classmethod
    def isotropic(cls, model: IsotropicGaussians) -> Network:
        """The network whose mean-field limit :class:`fempde.RadialDD` ``(model)`` reduces."""
        if math.isinf(model.d):
            raise ValueError("SGD needs a finite dimension d")
        return cls(GaussianClasses(model.delta, int(model.d)), model.activation)


def as_network(model: Network | IsotropicGaussians) -> Network:
    """``model`` itself, or the network of :meth:`Network.isotropic` for an isotropic model."""
    return model if isinstance(model, Network) else Network.isotropic(model)


def sample_isotropic(model: IsotropicGaussians, n: int, rng: np.random.Generator) -> tuple[Array, Array]:
    """``n`` samples ``(x, y)`` of the isotropic problem of ``model``."""
    return Network.isotropic(model).data.sample(n, rng)


@dataclass(frozen=True)
class DDRun:
    """Parameters at the recorded times: ``weights`` ``(n_times, N, d)``, ``output``
    and ``offset`` ``(n_times, N)`` (constant 1 and 0 unless the network fits them)."""

    times: Array
    weights: Array
    output: Array
    offset: Array


@dataclass(frozen=True)
class Member:
    """One run of an ensemble: its start ``(N, d)`` (and ``(N,)`` outputs and
    offsets), its time axis (ε and schedule) and its own Generator."""

    weights0: Array
    axis: TimeAxis
    rng: np.random.Generator
    output0: Array | None = None
    offset0: Array | None = None


def dd_sgd(model: Network | IsotropicGaussians, weights0: Array, axis: TimeAxis, times: Sequence[float], *,
           output0: Array | None = None, offset0: Array | None = None, lam: float = 0.0, beta: float = math.inf,
           rng: np.random.Generator, chunk: int = 2048) -> DDRun:
    """Run (noisy) SGD from ``weights0`` (``(N, d)``; ``output0``, ``offset0``:
    ``(N,)``, default 1 and 0) and record at ``times`` (on the grid ``t = kε``):
    the engine's run (:func:`particles.sgd`) of the network as a
    :class:`fempde.model.MeanFieldModel` (:func:`declaration`), kept for the
    callers of this interface. The same seed gives the same run whatever the
    recording ``times`` and ``chunk`` (the steps per compiled call)."""
    member = Member(weights0, axis, generator("rng", rng), output0, offset0)
    return dd_ensemble(model, [member], times, lam=lam, beta=beta, chunk=chunk)[0]


def dd_ensemble(model: Network | IsotropicGaussians, members: Sequence[Member | engine.Member],
                times: Sequence[float], *, lam: float = 0.0, beta: float = math.inf, chunk: int = 2048) -> list[DDRun]:
    """Independent SGD runs (each its own N, ε and Generator) advanced together,
    one thread per run: :func:`particles.ensemble` of :func:`declaration`. Run ``r``
    equals :func:`dd_sgd` of ``members[r]``, bit for bit."""
    net = as_network(model)
    if len(members) == 0:
        raise ValueError("an ensemble needs at least one member")
    for r, member in enumerate(members):
        generator(f"members[{r}].rng", member.rng)
    declared = declaration(net, lam=lam, beta=beta, schedule=members[0].axis.schedule)
    starts = [engine.Member(_start(net, _as_member(net, member)), member.axis, member.rng) for member in members]
    runs = engine.ensemble(declared, starts, times, chunk=chunk)
    return [_dd_run(net, run) for run in runs]


def declaration(net: Network, *, lam: float = 0.0, beta: float = math.inf,
                schedule: Schedule | None = None) -> MeanFieldModel:
    """``net`` as a :class:`fempde.model.MeanFieldModel`: ridge units ``a σ(⟨w, x⟩ + b)``
    (``a = 1``, ``b = 0`` fixed unless ``fit_output``) on the same Gaussian classes. Its
    initial law is a placeholder (N(0, 1) coordinates): the runs here start from given units."""
    d = net.data.d
    unit = Ridge(net.activation, d, output=TRAINED if net.fit_output else 1.0,
                 bias=TRAINED if net.fit_output else 0.0)
    data = gaussian_classes(net.data.delta, d, net.data.relevant)
    return MeanFieldModel(unit, data, Gaussian(np.zeros(unit.dim), 1.0), lam=lam, beta=beta,
                          schedule=schedule or Constant(), name="two-layer")


def _dd_run(net: Network, run: engine.Run) -> DDRun:
    assert run.theta is not None
    d, theta = net.data.d, run.theta
    if net.fit_output:
        return DDRun(run.times, theta[..., :d].copy(), theta[..., d].copy(), theta[..., d + 1].copy())
    shape = theta.shape[:2]
    return DDRun(run.times, theta.copy(), np.ones(shape), np.zeros(shape))


def _as_member(net: Network, member: Member | engine.Member) -> Member:
    """A member of this interface; an engine's :class:`particles.Member` (θ ``(N, D)``) read as one."""
    if not isinstance(member, engine.Member):
        return member
    theta = np.asarray(member.theta0, dtype=np.float64)
    d = net.data.d
    if net.fit_output and theta.ndim == 2 and theta.shape[1] == d + 2:
        return Member(theta[:, :d], member.axis, member.rng, theta[:, d], theta[:, d + 1])
    return Member(theta, member.axis, member.rng)


def _start(net: Network, member: Member) -> Array:
    """The member's start as the model's θ ``(N, D)``: ``w``, then ``a``, ``b`` where trained."""
    d = net.data.d
    w = np.array(member.weights0, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != d or len(w) < 1:
        raise ValueError(f"weights0 must have shape (N >= 1, d = {d}), got {w.shape}")
    w = finite_array("weights0", w)
    a = _per_unit(member.output0, 1.0, len(w), "output0")
    b = _per_unit(member.offset0, 0.0, len(w), "offset0")
    if not net.fit_output and (np.any(a != 1) or np.any(b != 0)):
        raise ValueError("this network fixes a = 1 and b = 0: use Network(..., fit_output=True) to train them")
    return np.column_stack([w, a, b]) if net.fit_output else w


def _per_unit(values: Array | None, default: float, n: int, name: str) -> Array:
    if values is None:
        return np.full(n, default)
    return finite_array(name, values, (n,))


def population_risk(model: Network | IsotropicGaussians, weights: Array, output: Array | None = None,
                    offset: Array | None = None, nodes: int = 32) -> float:
    """``R_N = E y² − (2/N) Σ E[y σ*_i] + (1/N²) Σ_ij U(θ_i, θ_j)`` of units ``a σ(⟨w_i, x⟩ + b_i)``
    (``output``, ``offset``: default 1 and 0), exactly: :func:`fempde.model.risk.population_risk`'s
    method for ridge units on Gaussian classes (``nodes`` is no longer used)."""
    from fempde.model import TRAINED, Ridge, gaussian_classes
    from fempde.model.gaussian_risk import ridge_gaussian_moments

    net = as_network(model)
    w = finite_array("weights", weights, (None, net.data.d))
    n = len(w)
    a, b = _per_unit(output, 1.0, n, "output"), _per_unit(offset, 0.0, n, "offset")
    unit = Ridge(net.activation, net.data.d, output=TRAINED, bias=TRAINED)
    data = gaussian_classes(net.data.delta, net.data.d, net.data.relevant)
    return ridge_gaussian_moments(unit, data, np.column_stack([w, a, b]), np.full(n, 1.0 / n)).risk().value
