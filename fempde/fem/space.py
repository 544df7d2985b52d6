"""The P1 space with lumped mass and the edge transmissibilities of its stiffness matrix.

Where the P1 stiffness has negative transmissibilities on a Delaunay mesh (the
3-D ball's wall layer), the space takes the Voronoi dual's instead: the
two-point finite-volume scheme on the nodes' Voronoi cells clipped to the
domain, ``T_ij = |V_i ∩ V_j ∩ Ω|/|x_i − x_j| ≥ 0`` and masses ``m_i = |V_i ∩ Ω|``
(:mod:`meshes.voronoi`). Everything the solvers read (``m``, ``edges``, ``T``)
then comes from the cells; the mesh's elements still carry the P1 functions
that quadrature, interpolation and output use.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from skfem import Basis, Mesh, asm
from skfem.models.poisson import mass

import meshes

__all__ = ["NodalFunction", "Space", "quadrature"]

Array = NDArray[np.float64]
NodalFunction = Callable[[Array], ArrayLike]


class Space:
    """P1 finite elements on a simplicial mesh, seen as a graph of nodes and edges.

    Attributes
    ----------
    mesh, basis
        The scikit-fem mesh and P1 basis.
    x
        Node coordinates, shape ``(dim, n)``.
    m
        Node masses, shape ``(n,)``: the lumped P1 masses (row sums of the
        P1 mass matrix), or the Voronoi cells' volumes.
    volume
        ``|Ω|``.
    edges, T
        Edges ``(2, n_edges)`` and transmissibilities ``T_ij``: ``−K_ij`` of
        the P1 stiffness, or the Voronoi dual's.
    transmissibility
        Which: ``"p1"`` or ``"voronoi"`` (also in :attr:`report`).

    Parameters
    ----------
    force
        Accept a mesh with negative transmissibilities (it breaks the
        positivity and energy guarantees; a warning says how many edges).
    transmissibility
        ``"auto"`` (default): P1 where all its ``T_ij >= 0``, else the Voronoi
        dual where the mesh is Delaunay (say, :func:`meshes.ball`), else P1,
        refused unless forced; ``"p1"``; ``"voronoi"`` (a Delaunay mesh only).
    """

    def __init__(self, mesh: Mesh, *, force: bool = False, transmissibility: str = "auto") -> None:
        if not isinstance(force, (bool, np.bool_)):  # "no" would count as True
            raise TypeError(f"force must be True or False, got {force!r}")
        checked = meshes.checks.check_and_transmissibilities(mesh, transmissibility)
        self.report, self.edges, self.T = checked.report, checked.edges, checked.T
        if not self.report.admissible:
            message = (
                f"{self.report.n_bad_edges} of {self.report.n_edges} mesh edges have a negative "
                f"transmissibility (min {self.report.min_transmissibility:.3g}): the scheme's positivity "
                "and free-energy guarantees need T_ij >= 0"
            )
            if self.report.delaunay is False:
                message += ("; the mesh is not Delaunay, so the Voronoi-dual transmissibilities (>= 0) "
                            "cannot replace them: remesh (a Delaunay mesh)")
            else:
                message += "; remesh, or on a Delaunay mesh pass transmissibility='auto' (the Voronoi dual's)"
            if not force:
                raise meshes.MeshError(message + ", or pass force=True to solve anyway")
            warnings.warn(message + "; solving anyway because force=True", stacklevel=2)
        self.transmissibility = self.report.transmissibility
        self.mesh = mesh
        self.x: Array = np.asarray(mesh.p, dtype=np.float64)
        self.m: Array = lumped_masses(mesh) if checked.masses is None else checked.masses
        self.volume = float(self.m.sum())
        self.dim = mesh.dim()

    @cached_property
    def basis(self) -> Basis:
        """The scikit-fem P1 basis (built on first use: a run needs only the masses and edges)."""
        return Basis(self.mesh, meshes.checks.p1_element(self.mesh))

    @property
    def n(self) -> int:
        return self.x.shape[1]

    def __repr__(self) -> str:
        return f"Space({self.report.describe()})"

    def interpolate(self, func: NodalFunction | ArrayLike, name: str = "function") -> Array:
        """Nodal values of ``func`` (a callable of ``x`` with shape ``(dim, n)``, a
        number, or an array of nodal values); raises if any value is not finite."""
        values = func(self.x) if callable(func) else func
        out = np.broadcast_to(np.asarray(values, dtype=np.float64), (self.n,)).copy()
        bad = ~np.isfinite(out)
        if np.any(bad):
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name} is not finite at {int(bad.sum())} of {self.n} nodes, "
                f"first at x = {self.x[:, k].tolist()} (value {out[k]})"
            )
        return out

    def integrate(self, values: Array) -> float:
        """``∫_Ω u`` by nodal (lumped) quadrature."""
        return float(self.m @ values)

    @cached_property
    def jacobian_pattern(self) -> tuple[sp.csr_matrix, NDArray[np.int64]]:
        """CSR pattern of an edge-flux Jacobian and the slot in its data of each value
        of ``[diagonal, (i, j) entries, (j, i) entries]``."""
        n, (i, j) = self.n, self.edges
        diag = np.arange(n)
        rows = np.concatenate([diag, i, j])
        cols = np.concatenate([diag, j, i])
        order = np.arange(rows.size, dtype=np.float64) + 1
        pattern = sp.csr_matrix((order, (rows, cols)), shape=(n, n))
        slot = np.empty(rows.size, dtype=np.int64)
        slot[pattern.data.astype(np.int64) - 1] = np.arange(rows.size)
        return pattern, slot

    def quadrature(self, intorder: int = 4) -> tuple[Array, Array]:
        """Quadrature points ``(n_points, dim)`` and weights of a rule exact for
        polynomials of degree ``intorder`` on each element."""
        return quadrature(self.mesh, intorder)

    @cached_property
    def wall_layer(self) -> NDArray[np.bool_]:
        """Nodes within two mesh sizes (``2 h_max``) of the wall."""
        from scipy.spatial import cKDTree

        wall = meshes.boundary_nodes(self.mesh)
        distance, _ = cKDTree(self.x[:, wall].T).query(self.x.T)
        return np.asarray(distance <= 2 * self.report.h_max)

    def wall_mass(self, rho: Array) -> float:
        """``Σ m_i ρ_i`` over :attr:`wall_layer`: mass that feels the bounded domain."""
        layer = self.wall_layer
        return float(self.m[layer] @ rho[layer])

    @cached_property
    def incidence(self) -> sp.csr_matrix:
        """Edge–node incidence ``C`` (``n_edges × n``): ``+1`` at ``i``, ``−1`` at ``j``."""
        i, j = self.edges
        rows = np.repeat(np.arange(i.size), 2)
        cols = np.column_stack([i, j]).ravel()
        signs = np.tile([1.0, -1.0], i.size)
        return sp.csr_matrix((signs, (rows, cols)), shape=(i.size, self.n))

    def element_gradient(self, values: Array) -> Array:
        """Gradient of the P1 function with nodal ``values`` on each element, shape ``(dim, nelems)``."""
        return np.asarray(self.basis.interpolate(values).grad)[:, :, 0]

    def element_mean(self, values: Array) -> Array:
        return np.asarray(values[self.mesh.t].mean(axis=0))


def lumped_masses(mesh: Mesh) -> Array:
    """Row sums of the P1 mass matrix: ``m_i = Σ_{K ∋ i} |K|/(d + 1)``, since ``∫_K φ_i = |K|/(d + 1)``
    (what ``asm(mass, basis).sum(axis=1)`` gives, without assembling the matrix: a third of
    a small run's setup)."""
    points, cells = np.asarray(mesh.p, dtype=np.float64), np.asarray(mesh.t)
    dim = points.shape[0]
    if dim == 1 or cells.shape[0] != dim + 1:  # 1-D (cheap there) or not simplices: assemble
        return np.asarray(asm(mass, Basis(mesh, meshes.checks.p1_element(mesh))).sum(axis=1)).ravel()
    corners = points[:, cells]  # (dim, dim + 1, nelems)
    edges = (corners[:, 1:, :] - corners[:, :1, :]).transpose(2, 0, 1)  # (nelems, dim, dim)
    volume = np.abs(np.linalg.det(edges)) / math.factorial(dim)
    share = np.repeat(volume[None, :] / (dim + 1), dim + 1, axis=0).ravel()
    return np.bincount(cells.ravel(), weights=share, minlength=points.shape[1]).astype(np.float64)


def quadrature(mesh: Mesh, intorder: int = 4) -> tuple[Array, Array]:
    """Quadrature points ``(n_points, dim)`` and weights on ``mesh`` (scikit-fem's
    rule of degree ``intorder`` on every element)."""
    basis = Basis(mesh, meshes.p1_element(mesh), intorder=intorder)
    points = np.asarray(basis.mapping.F(basis.X))  # (dim, nelems, nqp)
    return points.reshape(points.shape[0], -1).T.copy(), np.asarray(basis.dx).ravel()
