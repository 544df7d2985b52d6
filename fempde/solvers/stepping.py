"""The stepper: error-controlled implicit Euler or BDF2 + Newton, as a generator of immutable steps.

:class:`Stepper` takes one accepted step at a time from its parts, each in its
own module and tested on its own:

* attempt the step — :func:`~fempde.solvers.schemes.attempt`: Newton
  (:mod:`fempde.solvers.newton`) with the chosen scheme, implicit Euler where
  it does not apply; a failed solve is retried with half the step;
* estimate its error — :mod:`fempde.solvers.milne` (Milne's device, and its
  size against ``rtol``/``atol``);
* accept or reject it, and choose the next step — :mod:`fempde.solvers.control`
  (a PI controller, or growth on easy Newton solves without control);
* propagate the global error — :mod:`fempde.solvers.propagation`;
* land on the output times — :mod:`fempde.solvers.landing`.

Everything runs in the rescaled time ``Ξ = ∫ξ``, in which the flow is
autonomous: BDF2's ratios, the predictors and the error constants use the
steps in ``Ξ`` (for constant ξ, the steps in t times ξ0).

The stepper knows nothing of output: :func:`steps` yields its
:class:`~fempde.solvers.step.Step` records and the run loop
(:mod:`fempde.solvers.loop`) hands them to observers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from numpy.typing import NDArray

from ..checks import number
from .control import Controller, NewtonGrowth, PIController, bounded
from .landing import OutputTimes
from .linalg import LinearSolver, choose_solver
from .milne import error_ratio, local_error, milne_factor
from .newton import Newton, Rejected
from .options import DEFAULT_RTOL, StepOptions
from .propagation import propagate, risk_error
from .schemes import SCHEMES, Attempt, Window, attempt
from .step import Step, StepperState
from .system import GradientFlowSystem

__all__ = [
    "DEFAULT_RTOL", "SCHEMES", "ConvergenceError", "GradientFlowSystem", "Step", "StepOptions", "Stepper",
    "StepperState", "milne_factor", "steps",
]  # the names stepping held before it was split up stay importable from here

Array = NDArray[np.float64]


class ConvergenceError(RuntimeError):
    """Newton failed, or the error stayed above the tolerance, even with the smallest allowed time step."""


def _frozen(values: Array) -> Array:
    """``values`` made read-only (in place: the stepper owns them)."""
    values.flags.writeable = False
    return values


class _Tries:
    """The rejected tries of one step, and the step size to try next after each."""

    def __init__(self, t: float, dt_min: float) -> None:
        self.t, self.dt_min = t, dt_min
        self.count = 0
        self.reasons: list[str] = []

    def failed(self, k: float, why: Rejected) -> float:
        """After Newton failed on a step of size ``k``: half of it."""
        self._note(f"dt={k:.3g}: {why}")
        dt = 0.5 * k
        if dt < self.dt_min:
            raise ConvergenceError(
                f"time step fell below dt_min={self.dt_min:.3g} at t={self.t:.6g} after {self.count} rejected tries "
                f"(last: {'; '.join(self.reasons[-3:])}); try a finer mesh, a smaller dt0 or a larger max_newton")
        return dt

    def inaccurate(self, k: float, ratio: float, dt: float, rtol: float | None) -> float:
        """After the error of a step of size ``k`` was ``ratio`` times the tolerance: ``dt``."""
        self._note(f"dt={k:.3g}: local error {ratio:.2g} x tolerance")
        if dt < self.dt_min:
            raise ConvergenceError(f"time step fell below dt_min={self.dt_min:.3g} at t={self.t:.6g}: the local "
                                   f"error stays above rtol={rtol:g}; loosen rtol or lower dt_min")
        return dt

    def _note(self, reason: str) -> None:
        self.count += 1
        self.reasons.append(reason)


class Stepper:
    """Steps ``system`` from ``rho0`` at ``t = 0`` (or from ``start``) to ``t_end`` (module docstring).

    :meth:`initial` is the step at ``t = 0``; each :meth:`advance` takes one
    accepted step; :attr:`done` says when ``t_end`` is reached.
    """

    def __init__(self, system: GradientFlowSystem, rho0: Array, t_end: float, *, times: Sequence[float] = (),
                 options: StepOptions | None = None, start: StepperState | None = None) -> None:
        self.system = system
        self.options = options = options if options is not None else StepOptions()
        self.t_end = number("t_end", t_end, positive=True)
        self.dt, self.dt_max, self.dt_min = options.resolved(self.t_end)
        space = system.space
        solver = LinearSolver(choose_solver(options.linear_solver, space.n, space.dim), dim=space.dim)
        self.newton = Newton(system, solver, options.newton_tol, options.max_newton)
        if start is None:
            rho = _frozen(np.array(rho0, dtype=np.float64))
            start = StepperState(index=0, t=0.0, rho=rho, dt_next=self.dt, expected_mass=space.integrate(rho),
                                 free_energy=system.free_energy(rho))
        else:
            start = StepperState(
                index=start.index, t=start.t, rho=_frozen(np.array(start.rho, dtype=np.float64)),
                dt_next=start.dt_next, expected_mass=start.expected_mass, free_energy=start.free_energy,
                past=tuple(_frozen(np.array(r)) for r in start.past), past_dt=tuple(start.past_dt),
                global_error=tuple(_frozen(np.array(g)) for g in start.global_error), error_ratio=start.error_ratio)
            self.dt = start.dt_next
        self.state = start
        self.outputs = OutputTimes(times, self.t_end, start.t)
        self.controller: Controller = NewtonGrowth() if options.rtol is None else PIController(
            max(start.error_ratio, 1e-10) if start.index > 0 else 1.0)  # as the uninterrupted run keeps it

    @property
    def done(self) -> bool:
        return self.state.t >= self.t_end

    def initial(self) -> Step:
        """The step at ``t = 0`` (index 0)."""
        state, space = self.state, self.system.space
        return Step(index=0, t=0.0, dt=0.0, rho=state.rho, free_energy=state.free_energy,
                    risk=self.system.risk(state.rho), mass=space.integrate(state.rho),
                    expected_mass=state.expected_mass, dt_next=self.dt, wall_mass=space.wall_mass(state.rho))

    def advance(self) -> Step:
        """Take the next accepted step: attempt, estimate, retry smaller until accepted.
        Raises :class:`ConvergenceError` once the step would fall below ``dt_min``."""
        state, system, rtol = self.state, self.system, self.options.rtol
        tries = _Tries(state.t, self.dt_min)
        window = self._window()
        while True:
            t_new = self.outputs.land(state.t, self.dt)
            k = t_new - state.t
            try:
                solved = attempt(self.newton, window, t_new, system.schedule.integral(state.t, t_new),
                                 self.options.scheme)
            except Rejected as why:
                self.dt = tries.failed(k, why)
                continue
            error = local_error(solved.scheme, system, solved.rho, t_new)
            risk = system.risk(solved.rho)
            ratio = error_ratio(system, solved.rho, risk, error, rtol, self.options.atol)
            if self.controller.rejects(ratio):
                self.dt = tries.inaccurate(k, ratio, self.controller.retry(k, ratio, solved.scheme.order), rtol)
                continue
            return self._accept(solved, t_new, k, error, risk, ratio, tries.count)

    def _window(self) -> Window:
        """The accepted past, its steps in Ξ."""
        state, schedule = self.state, self.system.schedule
        steps, end = [], state.t
        for dt in state.past_dt:
            steps.append(schedule.integral(end - dt, end))
            end -= dt
        return Window(t=state.t, rho=state.rho, free_energy=state.free_energy, past=state.past, steps=tuple(steps))

    def _accept(self, solved: Attempt, t_new: float, k: float, error: Array, risk: float, ratio: float,
                rejected: int) -> Step:
        """Make ``solved`` the new state and choose the next step size."""
        state, system, space = self.state, self.system, self.system.space
        expected = state.expected_mass
        src = system.source(t_new)
        if src is not None:
            expected += k * space.integrate(src)
        propagated = _frozen(propagate(system, solved.scheme, state.global_error, error, solved.jacobian,
                                       self.newton.solver))
        rho = _frozen(solved.rho)
        proposal = self.dt
        at_output = self.outputs.reached(t_new)
        dt = self.controller.next(k, proposal, ratio, solved.scheme.order, solved.iterations, rejected > 0)
        self.dt = bounded(dt, k, solved.iterations, self.dt_min, self.dt_max)
        self.state = StepperState(index=state.index + 1, t=t_new, rho=rho, dt_next=self.dt, expected_mass=expected,
                                  free_energy=solved.free_energy, past=(state.rho, *state.past)[:2],
                                  past_dt=(k, *state.past_dt)[:2],
                                  global_error=(propagated, *state.global_error)[:2], error_ratio=ratio)
        new = self.state
        return Step(index=new.index, t=t_new, dt=k, rho=rho, free_energy=new.free_energy, risk=risk,
                    mass=space.integrate(rho), expected_mass=expected, newton_iterations=solved.iterations,
                    rejected=rejected, at_output_time=at_output, energy_increase=new.free_energy - state.free_energy,
                    dt_next=self.dt, wall_mass=space.wall_mass(rho), past=new.past, past_dt=new.past_dt,
                    scheme=solved.scheme.name, time_error=float(space.m @ np.abs(propagated)),
                    risk_time_error=risk_error(system, rho, risk, propagated), error_ratio=ratio,
                    global_error=new.global_error, cleared=solved.cleared)


def steps(
    system: GradientFlowSystem,
    rho0: Array,
    t_end: float,
    *,
    times: Sequence[float] = (),
    options: StepOptions | None = None,
    start: StepperState | None = None,
) -> Iterator[Step]:
    """Advance ``ρ`` from ``t = 0`` to ``t_end`` (:class:`Stepper`), yielding every accepted step.

    Steps land exactly on each of ``times`` (and on ``t_end``); those steps have
    ``at_output_time=True``. A step is rejected and retried smaller when its
    Newton iteration fails, when its density falls below ``−newton_tol · max(1,
    max ρ)`` (anything beyond the round-off of the solve), or, under error
    control, when its error estimate exceeds the tolerance. Raises
    :class:`ConvergenceError` below ``dt_min``.

    With ``start`` (a :class:`StepperState`), stepping continues from there —
    same time, density, step size, history and error bookkeeping, so the steps
    that follow are those the uninterrupted run takes — and the initial state is
    not yielded again; ``rho0`` is then ignored.
    """
    stepper = Stepper(system, rho0, t_end, times=times, options=options, start=start)
    if start is None:
        yield stepper.initial()
    while not stepper.done:
        yield stepper.advance()
