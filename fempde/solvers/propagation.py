"""The global time error: the local errors carried forward by the linearised scheme.

``g_{n+1} = J⁻¹ M g̃_n + e_{n+1}``: ``J`` is the step's Newton Jacobian (its
factorisation or preconditioner is reused), ``M`` the lumped masses, ``g̃`` the
past global errors combined as the scheme combines the past states
(``g_n`` for implicit Euler, BDF2's ``ρ̃`` combination of the last two), and
``e`` the step's local error (:mod:`fempde.solvers.milne`). Each step records
the estimated global error of ρ, ``Σ m|g|``, and of the risk,
``|R(ρ + g) − R(ρ)|`` — also without control (``rtol=None``). Because errors
decay with the flow, this stays relative where the risk decays by orders of
magnitude and vanishes at a steady state, unlike a sum of local errors.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .linalg import LinearSolver
from .newton import Jacobian
from .schemes import Scheme
from .system import GradientFlowSystem

__all__ = ["propagate", "risk_error"]

Array = NDArray[np.float64]


def propagate(system: GradientFlowSystem, scheme: Scheme, errors: tuple[Array, ...], local: Array,
              jacobian: Jacobian | None, solver: LinearSolver) -> Array:
    """The global error after a step taken with ``scheme`` whose local error is
    ``local``, from the global errors ``errors`` of the past states (newest first)."""
    space = system.space
    m = space.m
    carried = scheme.carry(errors) if errors else np.zeros_like(local)
    if np.any(carried) and jacobian is not None:
        carried = solver.solve_again(jacobian, m * carried)
    propagated = carried + local
    propagated -= (m @ propagated) / space.volume  # the errors carry no mass
    return propagated


def risk_error(system: GradientFlowSystem, rho: Array, risk: float, error: Array) -> float:
    """The error of the risk ``R(ρ)`` that the global error ``error`` of ``rho`` causes."""
    return abs(system.risk(rho + error) - risk)
