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

**RKC** (:class:`RKC`, :mod:`fempde.solvers.rkc`) is explicit: no Newton
solve, its own embedded error estimate, and a step whose density is negative
or whose free energy rises is redone as an implicit-Euler step
(:func:`attempt_explicit`), so ρ ≥ 0 and the decay hold for its steps too.
``"auto"`` is not a scheme but a choice among them, step by step
(:mod:`fempde.solvers.cost`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Protocol

import numpy as np
from numpy.typing import NDArray

from .milne import local_error, milne_factor, predict
from .newton import ROUND_OFF, Jacobian, Newton, cleared
from .rkc import Explicit
from .system import GradientFlowSystem

__all__ = ["IMPLICIT", "SCHEMES", "Attempt", "BDF2", "ImplicitEuler", "RKC", "Scheme", "Window", "attempt",
           "attempt_explicit"]

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
    """One step's scheme, as the stepper and the error propagation see it (module docstring)."""

    name: ClassVar[str]
    order: ClassVar[int]
    """``q``: the local error is ``O(k^q)``, the order of the scheme plus one."""
    proved_dissipative: ClassVar[bool]
    """Whether the free-energy decay is proved for it (else it is checked)."""

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


@dataclass(frozen=True)
class RKC:
    """An explicit RKC2 step of ``stages`` stages (:mod:`fempde.solvers.rkc`)."""

    name: ClassVar[str] = "rkc"
    order: ClassVar[int] = 3
    proved_dissipative: ClassVar[bool] = False
    stages: int

    def carry(self, errors: tuple[Array, ...]) -> Array:
        return errors[0]  # no Jacobian to carry them with: the sum of the local errors (rkc module docstring)


SCHEMES = ("bdf2", "euler", "rkc", "auto")
"""The time schemes by name; the first is the default. ``"auto"`` chooses, step by step, the
cheaper of ``"rkc"`` and ``"bdf2"`` by their estimated cost (:mod:`fempde.solvers.cost`)."""
IMPLICIT = ("bdf2", "euler")
"""The schemes that solve with Newton."""
_CLASSES: dict[str, type[ImplicitEuler] | type[BDF2]] = {"bdf2": BDF2, "euler": ImplicitEuler}


@dataclass(frozen=True)
class Attempt:
    """A solved step: the density and its free energy, its local error estimate,
    Newton's iterations and last Jacobian, the scheme that gave them, the depth of
    the round-off negatives Newton set to 0 (:class:`~fempde.solvers.newton.Solution`),
    and the explicit stages it cost (also those of an explicit try redone implicitly)."""

    rho: Array
    free_energy: float
    error: Array
    iterations: int
    jacobian: Jacobian | None
    scheme: Scheme
    cleared: float = 0.0
    stages: int = 0


def attempt(newton: Newton, window: Window, t_new: float, k: float, scheme: str) -> Attempt:
    """Solve the step from ``window`` to ``t_new`` (``k`` in Ξ) with the implicit ``scheme``, or
    with implicit Euler where it does not apply or, unproved, raises the free
    energy. Raises :class:`~fempde.solvers.newton.Rejected` when Newton fails."""
    system = newton.system
    plan: ImplicitEuler | BDF2 = _CLASSES[scheme].plan(window, k, system) or ImplicitEuler(window, k)
    start, rescaled, guess = plan.start(system)
    solution = newton.solve(start, window.t, t_new, guess, rescaled)
    rho, iterations = solution.rho, solution.iterations
    energy = system.free_energy(rho)
    if not plan.proved_dissipative and _raises(energy, window.free_energy):
        plan = ImplicitEuler(window, k)
        solution = newton.solve(window.rho, window.t, t_new, rho)
        rho, iterations = solution.rho, iterations + solution.iterations
        energy = system.free_energy(rho)
    return Attempt(rho=rho, free_energy=energy, error=local_error(plan, system, rho, t_new), iterations=iterations,
                   jacobian=solution.jacobian, scheme=plan, cleared=solution.cleared)


def attempt_explicit(explicit: Explicit, newton: Newton, window: Window, t_new: float, k: float) -> Attempt:
    """The step by RKC2; redone by implicit Euler (:func:`attempt`) where its density is negative
    or its free energy rises. Raises :class:`~fempde.solvers.newton.Rejected` only from that redo."""
    system = newton.system
    step = explicit.step(window.rho, k)
    energy = system.free_energy(step.rho)
    if step.rho.min() < 0.0 or _raises(energy, window.free_energy):
        redone = attempt(newton, window, t_new, k, "euler")
        return replace(redone, stages=step.stages)
    return Attempt(rho=step.rho, free_energy=energy, error=step.error, iterations=0, jacobian=None,
                   scheme=RKC(step.stages), stages=step.stages)


def _raises(energy: float, before: float) -> bool:
    """Whether ``energy`` is above ``before`` beyond round-off (NaN counts as above)."""
    return not energy <= before + ROUND_OFF * max(1.0, abs(before))
