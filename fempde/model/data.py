"""Data laws of a mean-field model: the law of ``(x, y)``, seen two ways.

* ``sample(n, rng)``: ``n`` fresh draws ``(x (n, d), y (n,))`` for SGD (the
  engine draws them in fixed blocks, :class:`particles.plan.BlockDraws`);
* ``quadrature(level)``: a rule :class:`fempde.DataLaw` (points, weights,
  ``E[y | x]`` at the points, ``E y²``) for ``V``, ``U``, the PDE and the
  population risk. ``level`` sets its size; :meth:`refined` gives the next
  level, so that every quadrature's error can be estimated by the same
  computation on the finer rule (the estimate is reported, never assumed).

Built in: :class:`GaussianMixture` (Gaussian components, each with its label;
:func:`gaussian_classes` is Mei–Montanari–Nguyen's two classes), :class:`UniformData`
(``x`` uniform on a meshed domain, ``y = f(x)`` + label noise:
Javanmard–Mondelli–Montanari), :class:`TeacherData` (``x ~ N(0, I_2)``, ``y = h*(x)``:
Chizat–Bach) and :class:`FiniteData` (a fixed training set: lazy training).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from skfem import Mesh

from ..checks import finite_array, generator, integer, number
from ..fem.space import quadrature as mesh_quadrature
from ..meanfield import GaussianClasses
from ..problems.distributional import DataLaw
from ..problems.homogeneous import CIRCLE_POINTS, Teacher, circle_rule
from .hermite import hermite_rule
from .sampling import MeshSampler

__all__ = ["Data", "FiniteData", "GaussianMixture", "TeacherData", "UniformData", "gaussian_classes"]

Array = NDArray[np.float64]

PRODUCT_RULE_MAX_DIM = 3
"""Gaussian components of at most this dimension get product Gauss–Hermite rules; above it, scrambled Sobol points."""


@runtime_checkable
class Data(Protocol):
    """The law of ``(x, y)`` (module docstring)."""

    @property
    def input_dim(self) -> int: ...

    @property
    def default_level(self) -> int: ...

    def refined(self, level: int) -> int: ...

    def sample(self, n: int, rng: np.random.Generator) -> tuple[Array, Array]: ...

    def quadrature(self, level: int | None = None) -> DataLaw: ...


def _labels(values: ArrayLike, n: int) -> Array:
    return finite_array("labels (one y per component)", values, (n,))


@dataclass(frozen=True)
class GaussianMixture:
    """``x ~ Σ_c p_c N(mean_c, diag(sd_c²))`` and ``y = label_c`` in component ``c``
    (plus ``label_noise · N(0, 1)``). ``probabilities`` ``(C,)`` (summing to 1),
    ``means`` and ``sds`` ``(C, d)``, ``labels`` ``(C,)``.

    ``quadrature(level)``: per component a product Gauss–Hermite rule of ``level``
    nodes per coordinate (``d <= 3``), or ``2**level`` scrambled Sobol points mapped
    to the Gaussian (``d > 3``; the same points on every call)."""

    probabilities: ArrayLike
    means: ArrayLike
    sds: ArrayLike
    labels: ArrayLike
    label_noise: float = 0.0
    classes: GaussianClasses | None = field(default=None, compare=False)
    """Set by :func:`gaussian_classes`: the same law as Mei–Montanari–Nguyen's classes (sampled as they are)."""

    def __post_init__(self) -> None:
        p = finite_array("probabilities (of the components)", self.probabilities, (None,))
        if p.size < 1 or np.any(p < 0) or abs(p.sum() - 1) > 1e-12:
            raise ValueError(f"probabilities must be >= 0 and sum to 1 (one per component), got {p.tolist()}")
        means = finite_array("means (one row per component)", self.means, (p.size, None))
        sds = finite_array("sds (standard deviations, one row per component)", self.sds, means.shape)
        if np.any(sds <= 0):
            raise ValueError("sds must be > 0 (a component without spread has no density)")
        object.__setattr__(self, "probabilities", p)
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "sds", sds)
        object.__setattr__(self, "labels", _labels(self.labels, p.size))
        object.__setattr__(self, "label_noise", number("label_noise", self.label_noise, minimum=0.0))

    @property
    def input_dim(self) -> int:
        return int(np.shape(self.means)[1])

    @property
    def components(self) -> list[tuple[float, Array, Array, float]]:
        """``(probability, mean (d,), sd (d,), label)`` of every component."""
        rows = zip(np.asarray(self.probabilities), np.asarray(self.means), np.asarray(self.sds),
                   np.asarray(self.labels), strict=True)
        return [(float(p), m, s, float(y)) for p, m, s, y in rows]

    @property
    def default_level(self) -> int:
        # 2-D: 96² (an error of 6.5e-3 in the risk curve of examples/dd_disk.py's problem, kinked σ;
        # 48² was 2.3e-2 off: benchmarks/limits.py dd)
        d = self.input_dim
        return {1: 96, 2: 96, 3: 24}.get(d, 12)

    def refined(self, level: int) -> int:
        return 2 * level if self.input_dim <= PRODUCT_RULE_MAX_DIM else level + 1

    def sample(self, n: int, rng: np.random.Generator) -> tuple[Array, Array]:
        n = integer("n", n)
        rng = generator("rng", rng)
        if self.classes is not None:
            x, y = self.classes.sample(n, rng)
        else:
            c = rng.choice(len(self.labels), size=n, p=np.asarray(self.probabilities))  # type: ignore[arg-type]
            x = np.asarray(self.means)[c] + np.asarray(self.sds)[c] * rng.standard_normal((n, self.input_dim))
            y = np.asarray(self.labels)[c].astype(np.float64)
        if self.label_noise > 0:
            y = y + self.label_noise * rng.standard_normal(n)
        return x, y

    def _standard_rule(self, level: int) -> tuple[Array, Array]:
        d = self.input_dim
        if d <= PRODUCT_RULE_MAX_DIM:
            nodes, weights = hermite_rule(integer("level (nodes per coordinate)", level))
            grid = np.stack(np.meshgrid(*[nodes] * d, indexing="ij"), axis=-1).reshape(-1, d)
            w = np.prod(np.stack(np.meshgrid(*[weights / weights.sum()] * d, indexing="ij"), axis=-1)
                        .reshape(-1, d), axis=1)
            return grid, w
        from scipy.special import ndtri
        from scipy.stats import qmc

        level = integer("level (log2 of the Sobol points)", level, maximum=24)
        points = qmc.Sobol(d, scramble=True, seed=np.random.default_rng(20240)).random_base2(level)
        return np.asarray(ndtri(points)), np.full(2**level, 1.0 / 2**level)

    def quadrature(self, level: int | None = None) -> DataLaw:
        g, w = self._standard_rule(self.default_level if level is None else level)
        xs, weights, ys = [], [], []
        for p, mean, sd, label in self.components:
            xs.append(mean + g * sd)
            weights.append(p * w)
            ys.append(np.full(len(g), label))
        y = np.concatenate(ys)
        weights_all = np.concatenate(weights)
        second = float(weights_all @ y**2) + self.label_noise**2
        return DataLaw(np.vstack(xs), weights_all, y, second)


def gaussian_classes(delta: float, d: int, relevant: int | None = None, *, label_noise: float = 0.0) -> GaussianMixture:
    """Mei–Montanari–Nguyen's classes: ``y = ±1`` equally likely, ``x | y ~ N(0, Σ_y)``,
    standard deviation ``1 + yΔ`` along the first ``relevant`` coordinates (default
    all: the isotropic problem), 1 elsewhere (:class:`fempde.meanfield.GaussianClasses`)."""
    classes = GaussianClasses(delta, d, relevant)
    sds = np.vstack([classes.std(-1.0), classes.std(1.0)])
    return GaussianMixture([0.5, 0.5], np.zeros((2, d)), sds, [-1.0, 1.0], label_noise, classes)


Target = Callable[[Array], ArrayLike]
"""``f(x)`` with ``x`` of shape ``(d, n)`` (scikit-fem's layout) to ``(n,)``."""


@dataclass(frozen=True)
class UniformData:
    """``x`` uniform on the meshed convex domain ``mesh``, ``y = f(x) + label_noise · N(0, 1)``
    (``target`` = f, ``x`` of shape ``(d, n)``). ``quadrature(level)``: scikit-fem's rule
    of degree ``level`` on every element (default 6), weights divided by ``|Ω|``."""

    mesh: Mesh
    target: Target
    label_noise: float = 0.0
    _sampler: MeshSampler = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.mesh, Mesh):
            raise TypeError(f"mesh must be a skfem Mesh (see meshes.*), got {type(self.mesh).__name__}")
        if not callable(self.target):
            raise TypeError(f"target must be a callable f(x), x of shape (d, n), got {type(self.target).__name__}")
        object.__setattr__(self, "label_noise", number("label_noise", self.label_noise, minimum=0.0))
        object.__setattr__(self, "_sampler", MeshSampler(self.mesh))

    @property
    def input_dim(self) -> int:
        return int(self.mesh.p.shape[0])

    @property
    def volume(self) -> float:
        return self._sampler.volume

    @property
    def default_level(self) -> int:
        return 6

    def refined(self, level: int) -> int:
        return level + 2

    def values(self, x: Array) -> Array:
        """``f`` at points ``x`` ``(n, d)``, checked finite."""
        y = np.asarray(self.target(np.asarray(x).T), dtype=np.float64).reshape(len(x))
        if not np.all(np.isfinite(y)):
            bad = np.asarray(x)[~np.isfinite(y)][0]
            raise ValueError(f"the target f is not finite at x = {bad.tolist()} (a point of the domain): "
                             "a model needs a finite f on the whole domain")
        return y

    def sample(self, n: int, rng: np.random.Generator) -> tuple[Array, Array]:
        x = self._sampler.sample(integer("n", n), generator("rng", rng))
        y = self.values(x)
        if self.label_noise > 0:
            y = y + self.label_noise * rng.standard_normal(n)
        return x, y

    def quadrature(self, level: int | None = None) -> DataLaw:
        points, weights = mesh_quadrature(self.mesh, self.default_level if level is None else level)
        weights = weights / weights.sum()
        y = self.values(points)
        return DataLaw(points, weights, y, float(weights @ y**2) + self.label_noise**2)


@dataclass(frozen=True)
class TeacherData:
    """``x ~ N(0, I_2)``, ``y = h*(x)`` of a :class:`fempde.Teacher`; ``quadrature(level)``:
    the circle rule of ``level`` points (exact for the 2-homogeneous units, module
    docstring of :mod:`fempde.problems.homogeneous`; default 256)."""

    teacher: Teacher

    @property
    def input_dim(self) -> int:
        return 2

    @property
    def default_level(self) -> int:
        return CIRCLE_POINTS

    def refined(self, level: int) -> int:
        return 2 * level

    def sample(self, n: int, rng: np.random.Generator) -> tuple[Array, Array]:
        return self.teacher.sample(n, rng)

    def quadrature(self, level: int | None = None) -> DataLaw:
        nodes, weights = circle_rule(integer("level (points on the circle)", self.default_level if level is None
                                             else level))
        y = self.teacher(nodes)
        return DataLaw(nodes, weights, y, float(weights @ y**2))


@dataclass(frozen=True)
class FiniteData:
    """A fixed training set ``x`` ``(n, d)``, ``y`` ``(n,)``: SGD draws one of its points
    uniformly per step; the quadrature is the set itself (exact at every level)."""

    x: ArrayLike
    y: ArrayLike

    def __post_init__(self) -> None:
        x = finite_array("x (the training inputs)", self.x, (None, None))
        if x.shape[0] < 1 or x.shape[1] < 1:
            raise ValueError(f"x (the training inputs) must have shape (n, d) with n, d >= 1, got {x.shape}")
        object.__setattr__(self, "x", np.ascontiguousarray(x))
        object.__setattr__(self, "y", finite_array("y (the labels)", self.y, (x.shape[0],)))

    @property
    def input_dim(self) -> int:
        return int(np.shape(self.x)[1])

    @property
    def n(self) -> int:
        return int(np.shape(self.x)[0])

    @property
    def default_level(self) -> int:
        return 1

    def refined(self, level: int) -> int:
        return level

    def sample(self, n: int, rng: np.random.Generator) -> tuple[Array, Array]:
        index = generator("rng", rng).integers(self.n, size=integer("n", n))
        return np.asarray(self.x)[index], np.asarray(self.y)[index]

    def quadrature(self, level: int | None = None) -> DataLaw:
        y = np.asarray(self.y, dtype=np.float64)
        weights = np.full(self.n, 1.0 / self.n)
        return DataLaw(np.asarray(self.x, dtype=np.float64), weights, y, float(weights @ y**2))

