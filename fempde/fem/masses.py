"""The node masses ``m_i``: lumped P1 masses, and their wall correction on tensor grids.

The scheme needs only ``m_i > 0`` (mass, positivity, the free-energy decay
and the nodal steady states hold for any positive masses with antisymmetric
fluxes), but the masses are also the quadrature of every integral the run
reports — the mass that fixes the steady state's constant, the risk, the
free energy — so their accuracy is the scheme's.

**Lumped** (:func:`lumped_masses`): ``m_i = ∫ φ_i``, the row sums of the P1
mass matrix. On a uniform tensor grid (the interval, the rectangle, the box)
the interior masses are those of the trapezoidal rule, whose error for a
smooth ``g`` is, by Euler–Maclaurin, ``−(h²/12) ∮ ∂_n g`` — a boundary term
of second order. At a steady state the nodal values are exact for their
constant ``c_h``, which the discrete mass fixes, so that quadrature error is
the whole L1 error of the steady state (on ``benchmarks/peers.py``'s square,
twice the cell-centred midpoint rule's ``h²/24``: fempde's error was twice
py-pde's at every ``n``).

**Corrected** (:func:`corrected_masses`): Gregory's end correction of the
trapezoidal rule (Gregory 1670; Hildebrand, *Introduction to numerical
analysis*, §5.9) on each axis: ``∂_n g`` at the wall from the difference along
the first interval, i.e. ``h/12`` of weight moved from each wall node to its
inward neighbour (1-D weights ``5/12, 13/12, 1, …, 1, 13/12, 5/12`` times
``h``), and the tensor product of those in 2-D and 3-D. The rule is third
order and its weights stay positive; with them the L1 error of the peers'
steady state falls from 1.47e-3 to 8.9e-5 at ``n = 16`` and from 3.7e-4 to
1.1e-5 at ``n = 32`` (third order; tests/fempde/fem/test_masses.py), and at
t = 0.1 similarly (``benchmarks/results/peers.txt``). It applies
where the nodes form a uniform tensor grid whose interior lumped masses are
the trapezoid's (so only the wall layer changes): the interval, rectangle and
box generators, and any loaded mesh of that kind; elsewhere the masses stay
lumped.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from skfem import Basis, Mesh, asm
from skfem.models.poisson import mass

import meshes

__all__ = ["MASSES", "corrected_masses", "lumped_masses", "tensor_axes"]

Array = NDArray[np.float64]

MASSES = ("auto", "lumped", "corrected")
"""The node masses a :class:`~fempde.fem.space.Space` can take (module docstring): ``"auto"``
(corrected where they apply, else lumped), ``"lumped"``, ``"corrected"`` (refused where they
do not apply)."""

_UNIFORM = 1e-9  # relative spread of a tensor grid's spacings that still counts as uniform


def lumped_masses(mesh: Mesh) -> Array:
    """Row sums of the P1 mass matrix: ``m_i = Σ_{K ∋ i} |K|/(d + 1)``, since ``∫_K φ_i = |K|/(d + 1)``
    (what ``asm(mass, basis).sum(axis=1)`` gives, without assembling the matrix: a third of
    a small run's setup)."""
    points, cells = np.asarray(mesh.p, dtype=np.float64), np.asarray(mesh.t)
    dim = points.shape[0]
    if dim == 1 or cells.shape[0] != dim + 1:  # 1-D (cheap there) or not simplices: assemble
        return np.asarray(asm(mass, Basis(mesh, meshes.checks.p1_element(mesh))).sum(axis=1)).ravel()
    volume = np.abs(meshes.signed_volumes(points, cells))
    share = np.repeat(volume[None, :] / (dim + 1), dim + 1, axis=0).ravel()
    return np.bincount(cells.ravel(), weights=share, minlength=points.shape[1]).astype(np.float64)


def tensor_axes(x: Array) -> tuple[list[Array], NDArray[np.int64]] | None:
    """The axes of the uniform tensor grid that the nodes ``x`` (shape ``(dim, n)``) form, and
    each node's index on every axis (shape ``(dim, n)``); ``None`` if they form none."""
    axes, index = [], []
    for coordinate in x:
        axis, position = np.unique(coordinate, return_inverse=True)
        if axis.size < 2:
            return None
        spacing = np.diff(axis)
        if np.ptp(spacing) > _UNIFORM * spacing.mean():
            return None
        axes.append(axis)
        index.append(position.ravel())
    if math.prod(a.size for a in axes) != x.shape[1]:
        return None
    flat = np.ravel_multi_index(tuple(index), tuple(a.size for a in axes))
    if np.bincount(flat, minlength=x.shape[1]).max() != 1:  # a node twice: not the whole grid
        return None
    return axes, np.asarray(index, dtype=np.int64)


def _gregory_weights(axis: Array) -> Array:
    """The trapezoid's weights on the uniform ``axis``, with Gregory's end correction."""
    h = (axis[-1] - axis[0]) / (axis.size - 1)
    weights = np.full(axis.size, h)
    weights[[0, -1]] = 0.5 * h
    if axis.size >= 3:
        for wall, inward in ((0, 1), (-1, -2)):  # one end at a time: with two cells both move to the middle
            weights[wall] -= h / 12
            weights[inward] += h / 12
    return weights


def corrected_masses(mesh: Mesh, lumped: Array) -> Array | None:
    """The wall-corrected masses (module docstring) of ``mesh`` whose lumped masses are
    ``lumped``, or ``None`` where they do not apply: the nodes are not a uniform tensor grid,
    or its interior lumped masses are not the trapezoid's (an irregular subdivision)."""
    x = np.asarray(mesh.p, dtype=np.float64)
    grid = tensor_axes(x)
    if grid is None:
        return None
    axes, index = grid
    trapezoid = np.ones(x.shape[1])
    corrected = np.ones(x.shape[1])
    for axis, position in zip(axes, index, strict=True):
        h = (axis[-1] - axis[0]) / (axis.size - 1)
        trapezoid *= np.where((position == 0) | (position == axis.size - 1), 0.5 * h, h)
        corrected *= _gregory_weights(axis)[position]
    interior = np.all((index > 0) & (index < np.array([a.size - 1 for a in axes])[:, None]), axis=0)
    if not np.allclose(lumped[interior], trapezoid[interior], rtol=1e-9, atol=0.0):
        return None
    return corrected
