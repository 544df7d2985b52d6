"""One declaration of a mean-field model: everything the PDE side and the particle
side must agree on, owned in one place.

A two-layer network ``ŷ(x) = (α/N) Σ_i σ*(x; θ_i)`` trained on data ``(x, y)`` by
(noisy) SGD with ridge λ and step schedule ξ, from i.i.d. units ``θ_i(0)``,
has the mean-field limit (Mei–Montanari–Nguyen 2018, Eq. 12)

    ∂_t ρ = DRIFT ξ(t) [ ∇·(ρ ∇Ψ_λ(θ; ρ)) + β⁻¹ Δρ ],
    Ψ_λ(θ; ρ) = V(θ) + ∫ U(θ, θ') ρ(dθ') + (λ/2)|θ|²,
    V(θ) = −E[y σ*(x; θ)],   U(θ, θ') = E[σ*(x; θ) σ*(x; θ')],

and the SGD step (their Eq. 11, noise as the PDE needs it, :mod:`fempde.meanfield.axis`)

    θ_i ← (1 − DRIFT λ s_k) θ_i + DRIFT s_k (y_k − ŷ(x_k)) ∇_θ σ*(x_k; θ_i) + sqrt(2 DRIFT s_k / β) g_i.

:class:`MeanFieldModel` declares it: the unit (:mod:`fempde.model.units`), which of θ's
coordinates train, the data law (:mod:`fempde.model.data`), λ, β, ξ, the initial law
(:mod:`fempde.model.initial`), the θ-domain where a mesh is used (the particles reflect at
its walls), the declared symmetry, and the scaling (mean-field ``α = 1``, or
lazy ``α = √N`` with the kernel flow as its limit). The five networks of the
source papers are instances (:mod:`fempde.model.papers`); a user's own is declared the same
way, from Python or from a TOML file (:mod:`fempde.model.toml`).

What is computed from the declaration (``V``, ``U``, ``∇Ψ`` at weighted
points, the risk of a law) goes through the data quadrature of a chosen
``level`` (:meth:`Data.quadrature`), so that its error can be estimated by the
same computation at the refined level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from skfem import Mesh

from ..checks import ParameterError, finite_array, generator, integer
from ..meanfield import DRIFT, Constant, Schedule, TimeAxis, check_lam_beta, temperature
from ..problems.distributional import DataLaw, DistributionalDynamics
from .data import Data, FiniteData, GaussianMixture, UniformData
from .initial import Gaussian, InitialLaw, MeshDensity
from .units import Bump, Ridge, Unit

__all__ = ["GRADIENT_BLOCK", "SCALINGS", "SYMMETRIES", "MeanFieldModel"]

Array = NDArray[np.float64]

SYMMETRIES = ("radial", "anisotropic")
"""Declared symmetries: ``"radial"`` (isotropic Gaussian classes, units ``σ(⟨w, x⟩)``,
an isotropic Gaussian start: the law of ``‖w‖``, :class:`fempde.RadialDD`) and
``"anisotropic"`` (classes differing on ``s0`` coordinates, units ``a ReLU(⟨w, x⟩ + b)``
with ``a, b`` trained: the law of ``(a, b, ‖P_V w‖, ‖P_V⊥ w‖)``, :class:`fempde.AnisotropicGaussians`)."""

GRADIENT_BLOCK = 2**22
"""The most numbers of ``∇_θ σ*`` :meth:`MeanFieldModel.gradient` holds at once (32 MiB)."""

SCALINGS = ("mean-field", "lazy")
"""``"mean-field"``: ``ŷ = (1/N) Σ σ*``, steps ``DRIFT s_k``; ``"lazy"``: ``ŷ = (1/√N) Σ σ*``
and steps ``s_k`` (learning rate 1, Chizat–Bach's and Du et al.'s NTK scaling), whose
N → ∞ limit is the kernel flow of the tangent kernel at initialisation."""


@dataclass(frozen=True)
class MeanFieldModel:
    """A two-layer network, its data, its training and its start (module docstring).

    Parameters
    ----------
    unit
        ``σ*(x; θ)``: :class:`~fempde.model.units.Ridge`, :class:`~fempde.model.units.Bump`,
        :class:`~fempde.model.units.Homogeneous`, or any :class:`~fempde.model.units.Unit`.
    data
        The law of ``(x, y)`` (:mod:`fempde.model.data`).
    initial
        The law of ``θ_i(0)`` (:mod:`fempde.model.initial`).
    lam, beta, schedule
        Ridge ``λ >= 0``, inverse temperature ``β`` (``math.inf``: noiseless), ξ(t).
    domain
        The θ-domain as a mesh (required by the finite-element limit; the particles are
        reflected at its walls), or None (θ ranges over R^D).
    trained
        Which coordinates of θ train (default all); frozen ones keep their initial values.
    symmetry
        One of :data:`SYMMETRIES` or None (checked against the unit, data and start).
    scaling
        One of :data:`SCALINGS`.
    name
        A label for outputs.
    """

    unit: Unit
    data: Data
    initial: InitialLaw
    lam: float = 0.0
    beta: float = math.inf
    schedule: Schedule = field(default_factory=Constant)
    domain: Mesh | None = None
    trained: tuple[bool, ...] | None = None
    symmetry: str | None = None
    scaling: str = "mean-field"
    name: str = "model"

    def __post_init__(self) -> None:
        for label, value, kind in (("unit", self.unit, Unit), ("data", self.data, Data),
                                   ("initial", self.initial, InitialLaw)):
            if not isinstance(value, kind):
                raise TypeError(f"{label} must be a fempde.model {kind.__name__} (see fempde.model), "
                                f"got {type(value).__name__}")
        if self.unit.input_dim != self.data.input_dim:
            raise ParameterError(f"the unit takes inputs of dimension {self.unit.input_dim}, the data have "
                                 f"dimension {self.data.input_dim}: declare them for one d", "data", self.data)
        if self.initial.dim != self.unit.dim:
            raise ParameterError(f"the initial law draws {self.initial.dim} coordinates, the unit has D = "
                                 f"{self.unit.dim} ({', '.join(self.unit.coordinates)}): one mean and sd per "
                                 f"coordinate", "initial", self.initial)
        check_lam_beta(self.lam, self.beta, self.schedule)
        if self.domain is not None:
            if not isinstance(self.domain, Mesh):
                raise TypeError(f"domain must be a skfem Mesh of the θ-domain (see meshes.*) or None, "
                                f"got {type(self.domain).__name__}")
            if self.domain.p.shape[0] != self.unit.dim:
                raise ParameterError(f"the domain mesh is {self.domain.p.shape[0]}-D, θ has D = {self.unit.dim} "
                                     f"coordinates ({', '.join(self.unit.coordinates)})", "domain", self.domain)
        if self.trained is not None:
            mask = tuple(bool(v) for v in self.trained)
            if len(mask) != self.unit.dim or not any(mask):
                raise ValueError(f"trained must hold one bool per coordinate of θ ({', '.join(self.unit.coordinates)}) "
                                 f"with at least one True, got {self.trained!r}")
            object.__setattr__(self, "trained", mask)
        if self.scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {', '.join(SCALINGS)}, got {self.scaling!r}")
        if self.scaling == "lazy" and not isinstance(self.data, FiniteData):
            raise ParameterError("the lazy scaling's limit is the kernel flow on a training set: give FiniteData",
                                 "scaling", self.scaling)
        if self.symmetry is not None:
            if self.symmetry not in SYMMETRIES:
                raise ValueError(f"symmetry must be one of {', '.join(SYMMETRIES)} or None, got {self.symmetry!r}")
            self.reduced()  # checks that the declaration has the symmetry

    # -- what both sides read -----------------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        """D, the dimension of θ."""
        return self.unit.dim

    @property
    def tau(self) -> float:
        """``τ = 1/β`` (0: noiseless)."""
        return temperature(self.beta)

    @property
    def mask(self) -> NDArray[np.bool_]:
        """Which coordinates train, ``(D,)``."""
        return np.ones(self.dim, dtype=bool) if self.trained is None else np.array(self.trained)

    def axis(self, epsilon: float) -> TimeAxis:
        """The SGD time axis ``t = kε`` of this model's schedule."""
        return TimeAxis(epsilon, self.schedule)

    def output_scale(self, n: int) -> float:
        """α in ``ŷ = (α/N) Σ σ*``: 1 (mean-field) or ``√N`` (lazy)."""
        return 1.0 if self.scaling == "mean-field" else math.sqrt(integer("N", n))

    def gain(self) -> float:
        """κ in the step ``θ_i += κ s_k (1/α) (y − ŷ) ∇σ*_i``: DRIFT (mean-field) or 1 (lazy)."""
        return DRIFT if self.scaling == "mean-field" else 1.0

    def units(self, theta: ArrayLike, name: str = "theta") -> Array:
        """``θ`` checked: finite, shape ``(N >= 1, D)``."""
        units = finite_array(name, theta, (None, self.dim))
        if len(units) < 1:
            raise ValueError(f"{name} must hold N >= 1 units, got none")
        return units

    def sample_initial(self, n: int, rng: np.random.Generator) -> Array:
        """``n`` i.i.d. units from the initial law, ``(n, D)``."""
        return self.units(self.initial.sample(integer("N (the number of units)", n), generator("rng", rng)),
                          "the initial sample")

    def quadrature(self, level: int | None = None) -> DataLaw:
        """The data rule of ``level`` (default: the data law's own)."""
        return self.data.quadrature(level)

    # -- the mean-field functionals at weighted points -------------------------------------------------------

    def prediction(self, points: ArrayLike, weights: ArrayLike, rule: DataLaw) -> Array:
        """``ŷ_ρ(x_m) = ∫ σ*(x_m; θ) ρ(dθ)`` at the rule's points for ``ρ = Σ_j w_j δ_{θ_j}``."""
        return np.asarray(self.unit(rule.points, points) @ np.asarray(weights, dtype=np.float64))

    def risk(self, points: ArrayLike, weights: ArrayLike, level: int | None = None, *,
             rule: DataLaw | None = None) -> float:
        """``R(ρ) = E (y − ŷ_ρ(x))²`` of weighted points (``(P, D)``, ``(P,)``) by the data rule
        of ``level`` (or the prepared ``rule``, :meth:`quadrature`'s)."""
        rule = self.quadrature(level) if rule is None else rule
        y_hat = self.prediction(points, weights, rule)
        value = rule.y_second - 2 * float((rule.weights * rule.y_mean) @ y_hat) + float(rule.weights @ y_hat**2)
        return max(value, 0.0)

    def gradient(self, points: ArrayLike, weights: ArrayLike, level: int | None = None, *,
                 rule: DataLaw | None = None) -> Array:
        """``∇_θ Ψ_λ(θ_i; ρ) = −E[(y − ŷ_ρ(x)) ∇_θ σ*(x; θ_i)] + λ θ_i`` at each point, frozen
        coordinates 0: the velocity field of the noiseless flow is ``−DRIFT ξ`` times it. The
        data rule is that of ``level`` (or the prepared ``rule``); the unit's gradients are
        formed a block of points at a time (at most :data:`GRADIENT_BLOCK` numbers)."""
        rule = self.quadrature(level) if rule is None else rule
        theta = np.asarray(points, dtype=np.float64)
        residual = rule.weights * (rule.y_mean - self.prediction(theta, weights, rule))
        grad = np.empty_like(theta)
        block = max(1, GRADIENT_BLOCK // max(1, len(residual) * self.dim))
        for start in range(0, len(theta), block):
            part = theta[start:start + block]
            grad[start:start + block] = -np.einsum("m,mnd->nd", residual, self.unit.gradient(rule.points, part))
        grad += self.lam * theta
        return np.asarray(grad * self.mask[None, :])

    def potential(self, theta: ArrayLike, level: int | None = None) -> Array:
        """``V(θ_i)`` of units ``(n, D)``: ``−E[y σ*(x; θ_i)]``."""
        rule = self.quadrature(level)
        return np.asarray(-(rule.weights * rule.y_mean) @ self.unit(rule.points, theta))

    def interaction(self, theta1: ArrayLike, theta2: ArrayLike, level: int | None = None) -> Array:
        """``U(θ_i, θ'_j)``, shape ``(n1, n2)``."""
        rule = self.quadrature(level)
        return np.asarray(self.unit(rule.points, theta1).T @ (rule.weights[:, None] * self.unit(rule.points, theta2)))

    # -- the PDE ----------------------------------------------------------------------------------------------

    @property
    def is_rbf(self) -> bool:
        """Bumps on uniform data over the θ-domain itself: Javanmard–Mondelli–Montanari's network,
        whose limit is the porous-medium PDE (:class:`fempde.FiniteDeltaPorousMedium`)."""
        return isinstance(self.unit, Bump) and isinstance(self.data, UniformData)

    def problem(self, level: int | None = None) -> Any:
        """The PDE of the limit on a θ-mesh: :class:`fempde.FiniteDeltaPorousMedium` for the RBF
        network (its sparse convolution), else :class:`fempde.DistributionalDynamics` on the data
        rule of ``level``. Frozen coordinates are refused (the edge fluxes move every coordinate)."""
        if not np.all(self.mask):
            raise ValueError("a PDE on a θ-mesh moves every coordinate: a model with frozen coordinates has its "
                             "limit by the point flow (method='points')")
        if self.scaling != "mean-field":
            raise ValueError("the lazy scaling's limit is the kernel flow, not a PDE on a θ-mesh")
        if self.is_rbf:
            from ..problems.finite_delta import FiniteDeltaPorousMedium

            assert isinstance(self.unit, Bump) and isinstance(self.data, UniformData)
            if self.lam != 0:
                raise ValueError("the RBF network's PDE has no ridge term: give lam = 0")
            return FiniteDeltaPorousMedium(self.data.target, self.tau, self.schedule, kernel=self.unit.kernel,
                                           delta=self.unit.delta, boundary=self.unit.boundary)
        return DistributionalDynamics(self.unit, self.quadrature(level), self.lam, self.beta, self.schedule)

    def initial_density(self) -> Any:
        """The start for a PDE on :attr:`domain`: a callable density of ``x`` ``(D, n)`` or nodal values."""
        if isinstance(self.initial, MeshDensity):
            return self.initial.nodal
        return self.initial.density

    # -- symmetries -------------------------------------------------------------------------------------------

    def reduced(self) -> Any:
        """The reduced problem of the declared symmetry (:data:`SYMMETRIES`), or a ValueError
        naming what in the declaration breaks it."""
        from ..problems.anisotropic import AnisotropicGaussians
        from ..problems.radial import IsotropicGaussians

        unit, data, start = self.unit, self.data, self.initial
        classes = data.classes if isinstance(data, GaussianMixture) else None
        why = []
        if not isinstance(unit, Ridge):
            why.append("the unit is not a ridge unit")
        if classes is None:
            why.append("the data are not fempde.model.gaussian_classes(...)")
        if not isinstance(start, Gaussian):
            why.append("the initial law is not a fempde.model.Gaussian")
        if self.symmetry == "radial":
            if isinstance(unit, Ridge) and (unit.trains_output or unit.trains_bias or unit.bias != 0
                                            or unit.output != 1):
                why.append("a radial model has units σ(⟨w, x⟩) (output 1, bias 0, neither trained)")
            if isinstance(unit, Ridge) and not hasattr(unit.sigma, "knots"):
                why.append("the radial reduction's kernel is tabulated for hinge activations only")
            if classes is not None and classes.relevant not in (None, classes.d):
                why.append("the classes differ only on some coordinates (use symmetry = 'anisotropic')")
            if isinstance(start, Gaussian) and (np.any(np.asarray(start.mean) != 0)
                                                or len(set(np.asarray(start.sd).tolist())) != 1):
                why.append("the start must be N(0, s² I)")
            if why:
                raise ParameterError("symmetry = 'radial' does not hold: " + "; ".join(why), "symmetry",
                                     self.symmetry)
            assert classes is not None and isinstance(unit, Ridge)
            return IsotropicGaussians(classes.delta, classes.d, unit.sigma)  # type: ignore[arg-type]
        if self.symmetry == "anisotropic":
            if isinstance(unit, Ridge) and not (unit.trains_output and unit.trains_bias
                                                and getattr(unit.sigma, "name", "") == "relu"):
                why.append("an anisotropic model has units a ReLU(⟨w, x⟩ + b) with a and b trained")
            if isinstance(start, Gaussian) and isinstance(unit, Ridge):
                d = unit.input_dim
                sd, mean = np.asarray(start.sd), np.asarray(start.mean)
                if np.any(mean[:d] != 0) or len(set(sd[:d].tolist())) != 1 or np.any(sd[d:] != 0):
                    why.append("the start must be w ~ N(0, s² I) with fixed a and b")
            if why:
                raise ParameterError("symmetry = 'anisotropic' does not hold: " + "; ".join(why), "symmetry",
                                     self.symmetry)
            assert classes is not None
            return AnisotropicGaussians(classes.delta, classes.d, classes.s0)
        raise ValueError("this model declares no symmetry (symmetry=None)")
