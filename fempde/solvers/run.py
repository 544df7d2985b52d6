"""``fempde.solve``: a problem on a mesh from ρ0 to ``t_end`` — the run loop with its start and its estimates.

:func:`solve` checks its arguments, builds the :class:`~fempde.fem.space.Space`
(checking the mesh) and the problem's system, and reads ρ0
(:mod:`fempde.solvers.initial`); a resumed run's start state is read from its
checkpoint here, before the loop. Then it runs the loop
(:mod:`fempde.solvers.loop`: the stepper, the record, the observers), adds the
spatial estimate when asked for it (:mod:`fempde.solvers.accuracy`, which
runs the loop again on a second mesh), and lets the observers finish.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from skfem import Mesh

from ..checks import number
from ..fem.flux import DEFAULT_FLUX
from ..fem.space import NodalFunction, Space
from .accuracy import second_mesh, space_error
from .initial import discretised, initial_density
from .loop import OutputError, advance, finish, interrupts_deferred
from .observers import Observer
from .options import StepOptions
from .record import Tolerances
from .result import Result
from .resume import Checkpoint, check_resume, load_checkpoint
from .system import GradientFlowSystem, Problem

__all__ = ["OutputError", "Problem", "initial_density", "interrupts_deferred", "solve", "start_state"]

_STEP_OPTIONS = frozenset(field.name for field in fields(StepOptions))


def solve(
    problem: Problem,
    mesh: Mesh | Space,
    rho0: NodalFunction | ArrayLike | str,
    t_end: float,
    observers: Sequence[Observer] = (),
    *,
    times: Sequence[float] = (),
    options: StepOptions | None = None,
    tolerances: Tolerances | None = None,
    flux: str = DEFAULT_FLUX,
    force: bool = False,
    estimate_space_error: bool | Mesh | Space = False,
    resume: str | Path | Checkpoint | None = None,
    **unknown: object,
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
    options
        How to step: a :class:`StepOptions` (default ``StepOptions()``). Its
        fields are not keywords of ``solve``: ``solve(..., rtol=1e-8)`` raises a
        ``TypeError`` that says so.
    tolerances
        The certificates' tolerances (:class:`Tolerances`; default mass 1e-12,
        energy 1e-11).
    flux
        The τ = 0 mobility: ``"limited"`` (default, second order where ρ > 0) or
        ``"upwind"``. With τ > 0 the flux is Scharfetter–Gummel's, and another
        ``flux`` than the default is refused (``ValueError``) rather than ignored.
    estimate_space_error
        ``True``: also solve on a mesh about twice as fine and report, per
        output time, the estimated spatial error of the risk and of ρ in L1
        (``Result.space_error``, :mod:`fempde.solvers.accuracy`): the uniformly
        refined mesh where it keeps ``T_ij >= 0``, else the same generator's at
        ``h/2``; a mesh (or space) of the same domain at about ``h/2`` to solve
        on that one (a loaded mesh has no generator). Refused with a
        ``ValueError`` before the run where no second mesh can be made. Costs a
        run on about 2^dim times the nodes. Not with ``resume``.
    resume
        Where to continue from: a :class:`~fempde.solvers.resume.Checkpoint`
        (the start state, see :func:`start_state` and
        :func:`fempde.io.load_checkpoint`), or the path of a checkpoint written
        by :class:`fempde.io.Checkpointer`, read before the run starts. ``rho0``
        still defines the run but is not used; the history before the
        checkpoint is restored, its snapshots are not.

    A Ctrl-C ends the run cleanly: observers finish (files stay valid) and the
    result has ``stop_reason == "interrupted"``.
    """
    _refuse_keywords(unknown)
    options = options if options is not None else StepOptions()
    tolerances = tolerances if tolerances is not None else Tolerances()
    _check_types(problem, mesh, options, tolerances, observers, times)
    space = mesh if isinstance(mesh, Space) else Space(mesh, force=force)
    system, rho = discretised(problem, space, rho0, flux)
    t_end = number("t_end", t_end, positive=True)
    options.resolved(t_end)  # its steps refused before any observer starts (writes)
    if resume is not None and estimate_space_error is not False:
        raise ValueError("estimate_space_error needs a whole run: it cannot be combined with resume")
    second = second_mesh(space, estimate_space_error) if estimate_space_error is not False else None  # before the run
    start = start_state(resume, system, t_end) if resume is not None else None
    outcome = advance(system, rho, t_end, observers, times=times, options=options, tolerances=tolerances,
                      start=start)
    if second is not None and outcome.whole:
        outcome.result.space_error = space_error(problem, second, space, rho0, outcome.result, options=options,
                                                 flux=flux)
    return finish(observers, outcome)


def start_state(resume: str | Path | Checkpoint, system: GradientFlowSystem, t_end: float) -> Checkpoint:
    """The checkpoint ``resume`` (read from its file if a path), checked against the
    run of ``system`` to ``t_end`` (:func:`~fempde.solvers.resume.check_resume`)."""
    checkpoint = resume if isinstance(resume, Checkpoint) else load_checkpoint(resume, system.space.n)
    where = "passed as resume" if isinstance(resume, Checkpoint) else resume
    state, space = checkpoint.state, system.space
    if state.rho.shape != (space.n,):
        raise ValueError(f"checkpoint {where} holds {state.rho.size} nodal values, the mesh has {space.n}")
    check_resume(checkpoint, where, t_end, space.integrate(state.rho), conserved=not system.has_source)
    return checkpoint


def _refuse_keywords(unknown: dict[str, object]) -> None:
    """A keyword ``solve`` does not take: a ``TypeError`` that says how to pass a step option."""
    if not unknown:
        return
    names = sorted(unknown)
    stepping = [name for name in names if name in _STEP_OPTIONS]
    if stepping:
        given = ", ".join(f"{name}={unknown[name]!r}" for name in stepping)
        raise TypeError(f"solve() takes the stepping options as one object: options=fempde.StepOptions({given}), "
                        f"not as keywords")
    raise TypeError(f"solve() got unexpected keyword arguments {', '.join(map(repr, names))}")


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
        raise TypeError(f"options must be a fempde.StepOptions, got {type(options).__name__}")
    if not isinstance(tolerances, Tolerances):
        raise TypeError(f"tolerances must be a fempde.Tolerances, got {type(tolerances).__name__}")
    for k, observer in enumerate(observers):
        if not all(callable(getattr(observer, name, None)) for name in ("start", "observe", "finish")):
            raise TypeError(f"observers[{k}] must be an Observer (with start, observe and finish), "
                            f"got {type(observer).__name__}")
    if isinstance(times, str | bytes) or not isinstance(times, Sequence | np.ndarray):
        raise TypeError(f"times must be a sequence of output times, got {type(times).__name__}")
