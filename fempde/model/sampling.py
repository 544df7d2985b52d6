"""Drawing points on a meshed domain: uniform (the data of the RBF network) and
from a P1 density (the initial law of particles compared with a density on the
mesh). The one owner of both: the data laws, the initial laws and the
particles' domain use it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from skfem import Mesh

import meshes

from ..checks import finite_array, generator, integer

__all__ = ["MeshSampler"]

Array = NDArray[np.float64]


class MeshSampler:
    """Uniform points and density samples on ``mesh`` (volumes computed once)."""

    def __init__(self, mesh: Mesh) -> None:
        self.mesh = mesh
        self.p = np.asarray(mesh.p, dtype=np.float64)
        self.t = np.asarray(mesh.t)
        self.volumes = np.abs(meshes.signed_volumes(self.p, self.t))
        self.volume = float(self.volumes.sum())

    @property
    def dim(self) -> int:
        return int(self.p.shape[0])

    def sample(self, n: int, rng: np.random.Generator) -> Array:
        """``n`` uniform points ``(n, dim)``: an element by volume, then uniform
        barycentric coordinates (normalised exponentials)."""
        elements = rng.choice(self.t.shape[1], size=n, p=self.volumes / self.volume)
        weights = rng.exponential(size=(n, self.dim + 1))
        weights /= weights.sum(axis=1, keepdims=True)
        vertices = self.p[:, self.t[:, elements]]  # (dim, dim+1, n)
        return np.asarray(np.einsum("dkn,nk->nd", vertices, weights))

    def sample_density(self, values: Array, n: int, rng: np.random.Generator) -> Array:
        """``n`` i.i.d. points ``(n, dim)`` from the P1 density with nodal ``values``:
        an element by its mass, then a uniform point in it kept with probability
        ``ρ(x) / max_vertices ρ`` (rejection)."""
        n = integer("n (the number of points)", n)
        rng = generator("rng", rng)
        values = finite_array("the density's nodal values", values, (self.p.shape[1],))
        if np.any(values < 0):
            raise ValueError("the density must be >= 0 at every mesh node")
        element_mass = self.volumes * values[self.t].mean(axis=0)
        if element_mass.sum() <= 0:
            raise ValueError("the density has zero mass")
        top = values[self.t].max(axis=0)
        out = np.empty((0, self.dim))
        while len(out) < n:
            want = 2 * (n - len(out)) + 16
            elements = rng.choice(self.t.shape[1], size=want, p=element_mass / element_mass.sum())
            weights = rng.exponential(size=(want, self.dim + 1))
            weights /= weights.sum(axis=1, keepdims=True)
            density = np.einsum("kn,nk->n", values[self.t[:, elements]], weights)
            keep = rng.uniform(size=want) * top[elements] < density
            points = np.einsum("dkn,nk->nd", self.p[:, self.t[:, elements]], weights)
            out = np.vstack([out, points[keep]])
        return out[:n]
