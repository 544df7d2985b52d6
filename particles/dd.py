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
:mod:`particles.kernels.ridge` this network gets) of the network's
:class:`fempde.model.MeanFieldModel`, :func:`declaration` (the isotropic network is
:func:`fempde.model.mmn_isotropic`); its units ``θ_i`` are ``w_i``, or ``(w_i, a_i, b_i)``
with ``fit_output``. :func:`population_risk` is the network's exact population risk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fempde.checks import finite_array
from fempde.meanfield import Constant, GaussianClasses, Schedule
from fempde.model import TRAINED, Gaussian, MeanFieldModel, Ridge, gaussian_classes
from fempde.problems import Hinges, IsotropicGaussians, activation

from . import engine

__all__ = ["DDRun", "GaussianClasses", "Network", "as_network", "declaration", "population_risk", "sample_isotropic"]

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
    """Parameters at the recorded times (the runs of :func:`particles.gpu.dd_ensemble_torch`):
    ``weights`` ``(n_times, N, d)``, ``output`` and ``offset`` ``(n_times, N)`` (constant 1 and 0
    unless the network fits them)."""

    times: Array
    weights: Array
    output: Array
    offset: Array


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
