"""The 2-homogeneous ReLU units of Chizat–Bach and their teacher (seed 001).

A unit ``Φ(w)(x) = a · ReLU(⟨b, x⟩)`` with ``w = θ = (a, b) ∈ R^3`` (``d = 2``, no
bias) is 2-homogeneous: ``Φ(λw) = λ²Φ(w)`` for ``λ > 0``. The student is
``h = (1/m) Σ_i Φ(w_i)``; the labels come from a teacher
``h*(x) = Σ_{j ≤ m0} a*_j ReLU(⟨b*_j, x⟩)`` (noiseless) and the loss is the square
loss, so with ``ρ`` the law of the units the risk is fempde's
``R(ρ) = E y² + 2∫Vρ + ∫∫Uρρ`` with

    V(θ) = −E[h*(x) Φ(θ)(x)] = −a Σ_j a*_j k(b, b*_j),     U(θ, θ') = a a' k(b, b'),
    k(b, b') = E[ReLU(⟨b, x⟩) ReLU(⟨b', x⟩)] = ‖b‖‖b'‖ (sin α + (π − α) cos α) / (2π),

for ``x ~ N(0, I_2)`` and ``α`` the angle between ``b`` and ``b'`` (the arc-cosine
kernel of degree 1, Cho–Saul 2009). These closed forms check the quadrature
and give the particles their exact population risk.

**Data on the circle, exactly.** Every expectation the flow needs (``V``, ``U``,
the gradients ``E[(y − h) ∇_θ Φ]``) is ``E[f(x) g(x)]`` with ``f, g`` positively
1-homogeneous in ``x``. Writing ``x = r u`` (``r`` and ``u`` independent, ``u``
uniform on the circle, ``E r² = 2``), ``E[f g] = E_u[f(√2 u) g(√2 u)]``: the
Gaussian data law *is* the uniform law on the circle of radius ``√2`` for this
problem. :meth:`Teacher.data_law` is the equispaced (midpoint) rule on that
circle. The unit kinks where ``⟨b, u⟩ = 0``, so the rule converges only at
second order, ``O(M⁻²)`` (trapezoid rule on a periodic function with jumps in
the derivative). Measured over 400 random units, the largest error of
``U(θ, θ')`` relative to ``√(U(θ, θ) U(θ', θ'))`` against the closed form is
4.1e-3, 9.8e-4, 2.5e-4, 6.2e-5, 1.6e-5 at ``M`` = 32, 64, 128, 256, 512 (rate 2;
``V``: 2.6e-5 at 256), while a product Gauss–Hermite rule of the plane, blind to
the kinks, gives 1.8e-2, 9.1e-3, 3.3e-3 with 16², 30², 80² points. The default
``M = 256`` (:data:`CIRCLE_POINTS`) puts the quadrature error of the risk near 1e-5, two orders below
the ``10⁻³`` recovery threshold.

**Initial law.** The source starts from uniform directions on a small sphere
``|θ| = r0``, a singular measure that no P1 function represents. The PDE
starts from its smoothing :class:`SphereLaw` ``(r0, s)``: density
``∝ exp(−(|θ| − r0)² / (2s²))`` (a Gaussian shell of width ``s``; ``s → 0``
gives the sphere) and the particles that are compared with the PDE are drawn
from the same shell, exactly (:meth:`SphereLaw.sample`; ``s = 0`` draws the
source's sphere).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr, roots_legendre

from ..checks import finite_array, generator, integer, number
from .distributional import DataLaw, Unit
from .neurons import normal_pdf

__all__ = ["CIRCLE_POINTS", "SphereLaw", "Teacher", "circle_rule", "direction_measure", "homogeneous_unit",
           "relu_kernel"]

Array = NDArray[np.float64]

DIM = 2
"""The data dimension ``d``: the units live in ``R^{1+d} = R^3``, the largest space P1 elements mesh."""

CIRCLE_POINTS = 256
"""The default size ``M`` of the circle rule (module docstring: risk quadrature error near 1e-5)."""


def units(theta: ArrayLike, name: str = "theta") -> Array:
    """``θ`` as an ``(m, 3)`` array of units ``(a, b1, b2)``, checked."""
    return finite_array(name, theta, (None, 1 + DIM))


def direction_measure(theta: ArrayLike, name: str = "theta") -> tuple[Array, Array]:
    """What units ``(m, 3)`` represent on the circle: the angles ``(m,)`` of their
    ``b`` and the masses ``|a|‖b‖`` (a unit is ``a‖b‖ ReLU(⟨b̂, x⟩)``)."""
    w = units(theta, name)
    return np.arctan2(w[:, 2], w[:, 1]), np.abs(w[:, 0]) * np.linalg.norm(w[:, 1:], axis=1)


def relu_kernel(b1: ArrayLike, b2: ArrayLike) -> Array:
    """``k(b, b') = E[ReLU(⟨b, x⟩) ReLU(⟨b', x⟩)]``, ``x ~ N(0, I_2)``, for rows
    ``b1`` ``(n1, 2)`` and ``b2`` ``(n2, 2)``: shape ``(n1, n2)`` (module docstring)."""
    p = finite_array("b1", b1, (None, DIM))
    q = finite_array("b2", b2, (None, DIM))
    norms = np.outer(np.linalg.norm(p, axis=1), np.linalg.norm(q, axis=1))
    cosine = np.clip((p @ q.T) / np.where(norms > 0, norms, 1.0), -1.0, 1.0)
    alpha = np.arccos(cosine)
    return np.asarray(norms * (np.sin(alpha) + (math.pi - alpha) * cosine) / (2 * math.pi))


def homogeneous_unit() -> Unit:
    """``Φ(θ)(x) = a · ReLU(⟨b, x⟩)``, ``θ = (a, b1, b2)``: data ``(M, 2)`` and units
    ``(n, 3)`` to responses ``(M, n)`` (the ``unit`` of :class:`fempde.DistributionalDynamics`)."""

    def unit(x: Array, theta: Array) -> Array:
        if x.ndim != 2 or x.shape[1] != DIM or theta.ndim != 2 or theta.shape[1] != 1 + DIM:
            raise ValueError(f"the homogeneous unit needs data (M, {DIM}) and units (n, {1 + DIM}), "
                             f"got {x.shape} and {theta.shape}")
        return np.asarray(theta[None, :, 0] * np.maximum(x @ theta[:, 1:].T, 0.0))

    return unit


def circle_rule(points: int) -> tuple[Array, Array]:
    """The midpoint rule on the circle of radius ``√2``: ``points`` nodes ``(M, 2)`` at
    angles ``2π(k + ½)/M`` and equal weights ``(M,)`` — the Gaussian ``N(0, I_2)`` for
    products of 1-homogeneous functions (module docstring)."""
    points = integer("points", points, minimum=4)
    angles = 2 * math.pi * (np.arange(points) + 0.5) / points
    nodes = math.sqrt(2.0) * np.column_stack([np.cos(angles), np.sin(angles)])
    return nodes, np.full(points, 1.0 / points)


@dataclass(frozen=True)
class Teacher:
    """``h*(x) = Σ_j output[j] · ReLU(⟨directions[j], x⟩)``: ``output`` ``(m0,)``,
    ``directions`` ``(m0, 2)``, ``m0 >= 1``; data ``x ~ N(0, I_2)``, ``y = h*(x)``."""

    output: Array
    directions: Array
    _gram: Array = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        output = finite_array("output (the teacher's weights a*_j)", self.output, (None,))
        directions = finite_array("directions (the teacher's b*_j, one row each)", self.directions, (None, DIM))
        if len(output) == 0:
            raise ValueError("the teacher has zero neurons: give at least one (a*_j, b*_j)")
        if len(directions) != len(output):
            raise ValueError(f"the teacher has {len(output)} output weights but {len(directions)} directions: "
                             "give one b*_j per a*_j")
        if np.any(np.linalg.norm(directions, axis=1) == 0):
            raise ValueError("a teacher direction b*_j is zero: every neuron needs b*_j != 0")
        object.__setattr__(self, "output", output)
        object.__setattr__(self, "directions", directions)
        object.__setattr__(self, "_gram", relu_kernel(directions, directions))

    @classmethod
    def default(cls) -> Teacher:
        """The five neurons of this project's runs: unit directions at the angles −80°,
        −40°, 0°, 40°, 80° and output weights 0.24, 0.12, 0.20, 0.16, 0.28 (sum 1,
        ``E h*² = 0.27``: the recovery threshold ``R < 10⁻³`` is 0.4 % of it).

        All a*_j > 0 with directions in an open half-plane: then ``h*`` determines its
        direction measure among non-negative measures (a measure with the same
        ``h`` could only move mass from ``b̂*_j`` to ``−b̂*_j``, with ``Σ β_j b̂*_j = 0``,
        impossible in an open half-plane), so teacher recovery is well posed."""
        angles = np.deg2rad([-80.0, -40.0, 0.0, 40.0, 80.0])
        return cls(np.array([0.24, 0.12, 0.20, 0.16, 0.28]), np.column_stack([np.cos(angles), np.sin(angles)]))

    @property
    def m0(self) -> int:
        return len(self.output)

    def __call__(self, x: ArrayLike) -> Array:
        """``h*(x)`` for data ``x`` of shape ``(n, 2)``: shape ``(n,)``."""
        points = finite_array("x", x, (None, DIM))
        return np.asarray(np.maximum(points @ self.directions.T, 0.0) @ self.output)

    def second_moment(self) -> float:
        """``E[h*(x)²]``, closed form."""
        return float(self.output @ self._gram @ self.output)

    def V(self, theta: ArrayLike) -> Array:
        """``V(θ) = −E[h* Φ(θ)]`` for units ``(m, 3)``: shape ``(m,)``."""
        w = units(theta)
        return np.asarray(-w[:, 0] * (relu_kernel(w[:, 1:], self.directions) @ self.output))

    def U(self, theta1: ArrayLike, theta2: ArrayLike) -> Array:
        """``U(θ, θ') = E[Φ(θ) Φ(θ')]`` for units ``(n1, 3)``, ``(n2, 3)``: shape ``(n1, n2)``."""
        p, q = units(theta1, "theta1"), units(theta2, "theta2")
        return np.asarray(np.outer(p[:, 0], q[:, 0]) * relu_kernel(p[:, 1:], q[:, 1:]))

    def risk(self, theta: ArrayLike) -> float:
        """The population risk of the student ``(1/m) Σ Φ(θ_i)``, exactly:
        ``E h*² + (2/m) Σ V(θ_i) + (1/m²) Σ_ij U(θ_i, θ_j)``."""
        w = units(theta)
        m = len(w)
        if m == 0:
            raise ValueError("theta has zero units: a student needs m >= 1")
        a = w[:, 0]
        value = (self.second_moment() + 2.0 * float(np.sum(self.V(w))) / m
                 + float(a @ relu_kernel(w[:, 1:], w[:, 1:]) @ a) / m**2)
        return max(value, 0.0)  # round-off below an exact fit

    def sample(self, n: int, rng: np.random.Generator) -> tuple[Array, Array]:
        """``n`` fresh samples: ``x ~ N(0, I_2)`` ``(n, 2)`` and ``y = h*(x)`` ``(n,)``."""
        x = generator("rng", rng).standard_normal((integer("n", n), DIM))
        return x, self(x)

    def data_law(self, points: int = CIRCLE_POINTS) -> DataLaw:
        """The data as :class:`fempde.DataLaw`: the circle rule of :func:`circle_rule`
        with ``y = h*`` at its nodes and ``E y²`` by the same rule (so the discrete
        risk is a square, >= 0, and vanishes for a student equal to the teacher)."""
        nodes, weights = circle_rule(points)
        y = self(nodes)
        return DataLaw(nodes, weights, y, float(weights @ y**2))

    def as_student(self) -> Array:
        """The teacher as a mean-field network of ``m0`` balanced units ``(m0, 3)``:
        ``θ*_j = (sign(a*_j) s_j, s_j b̂*_j)``, ``s_j = √(m0 |a*_j| ‖b*_j‖)``, so that
        ``(1/m0) Σ Φ(θ*_j) = h*``; its homogeneous projection ``|a|·b`` is
        ``m0 |a*_j| ‖b*_j‖ b̂*_j`` (where the figures mark the teacher)."""
        norms = np.linalg.norm(self.directions, axis=1)
        scale = np.sqrt(self.m0 * np.abs(self.output) * norms)
        return np.column_stack([np.sign(self.output) * scale, scale[:, None] * self.directions / norms[:, None]])

    def direction_measure(self) -> tuple[Array, Array]:
        """Angles ``(m0,)`` of ``b*_j`` and masses ``|a*_j| ‖b*_j‖``: the measure that
        teacher recovery compares the student's with."""
        return direction_measure(np.column_stack([self.output, self.directions]))


@dataclass(frozen=True)
class SphereLaw:
    """Units ``θ = r u``, ``u`` uniform on the unit sphere of ``R^3``: ``r = radius``
    exactly for ``width = 0`` (the source's start), else the Gaussian shell of density
    ``∝ exp(−(|θ| − radius)² / (2 width²))`` (the PDE's smoothed start)."""

    radius: float
    width: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "radius", number("radius (of the initial sphere)", self.radius, positive=True))
        object.__setattr__(self, "width", number("width (of the smoothed sphere)", self.width, minimum=0.0))

    def normaliser(self) -> float:
        """``∫_{R^3} exp(−(|θ| − r0)²/(2s²)) dθ = 4π s √(2π) [(r0² + s²) Φ(r0/s) + r0 s φ(r0/s)]``."""
        r0, s = self.radius, self.width
        if s == 0:
            raise ValueError("the sphere itself (width = 0) has no density: give width > 0")
        c = r0 / s
        return float(4 * math.pi * s * math.sqrt(2 * math.pi)
                     * ((r0**2 + s**2) * ndtr(c) + r0 * s * float(normal_pdf(np.asarray(c)))))

    def density(self, x: Array) -> Array:
        """The shell's probability density at points ``x`` of shape ``(3, n)`` (scikit-fem's layout)."""
        normaliser = self.normaliser()
        r = np.linalg.norm(finite_array("x (points of R^3 as columns)", x, (1 + DIM, None)), axis=0)
        return np.asarray(np.exp(-0.5 * ((r - self.radius) / self.width) ** 2) / normaliser)

    @property
    def dim(self) -> int:
        return 1 + DIM

    @property
    def default_level(self) -> int:
        return 16  # the radius of the paper's shell needs about 16 Legendre nodes (mean radius to 1e-7)

    def refined(self, level: int) -> int:
        return 2 * level

    def quadrature(self, level: int | None = None) -> tuple[Array, Array]:
        """Weighted points ``(P, 3)``, ``(P,)`` of the law: ``level`` Gauss–Legendre nodes
        in the radius on ``[max(0, r0 − 8s), r0 + 8s]`` (weights ``∝ r² N(r; r0, s²)``;
        the radius itself when ``width = 0``), times ``level`` Gauss–Legendre nodes in
        ``cos ϑ`` and ``2 level`` equispaced angles ``φ`` (exact for spherical
        polynomials of degree ``< 2 level``): ``2 level³`` points (``2 level²`` on the sphere)."""
        level = self.default_level if level is None else integer("level (nodes per direction)", level)
        if self.width == 0:
            r, wr = np.array([self.radius]), np.ones(1)
        else:
            lo, hi = max(0.0, self.radius - 8 * self.width), self.radius + 8 * self.width
            x, w = roots_legendre(level)
            r = 0.5 * (hi - lo) * x + 0.5 * (hi + lo)
            wr = w * r**2 * np.exp(-0.5 * ((r - self.radius) / self.width) ** 2)
        c, wc = roots_legendre(level)
        phi = (np.arange(2 * level) + 0.5) * math.pi / level
        radius, cos, angle = (g.ravel() for g in np.meshgrid(r, c, phi, indexing="ij"))
        weights = np.einsum("i,j,k->ijk", wr, wc, np.ones(2 * level)).ravel()
        sin = np.sqrt(1.0 - cos**2)
        points = radius[:, None] * np.column_stack([cos, sin * np.cos(angle), sin * np.sin(angle)])
        return points, weights / weights.sum()

    def sample(self, m: int, rng: np.random.Generator) -> Array:
        """``m`` i.i.d. units ``(m, 3)``. The shell's radius has density
        ``∝ r² N(r; r0, s²)`` on ``r > 0``; since ``r² <= 2(r0² + (r − r0)²)`` it is drawn
        by rejection from the mixture of ``N(r0, s²)`` (weight ``r0²``) and
        ``r0 + s·(±χ_3)`` (weight ``s²``), accepted with ``r² / (2(r0² + (r − r0)²))``."""
        m = integer("m (the number of units)", m)
        rng = generator("rng", rng)
        u = rng.standard_normal((m, 1 + DIM))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        if self.width == 0:
            return self.radius * u
        r0, s = self.radius, self.width
        radii = np.empty(0)
        while len(radii) < m:
            want = 2 * (m - len(radii)) + 16
            gaussian = rng.uniform(size=want) < r0**2 / (r0**2 + s**2)
            chi = np.linalg.norm(rng.standard_normal((want, 3)), axis=1) * rng.choice([-1.0, 1.0], size=want)
            r = r0 + s * np.where(gaussian, rng.standard_normal(want), chi)
            keep = (r > 0) & (rng.uniform(size=want) * 2 * (r0**2 + (r - r0) ** 2) < r**2)
            radii = np.concatenate([radii, r[keep]])
        return radii[:m, None] * u
