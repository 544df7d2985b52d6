"""The time schemes: implicit Euler and BDF2, each one Newton solve of the same system.

A scheme, for one step of size ``k`` (in the rescaled time ``Ξ = ∫ξ``, where
the flow is autonomous), says where its implicit-Euler solve starts and with
which step, which past states predict the solution for Milne's error estimate
(:mod:`fempde.solvers.milne`) and with which error constant, and how the
global errors of the past states combine into the error it carries
(:mod:`fempde.solvers.propagation`). A new scheme is one class beside these,
with ``plan`` (``None`` where it does not apply) and the methods of
:class:`ImplicitEuler`.

**BDF2** is written as an implicit-Euler step of size ``k(1 + ω)/(1 + 2ω)``
from ``ρ̃ = ((1 + ω)² ρ_n − ω² ρ_{n−1}) / (1 + 2ω)`` (``ω = k_n / k_{n−1}``):
the same Newton system, second order in time. ``ρ̃`` has the mass of ``ρ_n``,
so mass stays exact. Where ``ρ̃`` would be negative somewhere (or ``ω > 2``, or
there is too little history, or a source term) the step is implicit Euler's,
so ``ρ ≥ 0`` holds for every step. The free-energy decay is proved for
implicit Euler only: a BDF2 step that raises the free energy is redone as an
implicit-Euler step (:func:`attempt`), so it holds for every step too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np
from numpy.typing import NDArray

from .milne import milne_factor, predict
from .newton import ROUND_OFF, Jacobian, Newton, cleared
from .system import GradientFlowSystem

__all__ = ["SCHEMES", "Attempt", "BDF2", "ImplicitEuler", "Scheme", "Window", "attempt"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Window:
    """The accepted past a step starts from: time ``t``, density ``rho`` and its free
    energy, the states before it (``past``, newest first) and the steps between
    them in Ξ (``steps``, newest first: ``steps[0]`` led to ``rho``)."""

    t: float
    rho: Array
    free_energy: float
    past: tuple[Array, ...] = ()
    steps: tuple[float, ...] = ()


class Scheme(Protocol):
    """One step's scheme (module docstring)."""

    name: ClassVar[str]
    order: ClassVar[int]
    """``q``: the local error is ``O(k^q)``, the order of the scheme plus one."""
    proved_dissipative: ClassVar[bool]
    """Whether the free-energy decay is proved for it (else it is checked)."""

    def start(self, system: GradientFlowSystem) -> tuple[Array, float | None, Array | None]:
        """Newton's ``ρ_old``, its step in Ξ (``None``: ``∫ξ`` over the step) and first guess."""
        ...

    def predict(self, system: GradientFlowSystem, t_new: float) -> Array:
        """The predictor of Milne's device at the end of the step."""
        ...

    def milne_factor(self) -> float:
        """``C_c / (C_p − C_c)`` on the actual steps (:func:`~fempde.solvers.milne.milne_factor`)."""
        ...

    def carry(self, errors: tuple[Array, ...]) -> Array:
        """The global errors of the past states (newest first) carried into the step's start."""
        ...


@dataclass(frozen=True)
class ImplicitEuler:
    """Implicit Euler: first order, dissipative, applies to every step."""

    name: ClassVar[str] = "euler"
    order: ClassVar[int] = 2
    proved_dissipative: ClassVar[bool] = True
    window: Window
    k: float

    @classmethod
    def plan(cls, window: Window, k: float, system: GradientFlowSystem) -> ImplicitEuler:
        return cls(window, k)

    def start(self, system: GradientFlowSystem) -> tuple[Array, float | None, Array | None]:
        return self.window.rho, None, None

    def predict(self, system: GradientFlowSystem, t_new: float) -> Array:
        window = self.window
        if window.past:  # linear through t_n, t_{n−1}
            return predict(window.rho, window.past, self.k, window.steps, 1)
        # explicit Euler from the residual at ρ_n: ρ_n − G(ρ_n; ρ_n)/m
        return window.rho - system.linearise(window.rho, window.rho, window.t, t_new)[0] / system.space.m

    def milne_factor(self) -> float:
        return milne_factor(self.k, self.window.steps, self.name)

    def carry(self, errors: tuple[Array, ...]) -> Array:
        return errors[0]


@dataclass(frozen=True)
class BDF2:
    """BDF2 on variable steps (module docstring); ``w = k / k_{n−1}``."""

    name: ClassVar[str] = "bdf2"
    order: ClassVar[int] = 3
    proved_dissipative: ClassVar[bool] = False
    window: Window
    k: float
    w: float
    tilde: Array
    """``ρ̃``, the start of the implicit-Euler solve, round-off negatives cleared."""

    @classmethod
    def plan(cls, window: Window, k: float, system: GradientFlowSystem) -> BDF2 | None:
        """BDF2 for this step, or ``None`` where it does not apply (module docstring)."""
        if len(window.past) != 2 or not 0 < k <= 2 * window.steps[0] or system.has_source:
            return None
        w = k / window.steps[0]
        tilde = ((1 + w) ** 2 * window.rho - w**2 * window.past[0]) / (1 + 2 * w)
        # round-off negatives of an empty region do not count (they would turn BDF2 off
        # wherever ρ = 0): cleared
        if not tilde.min() >= -ROUND_OFF * max(1.0, float(np.abs(window.rho).max())):
            return None
        return cls(window, k, w, cleared(tilde, system.space.m))

    def start(self, system: GradientFlowSystem) -> tuple[Array, float | None, Array | None]:
        rho, w = self.window.rho, self.w
        guess = np.maximum(rho + w * (rho - self.window.past[0]), 0.5 * rho)  # extrapolated; log ρ needs ρ > 0
        return self.tilde, self.k * (1 + w) / (1 + 2 * w), guess

    def predict(self, system: GradientFlowSystem, t_new: float) -> Array:
        return predict(self.window.rho, self.window.past, self.k, self.window.steps, 2)  # quadratic

    def milne_factor(self) -> float:
        return milne_factor(self.k, self.window.steps, self.name)

    def carry(self, errors: tuple[Array, ...]) -> Array:
        w = self.w
        return ((1 + w) ** 2 * errors[0] - w**2 * errors[1]) / (1 + 2 * w)


SCHEMES = ("bdf2", "euler")
"""The time schemes by name; the first is the default."""
_CLASSES: dict[str, type[ImplicitEuler] | type[BDF2]] = {"bdf2": BDF2, "euler": ImplicitEuler}


@dataclass(frozen=True)
class Attempt:
    """A solved step: the density and its free energy, Newton's iterations and
    last Jacobian, the scheme that gave them, and the depth of the round-off
    negatives Newton set to 0 (:class:`~fempde.solvers.newton.Solution`)."""

    rho: Array
    free_energy: float
    iterations: int
    jacobian: Jacobian | None
    scheme: Scheme
    cleared: float = 0.0


def attempt(newton: Newton, window: Window, t_new: float, k: float, scheme: str) -> Attempt:
    """Solve the step from ``window`` to ``t_new`` (``k`` in Ξ) with ``scheme``, or
    with implicit Euler where it does not apply or, unproved, raises the free
    energy. Raises :class:`~fempde.solvers.newton.Rejected` when Newton fails."""
    system = newton.system
    plan: Scheme = _CLASSES[scheme].plan(window, k, system) or ImplicitEuler(window, k)
    start, rescaled, guess = plan.start(system)
    solution = newton.solve(start, window.t, t_new, guess, rescaled)
    rho, iterations = solution.rho, solution.iterations
    energy = system.free_energy(rho)
    before = window.free_energy
    if not plan.proved_dissipative and energy > before + ROUND_OFF * max(1.0, abs(before)):
        plan = ImplicitEuler(window, k)
        solution = newton.solve(window.rho, window.t, t_new, rho)
        rho, iterations = solution.rho, iterations + solution.iterations
        energy = system.free_energy(rho)
    return Attempt(rho=rho, free_energy=energy, iterations=iterations, jacobian=solution.jacobian, scheme=plan,
                   cleared=solution.cleared)
