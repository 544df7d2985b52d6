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

import warnings
from collections import OrderedDict
from collections.abc import Callable
from functools import cached_property
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from skfem import Basis, Mesh

import meshes

from ..checks import choice
from .masses import MASSES, corrected_masses, lumped_masses

__all__ = ["NodalFunction", "Space", "lumped_masses", "quadrature"]

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
        Node masses, shape ``(n,)`` (:mod:`fempde.fem.masses`): the lumped P1
        masses (row sums of the P1 mass matrix), the same with Gregory's
        wall correction on a uniform tensor grid, or the Voronoi cells' volumes.
    masses
        Which: ``"lumped"``, ``"corrected"`` or ``"voronoi"``.
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
    masses
        One of :data:`~fempde.fem.masses.MASSES`: ``"auto"`` (default) takes
        the wall-corrected masses where they apply (a uniform tensor grid with
        P1 transmissibilities: the interval, rectangle and box generators),
        else the lumped ones; ``"lumped"``; ``"corrected"`` (a ``ValueError``
        where they do not apply).

    A mesh's checks, edges and masses are kept (read-only) for the last few
    meshes prepared, keyed by a hash of its nodes and cells: a second space on
    the same mesh, or on a mesh the same generator made again, costs the hash.
    """

    def __init__(self, mesh: Mesh, *, force: bool = False, transmissibility: str = "auto",
                 masses: str = "auto") -> None:
        if not isinstance(force, (bool, np.bool_)):  # "no" would count as True
            raise TypeError(f"force must be True or False, got {force!r}")
        choice("masses", masses, MASSES)
        prepared = _prepared(mesh, transmissibility, masses)
        self.report, self.edges, self.T = prepared.report, prepared.edges, prepared.T
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
        self.m: Array = prepared.m
        self.masses = prepared.masses
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


class _Prepared(NamedTuple):
    """What a space takes from its mesh: the checks' report, edges, transmissibilities and masses."""

    report: meshes.MeshReport
    edges: NDArray[np.int64]
    T: Array
    m: Array
    masses: str


_PREPARED: OrderedDict[tuple[str, str, str], _Prepared] = OrderedDict()
_PREPARED_KEPT = 8  # meshes
_PREPARED_MAX_NODES = 200_000  # larger meshes are prepared afresh: their setup is small beside their run


def _prepared(mesh: Mesh, transmissibility: str, masses: str) -> _Prepared:
    """The checked mesh's edges, transmissibilities and masses, from the cache or made."""
    small = mesh.p.shape[1] <= _PREPARED_MAX_NODES
    key = (meshes.fingerprint(mesh), str(transmissibility), masses) if small else None
    if key is not None and key in _PREPARED:
        _PREPARED.move_to_end(key)
        return _PREPARED[key]
    checked = meshes.checks.check_and_transmissibilities(mesh, transmissibility)
    if checked.masses is not None:
        if masses == "corrected":
            raise ValueError("masses='corrected' needs P1 transmissibilities on a uniform tensor grid; this mesh "
                             "takes the Voronoi dual's: use masses='auto'")
        m, kind = checked.masses, "voronoi"
    else:
        m, kind = lumped_masses(mesh), "lumped"
        if masses != "lumped":
            corrected = corrected_masses(mesh, m)
            if corrected is not None:
                m, kind = corrected, "corrected"
            elif masses == "corrected":
                raise ValueError("masses='corrected' needs a uniform tensor grid whose interior lumped masses are "
                                 "the trapezoid's (meshes.interval, rectangle, box): use masses='auto'")
    for array in (checked.edges, checked.T, m):
        array.flags.writeable = False  # shared by every space on this mesh
    prepared = _Prepared(checked.report, checked.edges, checked.T, m, kind)
    if key is not None:
        _PREPARED[key] = prepared
        while len(_PREPARED) > _PREPARED_KEPT:
            _PREPARED.popitem(last=False)
    return prepared


def quadrature(mesh: Mesh, intorder: int = 4) -> tuple[Array, Array]:
    """Quadrature points ``(n_points, dim)`` and weights on ``mesh`` (scikit-fem's
    rule of degree ``intorder`` on every element)."""
    basis = Basis(mesh, meshes.p1_element(mesh), intorder=intorder)
    points = np.asarray(basis.mapping.F(basis.X))  # (dim, nelems, nqp)
    return points.reshape(points.shape[0], -1).T.copy(), np.asarray(basis.dx).ravel()
