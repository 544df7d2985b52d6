"""Initial laws of the units ``θ_i(0)``, seen three ways: ``sample(n, rng)`` for
SGD's start, ``density(x)`` for a PDE on a mesh (``x`` of shape ``(D, n)``), and
``quadrature(level)`` — weighted points ``(P, D)``, ``(P,)`` — for the point
flows, whose error is estimated on the :meth:`refined` rule.

Built in: :class:`Gaussian` (independent normal coordinates, a standard
deviation 0 making a coordinate a constant), :class:`Product` (independent
coordinates with any scipy.stats laws), :class:`MeshDensity` (a density on a
meshed domain: the RBF network's start) and :class:`fempde.SphereLaw`
(Chizat–Bach's start, a Gaussian shell in R³).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from skfem import Mesh

from ..checks import finite_array, generator, integer
from ..problems.homogeneous import SphereLaw
from .hermite import hermite_rule
from .sampling import MeshSampler

__all__ = ["Gaussian", "InitialLaw", "MeshDensity", "Product", "SphereLaw", "tensor_points"]

Array = NDArray[np.float64]

TENSOR_MAX_DIM = 4
"""A Gaussian law with more random coordinates than this is represented by scrambled Sobol
points (a product rule would need ``level**k`` points); the choice depends on ``k`` only,
so that a level always means one kind of rule and :meth:`Gaussian.refined` stays in it."""


@runtime_checkable
class InitialLaw(Protocol):
    """The law of ``θ_i(0)`` (module docstring)."""

    @property
    def dim(self) -> int: ...

    @property
    def default_level(self) -> int: ...

    def refined(self, level: int) -> int: ...

    def sample(self, n: int, rng: np.random.Generator) -> Array: ...

    def density(self, x: Array) -> Array: ...

    def quadrature(self, level: int | None = None) -> tuple[Array, Array]: ...


def tensor_points(rules: Sequence[tuple[Array, Array]]) -> tuple[Array, Array]:
    """Every combination of one node per 1-D rule ``(nodes, weights)``, weights multiplied."""
    grids = np.meshgrid(*[np.asarray(x) for x, _ in rules], indexing="ij")
    points = np.column_stack([g.ravel() for g in grids]) if rules else np.zeros((1, 0))
    weights = np.ones(1)
    for _, w in rules:
        weights = np.outer(weights, w).ravel()
    return points, weights / weights.sum()


def _sobol_normals(k: int, level: int) -> Array:
    """``2**level`` scrambled Sobol points mapped to ``N(0, I_k)`` (the same on every call)."""
    from scipy.special import ndtri
    from scipy.stats import qmc

    level = integer("level (log2 of the Sobol points)", level, maximum=24)
    return np.asarray(ndtri(qmc.Sobol(k, scramble=True, seed=np.random.default_rng(20241)).random_base2(level)))


@dataclass(frozen=True)
class Gaussian:
    """Independent coordinates ``θ_j ~ N(mean_j, sd_j²)``; ``sd_j = 0`` fixes ``θ_j = mean_j``
    (e.g. Fig. 3's ``a = b = 1``). ``mean`` and ``sd``: sequences of length D (``sd`` may
    be one number). ``quadrature(level)``: ``level`` Gauss–Hermite nodes per random
    coordinate (at most :data:`TENSOR_MAX_DIM` random coordinates; refined: twice the nodes), or
    ``2**level`` Sobol points (refined: ``level + 1``)."""

    mean: ArrayLike
    sd: ArrayLike

    def __post_init__(self) -> None:
        mean = finite_array("mean (of the initial law)", self.mean, (None,))
        sd = finite_array("sd (of the initial law)", np.broadcast_to(self.sd, mean.shape) if np.ndim(self.sd) == 0
                          else self.sd, mean.shape)
        if mean.size < 1 or np.any(sd < 0):
            raise ValueError(f"an initial Gaussian needs D >= 1 coordinates and sd >= 0, got mean {mean.tolist()}, "
                             f"sd {sd.tolist()}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "sd", sd)

    @property
    def dim(self) -> int:
        return int(np.size(self.mean))

    @property
    def random(self) -> NDArray[np.bool_]:
        """Which coordinates are random (``sd > 0``)."""
        return np.asarray(self.sd) > 0

    @property
    def default_level(self) -> int:
        k = int(self.random.sum())
        return {0: 1, 1: 64, 2: 24, 3: 12, 4: 8}.get(k, 12)

    def refined(self, level: int) -> int:
        return 2 * level if self._tensor() else level + 1

    def _tensor(self) -> bool:
        return int(self.random.sum()) <= TENSOR_MAX_DIM

    def sample(self, n: int, rng: np.random.Generator) -> Array:
        """``n`` draws ``(n, D)``: ``n × k`` standard normals for the ``k`` random coordinates, row by row."""
        n = integer("n (the number of units)", n)
        out = np.tile(np.asarray(self.mean), (n, 1))
        random = self.random
        out[:, random] += generator("rng", rng).standard_normal((n, int(random.sum()))) * np.asarray(self.sd)[random]
        return out

    def density(self, x: Array) -> Array:
        if not np.all(self.random):
            raise ValueError("this initial law fixes some coordinates (sd = 0): it has no density on a mesh of "
                             "all of them")
        z = (np.asarray(x, dtype=np.float64) - np.asarray(self.mean)[:, None]) / np.asarray(self.sd)[:, None]
        norm = np.prod(np.asarray(self.sd)) * (2 * math.pi) ** (self.dim / 2)
        return np.asarray(np.exp(-0.5 * np.sum(z * z, axis=0)) / norm)

    def quadrature(self, level: int | None = None) -> tuple[Array, Array]:
        level = self.default_level if level is None else integer("level", level)
        random = self.random
        k = int(random.sum())
        if k == 0:
            return np.asarray(self.mean)[None, :].copy(), np.ones(1)
        if self._tensor():
            g, w = hermite_rule(level)
            normals, weights = tensor_points([(g, w / w.sum())] * k)
        else:
            normals = _sobol_normals(k, level)
            weights = np.full(len(normals), 1.0 / len(normals))
        points = np.tile(np.asarray(self.mean), (len(normals), 1))
        points[:, random] += normals * np.asarray(self.sd)[random]
        return points, weights


@dataclass(frozen=True)
class Product:
    """Independent coordinates, each a frozen ``scipy.stats`` continuous law or a number
    (a constant). ``quadrature(level)``: ``level`` Gauss–Hermite nodes per random
    coordinate mapped by ``F⁻¹(Φ(g))`` (spectral for smooth ``F⁻¹``), weights multiplied."""

    marginals: Sequence[Any]

    def __post_init__(self) -> None:
        if len(self.marginals) < 1:
            raise ValueError("a product law needs at least one coordinate")
        for j, law in enumerate(self.marginals):
            if isinstance(law, bool) or not (isinstance(law, int | float) or all(
                    callable(getattr(law, name, None)) for name in ("ppf", "isf", "pdf"))):
                raise TypeError(f"marginals[{j}] must be a number or a frozen scipy.stats continuous law "
                                f"(scipy.stats.norm(0, 1), ...), got {law!r}")
        object.__setattr__(self, "marginals", tuple(self.marginals))

    @property
    def dim(self) -> int:
        return len(self.marginals)

    def _random(self) -> list[int]:
        return [j for j, law in enumerate(self.marginals) if not isinstance(law, int | float)]

    @property
    def default_level(self) -> int:
        return {0: 1, 1: 64, 2: 24, 3: 12, 4: 8}.get(len(self._random()), 6)

    def refined(self, level: int) -> int:
        return 2 * level

    def sample(self, n: int, rng: np.random.Generator) -> Array:
        """``n`` draws: for each random coordinate in order, ``n`` uniforms mapped by its ``F⁻¹``."""
        n = integer("n (the number of units)", n)
        rng = generator("rng", rng)
        out = np.empty((n, self.dim))
        for j, law in enumerate(self.marginals):
            out[:, j] = float(law) if isinstance(law, int | float) else law.ppf(rng.uniform(size=n))
        return out

    def density(self, x: Array) -> Array:
        if len(self._random()) < self.dim:
            raise ValueError("this initial law fixes some coordinates: it has no density on a mesh of all of them")
        points = np.asarray(x, dtype=np.float64)
        return np.asarray(np.prod([law.pdf(points[j]) for j, law in enumerate(self.marginals)], axis=0))

    def quadrature(self, level: int | None = None) -> tuple[Array, Array]:
        from scipy.special import ndtr

        level = self.default_level if level is None else integer("level", level)
        g, w = hermite_rule(level)
        w = w / w.sum()
        rules = []
        for law in self.marginals:
            if isinstance(law, int | float):
                rules.append((np.array([float(law)]), np.ones(1)))
                continue
            nodes = np.where(g < 0, law.ppf(ndtr(np.minimum(g, 0.0))), law.isf(ndtr(-np.maximum(g, 0.0))))
            rules.append((np.asarray(nodes, dtype=np.float64), w))
        return tensor_points(rules)


@dataclass(frozen=True)
class MeshDensity:
    """A probability density on a meshed domain: ``rho`` a callable of ``x`` ``(D, n)``,
    a number, ``"uniform"``, or nodal values; sampled exactly from its P1 interpolant
    (the law the PDE starts from). ``quadrature(level)``: scikit-fem's element rule of
    degree ``level`` weighted by the P1 interpolant."""

    mesh: Mesh
    rho: Callable[[Array], ArrayLike] | ArrayLike | str = "uniform"
    _sampler: MeshSampler = field(init=False, repr=False, compare=False)
    _nodal: Array = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.mesh, Mesh):
            raise TypeError(f"mesh must be a skfem Mesh (see meshes.*), got {type(self.mesh).__name__}")
        sampler = MeshSampler(self.mesh)
        object.__setattr__(self, "_sampler", sampler)
        object.__setattr__(self, "_nodal", self._nodal_values(sampler))

    def _nodal_values(self, sampler: MeshSampler) -> Array:
        from ..solvers.run import initial_density

        return initial_density(self._space(), self.rho, normalize=True)

    @property
    def nodal(self) -> Array:
        """The density at the mesh nodes, of mass 1 with the lumped masses."""
        return self._nodal.copy()

    @property
    def dim(self) -> int:
        return self._sampler.dim

    @property
    def default_level(self) -> int:
        return 4

    def refined(self, level: int) -> int:
        return level + 2

    def sample(self, n: int, rng: np.random.Generator) -> Array:
        return self._sampler.sample_density(self._nodal, n, rng)

    def density(self, x: Array) -> Array:
        """The P1 interpolant of the density at points ``x`` ``(D, n)`` inside the mesh."""
        return self._space().basis.probes(np.asarray(x, dtype=np.float64)) @ self._nodal

    def _space(self) -> Any:
        from ..fem.space import Space

        return Space(self.mesh, force=True)  # only masses and interpolation: transmissibilities do not matter

    def quadrature(self, level: int | None = None) -> tuple[Array, Array]:
        from ..fem.space import quadrature

        points, weights = quadrature(self.mesh, self.default_level if level is None else integer("level", level))
        w = weights * np.clip(self.density(points.T), 0.0, None)
        return points, w / w.sum()
