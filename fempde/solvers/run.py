"""The run loop: discretise, step, record, hand every step to the observers, certify.

One run's path: :func:`solve` builds the :class:`~fempde.fem.space.Space` and the
problem's system, checks ρ0 (:func:`initial_density`), and iterates the stepper
(:func:`~fempde.solvers.stepping.steps`). Each accepted step goes first to the
:class:`~fempde.solvers.record.RunRecord` (history, certificates) and then to
the observers (progress, files); the :class:`~fempde.solvers.record.Result` is
built from the record.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray
from skfem import Mesh

from ..checks import number
from ..fem.flux import DEFAULT_FLUX
from ..fem.space import NodalFunction, Space
from .observers import Observer, RunInfo
from .record import Result, RunRecord, Tolerances
from .resume import ResumePoint, check_resume, load_checkpoint
from .stepping import ConvergenceError, GradientFlowSystem, Step, StepOptions, StepperState, steps

__all__ = ["OutputError", "Problem", "initial_density", "interrupts_deferred", "solve"]


class Problem(Protocol):
    """A problem's physics: it makes the discretised system on a space."""

    def discretise(self, space: Space, *, flux: str = ...) -> GradientFlowSystem: ...


class OutputError(OSError):
    """An observer could not write its output; what was written before stays valid."""

Array = NDArray[np.float64]


def initial_density(space: Space, rho0: NodalFunction | ArrayLike | str, *, mass_tol: float = 2e-2,
                    normalize: bool = False) -> Array:
    """Nodal values of a probability density ``ρ0``: a callable of ``x``, an
    array of nodal values, a number, or ``"uniform"``.

    A density whose discrete mass is within ``mass_tol`` of 1 (interpolation
    error) is rescaled to mass 1 exactly; anything else raises, unless
    ``normalize`` asks for any positive mass to be rescaled.
    """
    if isinstance(rho0, str):
        if rho0 != "uniform":
            raise ValueError(f"rho0 must be a callable, an array, a number or 'uniform', got {rho0!r}")
        rho0 = 1.0 / space.volume
    rho = space.interpolate(rho0, "rho0")
    if np.any(rho < 0):
        k = int(np.argmin(rho))
        raise ValueError(
            f"rho0 is negative at {int((rho < 0).sum())} nodes (min {rho[k]:.3g} at x = {space.x[:, k].tolist()}); "
            "a density must be >= 0"
        )
    mass = space.integrate(rho)
    if mass == 0:
        raise ValueError("rho0 has zero mass (it vanishes at every node); a probability density needs mass 1")
    if not (normalize or abs(mass - 1.0) <= mass_tol):
        raise ValueError(
            f"rho0 has mass {mass:.6g} but must be a probability density (mass 1): "
            f"divide it by {mass:.6g} (for a uniform start use rho0='uniform')"
        )
    return rho / mass


def solve(
    problem: Problem,
    mesh: Mesh | Space,
    rho0: NodalFunction | ArrayLike | str,
    t_end: float,
    observers: Sequence[Observer] = (),
    *,
    times: Sequence[float] = (),
    force: bool = False,
    tolerances: Tolerances | None = None,
    resume: str | Path | None = None,
    options: StepOptions | None = None,
    flux: str = DEFAULT_FLUX,
    estimate_space_error: bool = False,
    **stepping: float | int | str | None,
) -> Result:
    """Solve ``problem`` on ``mesh`` from ``rho0`` to ``t_end``.

    Parameters
    ----------
    problem
        A problem with ``discretise(space, flux=...)``, e.g. :class:`fempde.PorousMedium`.
    mesh
        A scikit-fem mesh (checked; ``force=True`` accepts negative
        transmissibilities) or a prepared :class:`Space`.
    rho0
        Initial probability density, see :func:`initial_density`.
    observers
        Progress bars, writers, monitors; any may stop the run.
    times
        Times the stepper must land on (output times); their densities are
        kept in ``Result.snapshots``.
    tolerances
        The certificates' tolerances (:class:`Tolerances`; default mass 1e-12,
        energy 1e-11).
    resume
        A checkpoint written by :class:`fempde.Checkpointer`: continue from it
        (``rho0`` still defines the run but is not used; the history before the
        checkpoint is restored, its snapshots are not).
    options, **stepping
        How to step: a :class:`StepOptions`, or its fields by keyword (``rtol``,
        ``atol``, ``dt0``, ``dt_max``, ``dt_min``, ``newton_tol``, ``max_newton``,
        ``linear_solver``, ``scheme``), not both.
    flux
        The τ = 0 mobility: ``"limited"`` (default, second order where ρ > 0) or
        ``"upwind"``.
    estimate_space_error
        Also solve on the uniformly refined mesh and report, per output time,
        the estimated spatial error of the risk and of ρ in L1
        (``Result.space_error``, :mod:`fempde.solvers.accuracy`); costs a run on
        a mesh with 2^dim times the cells. Not with ``resume``.

    A Ctrl-C ends the run cleanly: observers finish (files stay valid) and the
    result has ``stop_reason == "interrupted"``.
    """
    if options is not None and stepping:
        raise TypeError(f"give stepping options either as options=StepOptions(...) or by keyword, not both "
                        f"(got options and {sorted(stepping)})")
    options = options if options is not None else StepOptions(**stepping)  # type: ignore[arg-type]
    tolerances = tolerances if tolerances is not None else Tolerances()
    _check_types(problem, mesh, options, tolerances, observers, times)
    space = mesh if isinstance(mesh, Space) else Space(mesh, force=force)
    system = problem.discretise(space, flux=flux)
    rho = initial_density(space, rho0)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below, not warned about
        energy = system.free_energy(rho)
    if not np.isfinite(energy):
        raise ValueError(f"the free energy of rho0 is {energy}: the problem's data overflow in double precision "
                         f"(a target, potential or initial density too large); rescale them")
    t_end = number("t_end", t_end, positive=True)
    times = tuple(sorted(number(f"times[{k}]", t) for k, t in enumerate(times)))
    record = RunRecord(tolerances, check_energy=not system.has_source, keep=times)
    if estimate_space_error:  # refused before the run, not after it
        from .accuracy import check_estimable

        check_estimable(space)
    start, resumed_from = None, None
    if resume is not None:
        if estimate_space_error:
            raise ValueError("estimate_space_error needs a whole run: it cannot be combined with resume")
        checkpoint = load_checkpoint(resume)
        start = checkpoint.state
        if start.rho.shape != rho.shape:
            raise ValueError(f"checkpoint {resume} holds {start.rho.size} nodal values, the mesh has {rho.size}")
        check_resume(checkpoint, resume, float(t_end), space.integrate(start.rho), conserved=not system.has_source)
        record.restore(checkpoint.history, checkpoint.failed, checkpoint.max_energy_increase,
                       _restored_step(start, system))
        resumed_from = ResumePoint(start.index, start.t)
    info = RunInfo(system=system, t_end=float(t_end), times=times, record=record, resumed_from=resumed_from)
    stepper = steps(system, rho, t_end, times=times, start=start, options=options)
    for observer in observers:
        observer.start(info)
    reason = "t_end"
    error: BaseException | None = None
    try:
        for step in stepper:
            record.add(step)
            if any([bool(o.observe(step)) for o in observers]):
                reason = "observer"
                break
    except KeyboardInterrupt:
        reason = "interrupted"
    except ConvergenceError as err:
        reason, error = "failed", err
    except OSError as err:  # an observer could not write: disk full, permissions
        t = record.last.t if record.last is not None else 0.0
        reason = "failed"
        error = OutputError(
            f"writing output failed at t = {t:.6g} ({err.strerror or err}); the run stopped and the "
            "files written before are complete (each was written under a temporary name, then renamed)"
        )
        error.__cause__ = err
    assert record.last is not None
    result = Result(space=space, system=system, rho=np.array(record.last.rho), t=record.last.t,
                    history=record.columns(), certificates=record.certificates(), stop_reason=reason,
                    snapshots=record.snapshots)
    if estimate_space_error and error is None and reason != "interrupted":
        from .accuracy import space_error

        result.space_error = space_error(problem, space, rho0, result, options=options, flux=flux)
    with interrupts_deferred(reraise=reason != "interrupted"):  # the final files whole, then the Ctrl-C
        for observer in observers:
            try:
                observer.finish(result)
            except OSError as err:
                if error is None:
                    raise OutputError(f"writing the final output at t = {result.t:.6g} failed "
                                      f"({err.strerror or err}); the files written before are complete") from err
    if error is not None:
        raise error
    return result


def _check_types(problem: object, mesh: object, options: object, tolerances: object,
                 observers: Sequence[object], times: object) -> None:
    """The arguments of :func:`solve` that are objects of a kind, refused with a
    ``TypeError`` naming them (rather than an ``AttributeError`` deep inside)."""
    if not callable(getattr(problem, "discretise", None)):
        raise TypeError(f"problem must be a fempde problem (PorousMedium, DistributionalDynamics, ...), "
                        f"got {type(problem).__name__}")
    if not isinstance(mesh, Space | Mesh):
        raise TypeError(f"mesh must be a skfem Mesh (see meshes.*) or a fempde.Space, got {type(mesh).__name__}")
    if not isinstance(options, StepOptions):
        raise TypeError(f"options must be a fempde.StepOptions (or give its fields by keyword), "
                        f"got {type(options).__name__}")
    if not isinstance(tolerances, Tolerances):
        raise TypeError(f"tolerances must be a fempde.Tolerances, got {type(tolerances).__name__}")
    for k, observer in enumerate(observers):
        if not all(callable(getattr(observer, name, None)) for name in ("start", "observe", "finish")):
            raise TypeError(f"observers[{k}] must be an Observer (with start, observe and finish), "
                            f"got {type(observer).__name__}")
    if isinstance(times, str | bytes) or not isinstance(times, Sequence | np.ndarray):
        raise TypeError(f"times must be a sequence of output times, got {type(times).__name__}")


@contextlib.contextmanager
def interrupts_deferred(*, reraise: bool = True) -> Iterator[None]:
    """Run the block with Ctrl-C noted, not raised, and raise it (``reraise``)
    once the block ends: the observers' last files are written whole, and a
    Ctrl-C cannot land in the middle of an extension module's import (VTK's
    crashes the process). A run already interrupted passes ``reraise=False``:
    its result says so. Only the main thread handles signals; elsewhere the
    block runs as is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:  # a handler installed from C reads back as None: restore Python's default then
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
    if caught and reraise:
        raise KeyboardInterrupt


def _restored_step(state: StepperState, system: GradientFlowSystem) -> Step:
    """The checkpointed step, rebuilt: what a resumed run's record holds as its last step."""
    rho = state.rho.copy()
    rho.flags.writeable = False
    return Step(index=state.index, t=state.t, dt=state.past_dt[0] if state.past_dt else 0.0, rho=rho,
                free_energy=state.free_energy, risk=system.risk(rho), mass=system.space.integrate(rho),
                expected_mass=state.expected_mass, dt_next=state.dt_next, wall_mass=system.space.wall_mass(rho),
                past=state.past, past_dt=state.past_dt, global_error=state.global_error,
                error_ratio=state.error_ratio)
