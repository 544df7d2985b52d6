"""LU factors without pivoting on a fixed sparsity pattern: the direct solve of
:class:`fempde.solvers.linalg.LinearSolver` for the edge-flux Jacobians.

An edge-flux Jacobian of a local problem keeps its sparsity pattern for the whole run and is an
M-matrix: diagonal dominant by columns (its columns sum to the lumped masses, its off-diagonal
entries are <= 0). Gaussian elimination then needs no pivoting (it would interchange no rows), so
the ordering and the structure of the factors are found once per pattern and each Newton
iteration only does the arithmetic, where SuperLU redoes the ordering, its symbolic analysis and
the CSR-to-CSC copy on every call (most of a small factorisation's time: benchmarks/results/README.md).
Matrices that are not diagonally dominant by columns go to SuperLU.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import NDArray

from ..fem.jacobian import MatrixFreeJacobian

__all__ = ["PatternLU"]

Array = NDArray[np.float64]
Index = NDArray[np.int64]


@numba.njit(cache=True)
def _elimination_structure(n: int, ptr: Index, idx: Index) -> tuple[Index, Index, Index]:
    """The pattern of ``L + U`` for the structurally symmetric pattern ``(ptr, idx)`` (CSR, any
    order within rows), rows sorted, and the position of each diagonal: row ``i`` of ``L`` is
    the set of nodes reached from the row's entries ``k < i`` up the elimination tree."""
    parent = np.full(n, -1, np.int64)
    ancestor = np.full(n, -1, np.int64)
    for i in range(n):  # Liu's elimination tree with path compression
        for p in range(ptr[i], ptr[i + 1]):
            k = idx[p]
            while k != -1 and k < i:
                up = ancestor[k]
                ancestor[k] = i
                if up == -1:
                    parent[k] = i
                k = up
    mark = np.full(n, -1, np.int64)
    counts = np.zeros(n, np.int64)  # entries of L per row, then of U per row
    upper = np.zeros(n, np.int64)
    for phase in range(2):
        if phase == 1:
            lower_ptr = np.zeros(n + 1, np.int64)
            for i in range(n):
                lower_ptr[i + 1] = lower_ptr[i] + counts[i]
            lower = np.empty(lower_ptr[n], np.int64)
            fill = lower_ptr[:-1].copy()
            mark[:] = -1
        for i in range(n):
            mark[i] = i
            for p in range(ptr[i], ptr[i + 1]):
                k = idx[p]
                while k < i and mark[k] != i:
                    mark[k] = i
                    if phase == 0:
                        counts[i] += 1
                        upper[k] += 1
                    else:
                        lower[fill[i]] = k
                        fill[i] += 1
                    k = parent[k]
    out_ptr = np.zeros(n + 1, np.int64)
    for i in range(n):
        out_ptr[i + 1] = out_ptr[i] + counts[i] + 1 + upper[i]
    out = np.empty(out_ptr[n], np.int64)
    diagonal = np.empty(n, np.int64)
    at = out_ptr[:-1].copy()
    for i in range(n):
        row = np.sort(lower[lower_ptr[i]:lower_ptr[i + 1]])
        out[at[i]:at[i] + row.size] = row
        at[i] += row.size
        diagonal[i] = at[i]
        out[at[i]] = i
        at[i] += 1
    for i in range(n):  # U's rows are L's columns: appended in increasing i, so sorted
        for p in range(lower_ptr[i], lower_ptr[i + 1]):
            k = lower[p]
            out[at[k]] = i
            at[k] += 1
    return out_ptr, out, diagonal


@numba.njit(cache=True)
def _scatter_map(n: int, ptr: Index, idx: Index, inverse: Index, lu_ptr: Index, lu_idx: Index) -> Index:
    """For each entry of the CSR matrix ``(ptr, idx)``, its position in the factors' storage
    (``inverse``: new index of each old one)."""
    where = np.full(n, -1, np.int64)
    out = np.empty(idx.size, np.int64)
    for r in range(n):
        i = inverse[r]
        for p in range(lu_ptr[i], lu_ptr[i + 1]):
            where[lu_idx[p]] = p
        for q in range(ptr[r], ptr[r + 1]):
            out[q] = where[inverse[idx[q]]]
    return out


@numba.njit(cache=True)
def _dominant_by_columns(ptr: Index, idx: Index, data: Array, work: Array) -> bool:
    """Whether every diagonal entry is at least the sum of the moduli of its column's others
    (``work``: scratch of the matrix's size)."""
    n = ptr.size - 1
    work[:] = 0.0
    for r in range(n):
        for p in range(ptr[r], ptr[r + 1]):
            c = idx[p]
            work[c] += -data[p] if c == r else abs(data[p])
    for c in range(n):
        if not work[c] <= 0.0:  # NaN fails too
            return False
    return True


@numba.njit(cache=True)
def _factorise(data: Array, scatter: Index, lu_ptr: Index, lu_idx: Index, diagonal: Index,
               values: Array, work: Array) -> bool:
    """Row-by-row (IKJ) elimination into ``values``; False on a pivot that is not positive."""
    values[:] = 0.0
    for q in range(data.size):
        values[scatter[q]] = data[q]
    for i in range(diagonal.size):
        start, end, d = lu_ptr[i], lu_ptr[i + 1], diagonal[i]
        for p in range(start, end):
            work[lu_idx[p]] = values[p]
        for p in range(start, d):
            k = lu_idx[p]
            factor = work[k] / values[diagonal[k]]
            work[k] = factor
            for q in range(diagonal[k] + 1, lu_ptr[k + 1]):
                work[lu_idx[q]] -= factor * values[q]
        for p in range(start, end):
            values[p] = work[lu_idx[p]]
        if not values[d] > 0.0:
            return False
    return True


@numba.njit(cache=True)
def _substitute(values: Array, lu_ptr: Index, lu_idx: Index, diagonal: Index, order: Index,
                rhs: Array) -> Array:
    n = diagonal.size
    y = rhs[order]
    for i in range(n):
        s = y[i]
        for p in range(lu_ptr[i], diagonal[i]):
            s -= values[p] * y[lu_idx[p]]
        y[i] = s
    for i in range(n - 1, -1, -1):
        s = y[i]
        for p in range(diagonal[i] + 1, lu_ptr[i + 1]):
            s -= values[p] * y[lu_idx[p]]
        y[i] = s / values[diagonal[i]]
    x = np.empty(n)
    x[order] = y
    return x


class PatternLU:
    """LU factors, without pivoting, of matrices with one structurally symmetric CSR pattern
    (notes above): :meth:`factorise` each matrix, :meth:`solve` with the last one."""

    @staticmethod
    def applies(matrix: sp.csr_matrix | MatrixFreeJacobian) -> bool:
        """Whether a matrix can have a :class:`PatternLU`: CSR in canonical form (sorted,
        no duplicates), square, its pattern structurally symmetric with every diagonal
        entry present."""
        if not (sp.issparse(matrix) and matrix.format == "csr" and matrix.shape[0] == matrix.shape[1]):
            return False
        if not matrix.has_canonical_format:  # duplicates would be overwritten, not summed, by the scatter
            return False
        n = matrix.shape[0]
        diagonal = np.repeat(np.arange(n), np.diff(matrix.indptr)) == matrix.indices
        if np.count_nonzero(diagonal) != n:
            return False
        a, b = matrix.sorted_indices(), matrix.transpose().tocsr().sorted_indices()
        return bool(np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices))

    def __init__(self, matrix: sp.csr_matrix) -> None:
        n = matrix.shape[0]
        self.indptr, self.indices = matrix.indptr, matrix.indices
        # the fill-reducing order: SuperLU's minimum degree on AᵀA's symmetric part, once
        self.order = np.argsort(spla.splu(matrix.tocsc(), permc_spec="MMD_AT_PLUS_A").perm_c).astype(np.int64)
        inverse = np.empty(n, np.int64)
        inverse[self.order] = np.arange(n)
        ptr, idx = matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64)
        permuted = matrix[self.order][:, self.order]
        permuted_ptr, permuted_idx = permuted.indptr.astype(np.int64), permuted.indices.astype(np.int64)
        self.lu_ptr, self.lu_idx, self.diagonal = _elimination_structure(n, permuted_ptr, permuted_idx)
        self.scatter = _scatter_map(n, ptr, idx, inverse, self.lu_ptr, self.lu_idx)
        self.values = np.zeros(self.lu_idx.size)
        self.work = np.zeros(n)

    def fits(self, matrix: sp.csr_matrix) -> bool:
        """Whether ``matrix`` has this pattern (a CSC matrix of the same arrays is its transpose: no)."""
        if not (sp.issparse(matrix) and matrix.format == "csr" and matrix.shape == (len(self.indptr) - 1,) * 2):
            return False
        if matrix.indptr is not self.indptr and not np.array_equal(matrix.indptr, self.indptr):
            return False
        return matrix.indices is self.indices or np.array_equal(matrix.indices, self.indices)

    def factorise(self, matrix: sp.csr_matrix) -> bool:
        """Factorise ``matrix`` (of this pattern); False, and nothing usable, unless it is
        diagonally dominant by columns (then no pivoting is needed)."""
        data = matrix.data
        if not _dominant_by_columns(self.indptr, self.indices, data, self.work):
            return False
        return bool(_factorise(data, self.scatter, self.lu_ptr, self.lu_idx, self.diagonal, self.values, self.work))

    def solve(self, rhs: NDArray[np.float64]) -> NDArray[np.float64]:
        out: NDArray[np.float64] = _substitute(self.values, self.lu_ptr, self.lu_idx, self.diagonal, self.order,
                                               np.ascontiguousarray(rhs, dtype=np.float64))
        return out
