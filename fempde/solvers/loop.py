"""The run loop: the stepper, the run's record, and the observers — nothing else.

:func:`run` takes a discretised system and ρ0 (or the start state of a resumed
run, already read: :class:`~fempde.solvers.resume.Checkpoint`) and iterates
the stepper (:func:`~fempde.solvers.stepping.steps`). Each accepted step goes
first to the :class:`~fempde.solvers.record.RunRecord` (history, certificates)
and then to the observers (progress, files: any may stop the run); the
:class:`~fempde.solvers.result.Result` is built from the record, and the
observers finish with it. The loop reads no file and writes none itself.

It comes in two halves, :func:`advance` (everything up to the result) and
:func:`finish` (the observers' last files, then the error or Ctrl-C the run
ended with), so that :func:`fempde.solve` can add the spatial estimate in
between, before the observers write it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..checks import number
from .observers import Observer, RunInfo
from .options import StepOptions
from .record import RunRecord, Tolerances
from .result import Result
from .resume import Checkpoint, ResumePoint, restored_step
from .step import Step
from .stepping import ConvergenceError, steps
from .system import GradientFlowSystem

__all__ = ["OutputError", "Outcome", "advance", "finish", "interrupts_deferred", "run"]

Array = NDArray[np.float64]


class OutputError(OSError):
    """An observer could not write its output; what was written before stays valid."""


@dataclass
class Outcome:
    """A run that has stopped, before its observers finish: its result, and the
    error it stopped with (raised by :func:`finish`)."""

    result: Result
    error: BaseException | None = None

    @property
    def whole(self) -> bool:
        """Whether the run ended as asked (``t_end`` or an observer), not by a failure or Ctrl-C."""
        return self.error is None and self.result.stop_reason != "interrupted"


def run(system: GradientFlowSystem, rho0: Array, t_end: float, observers: Sequence[Observer] = (), *,
        times: Sequence[float] = (), options: StepOptions | None = None, tolerances: Tolerances | None = None,
        start: Checkpoint | None = None) -> Result:
    """Step ``system`` from ``rho0`` (or from ``start``) to ``t_end`` with ``observers`` (module docstring)."""
    return finish(observers, advance(system, rho0, t_end, observers, times=times, options=options,
                                     tolerances=tolerances, start=start))


def advance(system: GradientFlowSystem, rho0: Array, t_end: float, observers: Sequence[Observer] = (), *,
            times: Sequence[float] = (), options: StepOptions | None = None, tolerances: Tolerances | None = None,
            start: Checkpoint | None = None) -> Outcome:
    """The run up to its result: observers started, every step recorded and observed."""
    t_end = number("t_end", t_end, positive=True)
    times = tuple(sorted(number(f"times[{k}]", t) for k, t in enumerate(times)))
    record = RunRecord(tolerances if tolerances is not None else Tolerances(), check_energy=not system.has_source,
                       keep=times)
    resumed_from = None
    if start is not None:
        record.restore(start.history, start.failed, restored_step(start.state, system))
        resumed_from = ResumePoint(start.state.index, start.state.t)
    stepper = steps(system, rho0, t_end, times=times, options=options,
                    start=start.state if start is not None else None)
    info = RunInfo(system=system, t_end=t_end, times=times, record=record, resumed_from=resumed_from)
    for observer in observers:
        observer.start(info)
    reason, error = _iterate(stepper, record, observers)
    return Outcome(record.result(system, reason), error)


def _iterate(stepper: Iterator[Step], record: RunRecord,
             observers: Sequence[Observer]) -> tuple[str, BaseException | None]:
    """Record and observe every step: why the run stopped, and the error it stopped with."""
    try:
        for step in stepper:
            record.add(step)
            if any([bool(o.observe(step)) for o in observers]):
                return "observer", None
    except KeyboardInterrupt:
        return "interrupted", None
    except ConvergenceError as err:
        return "failed", err
    except OSError as err:  # an observer could not write: disk full, permissions
        t = record.last.t if record.last is not None else 0.0
        error = OutputError(
            f"writing output failed at t = {t:.6g} ({err.strerror or err}); the run stopped and the "
            "files written before are complete (each was written under a temporary name, then renamed)"
        )
        error.__cause__ = err
        return "failed", error
    return "t_end", None


def finish(observers: Sequence[Observer], outcome: Outcome) -> Result:
    """Let the observers finish with the result (a Ctrl-C meanwhile waits until they
    have), then raise the error the run stopped with, if any."""
    result, error = outcome.result, outcome.error
    with interrupts_deferred(reraise=result.stop_reason != "interrupted"):  # the final files whole, then the Ctrl-C
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
