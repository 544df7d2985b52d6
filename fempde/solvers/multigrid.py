"""A compiled solve phase for an AMG hierarchy: V- or K-cycle multigrid inside flexible GMRES.

pyamg builds the hierarchy (which nodes are aggregated, the prolongators, the
Galerkin coarse operators); this module only runs it, in one numba call per
linear solve. Three things change from pyamg's own ``aspreconditioner``:

* **K-cycle** (Notay & Vassilevski 2008): the coarse-grid system of a level is
  solved by two steps of a minimal-residual Krylov method (GCR) preconditioned
  by the next level's cycle, instead of by one application of it. Plain
  aggregation with V-cycles is not scalable, and the K-cycle is the standard
  remedy (the iteration counts: tests and ``benchmarks/amg.py``). The Krylov
  steps are taken only below levels that coarsen by at least
  ``KRYLOV_RATIO``, so a cycle costs a bounded multiple of a V-cycle.
  Ruge–Stüben hierarchies scale with plain V-cycles, and there the K-cycle
  costs more than it saves (``Hierarchy.from_pyamg(..., kcycle=False)``).
* Nothing is done twice: pyamg's preconditioner computes the fine residual
  before and after each cycle to test a tolerance it cannot meet in one cycle.
* The levels' matrix entries are stored in single precision (see
  :meth:`Hierarchy.from_pyamg`): a cycle streams its matrices from memory once
  they outgrow the caches, and it is only a preconditioner.

The K-cycle makes the preconditioner vary from one application to the next, so
the outer iteration is flexible GMRES (FGMRES, right-preconditioned: its
residual estimate is the true residual's). Smoothing is Gauss–Seidel: one
forward sweep before the coarse correction and one backward sweep after, or
on the finest level more, alternating in direction (:mod:`fempde.solvers.linalg`
asks for two in 3-D).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numba
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from ..checks import integer

__all__ = ["KRYLOV_RATIO", "Hierarchy", "Workspace", "fgmres"]

Array = NDArray[np.float64]
Values = NDArray[np.floating[Any]]  # the hierarchy's matrix entries: float32 or float64
Index = NDArray[np.int64]
Indices = NDArray[Any]  # CSR index arrays: uint32 (uint64 past 2^32 entries)

KRYLOV_RATIO = 3.0  # Krylov-accelerate the coarse solve below a level only if it coarsens this much
_SINGLE_MAX = 1e30  # entries above this stay double (float32 overflows at 3.4e38)
_GCR_TOL = 0.25  # skip the second inner GCR step if the first cut the coarse residual by this


@numba.njit(cache=True)
def _gauss_seidel(ptr: Indices, idx: Indices, data: Values, diag: Indices, dinv: Array, x: Array, b: Array,
                  forward: bool, from_zero: bool) -> None:
    """One sweep ``x_i = (b_i − Σ_{j≠i} a_ij x_j) / a_ii``, in increasing or decreasing ``i``.

    Each row sums the entries not yet updated in this sweep first, then the updated
    ones from the farthest to the nearest (``diag[i]`` is where row ``i``'s diagonal
    sits; columns are sorted). On a mesh ``x_{i∓1}`` is nearly always a neighbour,
    so the sweep is one long dependency chain through consecutive rows; ending each
    row's sum on that term keeps the chain short (timings in
    ``benchmarks/results/README.md``). ``from_zero`` skips the entries that still
    multiply the zero start."""
    n = b.shape[0]
    for t in range(n):
        i = t if forward else n - 1 - t
        s = b[i]
        lo, di, hi = ptr[i], diag[i], ptr[i + 1]
        if forward:
            if not from_zero:
                for k in range(di + 1, hi):
                    s -= data[k] * x[idx[k]]
            for k in range(lo, di):
                s -= data[k] * x[idx[k]]
        else:
            if not from_zero:
                for k in range(lo, di):
                    s -= data[k] * x[idx[k]]
            for k in range(hi - 1, di, -1):
                s -= data[k] * x[idx[k]]
        x[i] = s * dinv[i]


@numba.njit(cache=True)
def _matvec(ptr: Indices, idx: Indices, data: Values, x: Array, y: Array) -> None:
    for i in range(y.shape[0]):
        s = 0.0
        for k in range(ptr[i], ptr[i + 1]):
            s += data[k] * x[idx[k]]
        y[i] = s


@numba.njit(cache=True)
def _residual(ptr: Indices, idx: Indices, data: Values, x: Array, b: Array, r: Array) -> None:
    for i in range(b.shape[0]):
        s = b[i]
        for k in range(ptr[i], ptr[i + 1]):
            s -= data[k] * x[idx[k]]
        r[i] = s


@numba.njit(cache=True)
def _dot(a: Array, b: Array) -> float:
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


class Levels(NamedTuple):
    """A hierarchy flattened for the compiled cycle: per level ``sizes`` and vector
    offsets ``voff``; the operators ``a_*``, prolongators ``p_*`` and restrictors
    ``r_*`` as concatenated CSR arrays (``ptr``, ``idx``, ``data``) with per-level
    offsets into ``ptr`` and ``idx``; the position of each diagonal entry and the
    inverse diagonal; the coarsest level's inverse; per level whether the next is
    solved by GCR steps, and the Gauss–Seidel sweeps."""

    sizes: Index
    voff: Index
    a_ptr: Indices
    a_idx: Indices
    a_data: Values
    a_poff: Index
    a_ioff: Index
    a_diag: Index
    dinv: Array
    p_ptr: Indices
    p_idx: Indices
    p_data: Values
    p_poff: Index
    p_ioff: Index
    r_ptr: Indices
    r_idx: Indices
    r_data: Values
    r_poff: Index
    r_ioff: Index
    coarse_inverse: Array
    krylov: NDArray[np.bool_]
    sweeps: Index


class Work(NamedTuple):
    """The cycle's vectors, all levels end to end (``voff``): iterate, right-hand
    side, residual, the GCR directions and their images, the coarse residual."""

    xs: Array
    bs: Array
    rs: Array
    v1: Array
    v2: Array
    w1: Array
    w2: Array
    coarse_residual: Array


@numba.njit(cache=True)
def _level(ptr_all: Indices, idx_all: Indices, data_all: Values, ptr_off: Index, idx_off: Index, rows: int,
           level: int) -> tuple[Indices, Indices, Values]:
    p = ptr_all[ptr_off[level]:ptr_off[level] + rows + 1]
    return p, idx_all[idx_off[level]:idx_off[level + 1]], data_all[idx_off[level]:idx_off[level + 1]]


@numba.njit(cache=True)
def _cycle(levels: Levels, work: Work, b0: Array, x0: Array) -> None:
    """``x0 ≈ A⁻¹ b0`` by one cycle (K or V) from zero (``x0`` and ``b0`` stand for the finest
    level's slices of the workspace, so that FGMRES need not copy its vectors in and out).
    Written as a loop over the levels, not as a recursion (numba cannot load a recursive
    function from its cache): ``stage[l]`` says where level ``l`` resumes when the next
    level's cycle returns."""
    sizes, voff, a_ptr, a_idx, a_data, a_poff, a_ioff, a_diag, dinv, p_ptr, p_idx, p_data, p_poff, p_ioff, \
        r_ptr, r_idx, r_data, r_poff, r_ioff, coarse_inverse, krylov, sweeps = levels  # the fields of Levels
    xs, bs, rs, v1, v2, w1, w2, coarse_residual = work  # the fields of Work
    nl = sizes.shape[0]
    stage = np.zeros(nl, dtype=np.int64)  # 1: after a plain coarse cycle, 2 and 3: after the first and second GCR one
    norm0, alpha, q1q1 = np.zeros(nl), np.zeros(nl), np.zeros(nl)
    level, descending = 0, True
    while level >= 0:
        n, o = sizes[level], voff[level]
        x, b = (x0, b0) if level == 0 else (xs[o:o + n], bs[o:o + n])
        if descending and level == nl - 1:  # the coarsest level: solve exactly, go back up
            for i in range(n):
                s = 0.0
                for j in range(n):
                    s += coarse_inverse[i, j] * b[j]
                x[i] = s
            level, descending = level - 1, False
            continue
        ap, ai, ad = _level(a_ptr, a_idx, a_data, a_poff, a_ioff, n, level)
        d, dg = dinv[o:o + n], a_diag[o:o + n]
        nc, oc = sizes[level + 1], voff[level + 1]
        bc, xc = bs[oc:oc + nc], xs[oc:oc + nc]
        rc = coarse_residual[oc:oc + nc]
        z1, z2, q1, q2 = v1[oc:oc + nc], v2[oc:oc + nc], w1[oc:oc + nc], w2[oc:oc + nc]
        cp, ci, cd = _level(a_ptr, a_idx, a_data, a_poff, a_ioff, nc, level + 1)
        if descending:  # pre-smooth, restrict the residual, go down
            for sweep in range(sweeps[level]):  # forward, backward, forward, ...
                _gauss_seidel(ap, ai, ad, dg, d, x, b, sweep % 2 == 0, sweep == 0)
            r = rs[o:o + n]
            _residual(ap, ai, ad, x, b, r)
            rp, ri, rd = _level(r_ptr, r_idx, r_data, r_poff, r_ioff, nc, level)
            _matvec(rp, ri, rd, r, bc)
            if krylov[level]:  # two GCR steps on A_c e = b_c, each preconditioned by the next level's cycle
                rc[:] = bc
                norm0[level] = np.sqrt(_dot(rc, rc))
                stage[level] = 2
            else:
                stage[level] = 1
            level += 1
            continue
        if stage[level] == 2:  # first GCR step
            z1[:] = xc
            _matvec(cp, ci, cd, z1, q1)
            qq = _dot(q1, q1)
            a1 = _dot(q1, rc) / qq if qq > 0 else 0.0
            alpha[level], q1q1[level] = a1, qq
            for i in range(nc):
                rc[i] -= a1 * q1[i]
            if qq > 0 and np.sqrt(_dot(rc, rc)) > _GCR_TOL * norm0[level]:
                bc[:] = rc
                stage[level] = 3
                level, descending = level + 1, True
                continue
            for i in range(nc):
                xc[i] = a1 * z1[i]
        elif stage[level] == 3:  # second GCR step, its direction A-orthogonalised against the first
            z2[:] = xc
            _matvec(cp, ci, cd, z2, q2)
            beta = _dot(q2, q1) / q1q1[level]
            for i in range(nc):
                q2[i] -= beta * q1[i]
                z2[i] -= beta * z1[i]
            q22 = _dot(q2, q2)
            a2 = _dot(q2, rc) / q22 if q22 > 0 else 0.0
            a1 = alpha[level]
            for i in range(nc):
                xc[i] = a1 * z1[i] + a2 * z2[i]
        pp, pi, pd = _level(p_ptr, p_idx, p_data, p_poff, p_ioff, n, level)  # correct, post-smooth, go up
        for i in range(n):
            s = 0.0
            for k in range(pp[i], pp[i + 1]):
                s += pd[k] * xc[pi[k]]
            x[i] += s
        for sweep in range(sweeps[level]):  # backward, forward, backward, ...
            _gauss_seidel(ap, ai, ad, dg, d, x, b, sweep % 2 == 1, False)
        level -= 1


@numba.njit(cache=True)
def _fgmres(ptr: Indices, idx: Indices, data: Array, b: Array, x: Array, levels: Levels, work: Work,
            rtol: float,
            max_restarts: int, basis: Array, search: Array) -> tuple[int, bool]:
    """Right-preconditioned FGMRES from ``x`` (updated in place) to ``‖b − A x‖ ≤ rtol ‖b‖``,
    restarted every ``len(search)`` iterations; returns the iterations and whether it got there."""
    n = b.shape[0]
    restart = search.shape[0]
    hess = np.zeros((restart + 1, restart))
    cs, sn, g = np.zeros(restart), np.zeros(restart), np.zeros(restart + 1)
    r = np.empty(n)
    bnorm = np.sqrt(_dot(b, b))
    if bnorm == 0.0:
        x[:] = 0.0
        return 0, True
    target = rtol * bnorm
    total = 0
    for _ in range(max_restarts):
        _residual(ptr, idx, data, x, b, r)
        beta = np.sqrt(_dot(r, r))
        if beta <= target:
            return total, True
        basis[0] = r / beta
        g[:] = 0.0
        g[0] = beta
        hess[:] = 0.0
        k = 0
        for j in range(restart):
            _cycle(levels, work, basis[j], search[j])
            vec = basis[j + 1]
            _matvec(ptr, idx, data, search[j], vec)
            for i in range(j + 1):  # modified Gram–Schmidt
                hij = _dot(vec, basis[i])
                hess[i, j] = hij
                for m in range(n):
                    vec[m] -= hij * basis[i, m]
            norm = np.sqrt(_dot(vec, vec))
            hess[j + 1, j] = norm
            if norm > 0:
                scale = 1.0 / norm
                for m in range(n):
                    vec[m] *= scale
            for i in range(j):  # the earlier Givens rotations, then a new one to zero H[j+1, j]
                t = cs[i] * hess[i, j] + sn[i] * hess[i + 1, j]
                hess[i + 1, j] = -sn[i] * hess[i, j] + cs[i] * hess[i + 1, j]
                hess[i, j] = t
            rho = np.hypot(hess[j, j], hess[j + 1, j])
            cs[j], sn[j] = (hess[j, j] / rho, hess[j + 1, j] / rho) if rho > 0 else (1.0, 0.0)
            hess[j, j] = rho
            hess[j + 1, j] = 0.0
            g[j + 1] = -sn[j] * g[j]
            g[j] = cs[j] * g[j]
            total += 1
            k = j + 1
            if abs(g[j + 1]) <= target or norm == 0:
                break
        y = np.zeros(k)
        for i in range(k - 1, -1, -1):
            s = g[i]
            for m in range(i + 1, k):
                s -= hess[i, m] * y[m]
            y[i] = s / hess[i, i] if hess[i, i] != 0 else 0.0
        for i in range(k):
            for m in range(n):
                x[m] += y[i] * search[i, m]
    _residual(ptr, idx, data, x, b, r)
    return total, bool(np.sqrt(_dot(r, r)) <= target)


def _index_type(size: int) -> type[np.unsignedinteger[Any]]:
    """Unsigned indices: numba then drops its negative-index wrap-around test, which
    slows a Gauss–Seidel sweep down (timings in ``benchmarks/results/README.md``)."""
    return np.uint32 if size < 2**32 else np.uint64


def _csr_arrays(matrix: sp.csr_matrix) -> tuple[Indices, Indices, Array]:
    kind = _index_type(max(matrix.nnz, matrix.shape[1]) + 1)
    return (matrix.indptr.astype(kind), matrix.indices.astype(kind),
            np.ascontiguousarray(matrix.data, dtype=np.float64))


def _diagonal_positions(matrix: sp.csr_matrix) -> Indices:
    """Where each row's diagonal entry sits in a canonical CSR matrix (an empty
    row, which has none, gets its start: both its halves are then empty)."""
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    at = np.flatnonzero(matrix.indices == rows)
    positions = matrix.indptr[:-1].copy()
    positions[rows[at]] = at
    return positions.astype(_index_type(matrix.nnz + 1))


def _checked_diagonal(matrix: sp.csr_matrix, depth: int) -> Array:
    """Gauss–Seidel divides by the diagonal. A coarse level may have empty rows and
    columns (where the density is zero, pyamg's improved near-null-space
    candidates vanish, and so do those columns of the prolongator): the sweep
    leaves their unknowns at 0, as pyamg's does. Any other zero on the diagonal,
    and any on the finest level, is refused. Returns the diagonal."""
    diagonal = matrix.diagonal()
    if not np.all(np.isfinite(diagonal)):
        raise np.linalg.LinAlgError(f"AMG level {depth} has a non-finite diagonal entry")
    zero = diagonal == 0
    if zero.any() and (depth == 0 or matrix[zero].count_nonzero() or matrix[:, zero].count_nonzero()):
        raise np.linalg.LinAlgError(
            f"AMG level {depth} has a zero diagonal entry in a row or column with other entries: "
            "Gauss–Seidel cannot run (is the matrix singular, or not an M-matrix-like Jacobian?)")
    return diagonal


def _flatten(mats: list[Any], values: type[np.floating[Any]]) -> tuple[Indices, Indices, Values, Index, Index]:
    """The CSR arrays of several matrices end to end, with where each one's start."""
    if not mats:  # a one-level hierarchy has no transfer operators
        none = np.zeros(0, dtype=np.uint32)
        return none, none, np.zeros(0, dtype=values), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    csr = [sp.csr_matrix(m) for m in mats]
    ptr_off = np.concatenate([[0], np.cumsum([m.shape[0] + 1 for m in csr])]).astype(np.int64)
    idx_off = np.concatenate([[0], np.cumsum([m.nnz for m in csr])]).astype(np.int64)
    kind = _index_type(max(int(idx_off[-1]), max(m.shape[1] for m in csr)) + 1)
    ptr = np.concatenate([m.indptr for m in csr]).astype(kind)
    idx = np.concatenate([m.indices for m in csr]).astype(kind)
    data = np.concatenate([m.data for m in csr]).astype(values)
    return ptr, idx, data, ptr_off, idx_off


def _value_type(mats: list[Any], single: bool) -> type[np.floating[Any]]:
    """float32 for the hierarchy's matrix entries if asked and they fit well inside its range."""
    if single and all(np.abs(sp.csr_matrix(m).data).max(initial=0.0) < _SINGLE_MAX for m in mats):
        return np.float32
    return np.float64


@dataclass
class Hierarchy:
    """A pyamg hierarchy flattened for the compiled cycle (see the module notes)."""

    levels: Levels
    work: Work
    n: int

    @classmethod
    def from_pyamg(cls, solver: Any, fine_sweeps: int = 1, kcycle: bool = True, single: bool = True) -> Hierarchy:
        """The hierarchy of a pyamg ``MultilevelSolver``, smoothing with ``fine_sweeps``
        Gauss–Seidel sweeps on each side on the finest level (alternating in
        direction: forward, backward, ... before; backward, forward, ... after) and
        one on the coarser levels. ``kcycle=False`` gives a plain V-cycle: the
        right choice for Ruge–Stüben hierarchies, whose V-cycle already scales.

        ``single`` stores the levels' matrix entries in single precision (the
        vectors, diagonals and the coarsest solve stay double). It changes only the
        preconditioner: FGMRES applies the caller's double-precision matrix, so the
        solution meets its tolerance all the same. A cycle then streams 8 bytes per
        entry instead of 12, in the same iteration count (timings in
        ``benchmarks/results/README.md``)."""
        levels = solver.levels
        integer("fine_sweeps", fine_sweeps)
        sweeps = np.ones(len(levels), dtype=np.int64)
        sweeps[0] = int(fine_sweeps)
        sizes = np.array([level.A.shape[0] for level in levels], dtype=np.int64)
        voff = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        operators = [sp.csr_matrix(level.A) for level in levels]
        for a in operators:
            a.sum_duplicates()  # sorted columns, each entry once
        diagonals = np.concatenate([_checked_diagonal(a, depth) for depth, a in enumerate(operators)])
        inverse_diagonals = np.divide(1.0, diagonals, out=np.zeros_like(diagonals), where=diagonals != 0)
        diag_at = np.concatenate([_diagonal_positions(a) for a in operators])
        coarse = operators[-1].toarray()
        try:
            coarse_inverse = np.linalg.inv(coarse)
        except np.linalg.LinAlgError:
            coarse_inverse = np.linalg.pinv(coarse)
        krylov = np.zeros(len(levels), dtype=np.bool_)
        # Krylov steps at level l solve level l+1's system; worth it only if level l+1
        # is not itself the coarsest (solved exactly) and level l+2 is much smaller
        for lv in range(len(levels) - 2):
            krylov[lv] = kcycle and sizes[lv + 1] >= KRYLOV_RATIO * sizes[lv + 2]
        prolongators, restrictors = [level.P for level in levels[:-1]], [level.R for level in levels[:-1]]
        values = _value_type(operators + prolongators + restrictors, single)
        flat = Levels(
            sizes, voff, *_flatten(operators, values), diag_at, inverse_diagonals,
            *_flatten(prolongators, values), *_flatten(restrictors, values),
            np.ascontiguousarray(coarse_inverse), krylov, sweeps,
        )
        total = int(voff[-1])
        work = Work(*(np.zeros(total) for _ in range(len(Work._fields))))
        return cls(flat, work, int(sizes[0]))

    @property
    def krylov(self) -> NDArray[np.bool_]:
        """Per level: whether the next level's system is solved by two GCR steps."""
        return np.asarray(self.levels.krylov)

    @property
    def values(self) -> np.dtype[Any]:
        """The type the levels' matrix entries are stored in (float32 unless asked otherwise or too large)."""
        return np.dtype(self.levels.a_data.dtype)

    @property
    def sweeps(self) -> Index:
        """Per level: Gauss–Seidel sweeps on each side of the coarse correction."""
        return np.asarray(self.levels.sweeps)

    def cycle(self, b: Array) -> Array:
        """One cycle from zero: an approximation of ``A⁻¹ b`` (a preconditioner)."""
        x = np.zeros(self.n)
        _cycle(self.levels, self.work, np.ascontiguousarray(b, dtype=np.float64), x)
        return x


class Workspace:
    """The Krylov vectors of FGMRES (2 x 31 of them by default), kept from one solve
    to the next: allocated afresh, they are page-faulted in again on every solve."""

    def __init__(self) -> None:
        self._krylov: tuple[Array, Array] | None = None

    def krylov(self, restart: int, n: int) -> tuple[Array, Array]:
        if self._krylov is None or self._krylov[1].shape != (restart, n):
            self._krylov = (np.empty((restart + 1, n)), np.empty((restart, n)))
        return self._krylov


def fgmres(matrix: sp.csr_matrix, rhs: Array, hierarchy: Hierarchy, rtol: float, restart: int = 30,
           max_restarts: int = 20, workspace: Workspace | None = None) -> tuple[Array, bool, int]:
    """Solve ``matrix x = rhs`` to ``‖rhs − matrix x‖ ≤ rtol ‖rhs‖`` by FGMRES with
    multigrid preconditioning; returns ``x``, whether it converged, and the iterations.
    Pass the same ``workspace`` to a run of solves to reuse its memory."""
    if restart < 1 or max_restarts < 1:
        raise ValueError(f"restart and max_restarts must be positive, got {restart} and {max_restarts}")
    matrix = sp.csr_matrix(matrix)
    if matrix.shape != (hierarchy.n, hierarchy.n) or np.shape(rhs) != (hierarchy.n,):
        raise ValueError(f"matrix {matrix.shape} and right-hand side {np.shape(rhs)} do not fit a hierarchy of "
                         f"{hierarchy.n} unknowns")
    workspace = workspace or Workspace()
    x = np.zeros(matrix.shape[0])
    iterations, converged = _fgmres(*_csr_arrays(matrix), np.ascontiguousarray(rhs, dtype=np.float64), x,
                                    hierarchy.levels, hierarchy.work, rtol, max_restarts,
                                    *workspace.krylov(restart, matrix.shape[0]))
    return x, bool(converged), int(iterations)
