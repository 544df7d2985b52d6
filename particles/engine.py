"""One SGD engine for every declared model: :func:`sgd` for a run, :func:`ensemble`
for many independent runs advanced together.

A :class:`fempde.model.MeanFieldModel` is handed to the engine as data; the
step is its Eq. 11 (Mei–Montanari–Nguyen 2018), on the trained coordinates
(``model.mask``):

    θ_i ← (1 − DRIFT λ s_k) θ_i + κ (s_k/α) Σ_q w_q (y_q − ŷ(x_q)) ∇_θσ*(x_q; θ_i) + sqrt(2 DRIFT s_k τ) g_i,
    ŷ(x) = (α/N) Σ_i σ*(x; θ_i),

with α = ``model.output_scale(N)``, κ = ``model.gain()``, τ = ``model.tau``,
``s_k`` the steps of the time axis ``t = kε`` (:class:`fempde.TimeAxis`, the
PDE's clock), and the batch ``(x_q, y_q, w_q)`` of :mod:`particles.batch`:
``B`` fresh samples of weight ``1/B`` (SGD for ``B = 1``), or the data
quadrature (full-batch gradient descent). Where the model has a θ-domain the
units move inside it: reflected at its walls, or with ``reflect=False``
stopped where their move first meets one.

What makes the same seed give the same numbers: a noisy run draws one noise
key from its Generator first (:mod:`particles.noise`: the increments are a
function of the key and of the step, coordinate and unit), then its data in
fixed blocks of steps (:class:`particles.plan.BlockDraws`); the steps are
taken a chunk at a time (:func:`particles.plan.chunk_plan`), ending on every
recording step. Neither the chunks, nor the recording times, nor whether a run
is alone or in an ensemble changes what it draws, and a run resumed from its
checkpoint (:mod:`particles.state`) is the unbroken run, bit for bit.

The steps run in compiled kernels (:mod:`particles.kernels`): a generic one
for any unit, and specialised ones where a benchmark shows they pay, behind
the same call and tested to give the same numbers. Before a run the engine
estimates the model's stability limit (:mod:`particles.stability`) and warns
when the first step is past it; a run whose θ stops being finite raises
``FloatingPointError``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from fempde.checks import generator, integer, number
from fempde.meanfield import TimeAxis
from fempde.model import MeanFieldModel

from .course import Course, Observer, Run, Setup
from .noise import draw_key
from .plan import record_steps
from .stability import StepSizeWarning, check_step_size
from .state import RunIdentity, Saver, State, load_state

__all__ = ["Member", "Observer", "Run", "ensemble", "sgd"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Member:
    """One run of an ensemble: its start ``theta0`` ``(N, D)``, its time axis (ε and
    schedule) and its own Generator."""

    theta0: ArrayLike
    axis: TimeAxis
    rng: np.random.Generator


def _settings(chunk: int, observe: Observer | None, keep_theta: bool) -> int:
    if observe is not None and not callable(observe):
        raise TypeError(f"observe must be a function of theta (N, D) returning an array, got {type(observe).__name__}")
    if not isinstance(keep_theta, bool):
        raise TypeError(f"keep_theta must be True or False, got {keep_theta!r}")
    if not keep_theta and observe is None:
        raise ValueError("keep_theta=False keeps nothing without observe: give observe, or keep theta")
    return integer("chunk (SGD steps per compiled call)", chunk)


def sgd(model: MeanFieldModel, theta0: ArrayLike, axis: TimeAxis, times: Sequence[float], *,
        rng: np.random.Generator, batch: int | str | tuple[str, int] = 1, reflect: bool = True, chunk: int = 4096,
        checkpoint: str | Path | None = None, checkpoint_every: float = 60.0, resume: bool = False,
        observe: Observer | None = None, keep_theta: bool = True, kernel: str = "auto") -> Run:
    """Train ``model``'s units from ``theta0`` ``(N, D)`` on the time axis ``axis``
    (``model.axis(epsilon)``) and record them at ``times`` (rounded to the grid
    ``t = kε``, sorted; 0 allowed), drawing from ``rng`` (module docstring).

    ``batch``: samples per step, ``"full"`` or ``("full", level)`` (:mod:`particles.batch`).
    ``reflect``: reflection at the walls of the model's θ-domain, or projection.
    ``chunk``: steps per compiled call (the same numbers whatever it is).
    ``checkpoint``: an ``.npz`` path the state is written to every
    ``checkpoint_every`` seconds, at the end and on Ctrl-C (the state before the
    interrupted chunk); ``resume=True`` continues from it, bit for bit.
    ``observe(theta)``: an array recorded at every recording time (``Run.observed``);
    ``keep_theta=False`` keeps only that. ``kernel``: ``"auto"`` (the fastest that
    applies) or one of :data:`particles.kernels.KERNELS` by name.
    """
    setup = Setup(model, batch, reflect, kernel)
    rng = generator("rng", rng)
    theta = setup.start(theta0, "theta0")
    axis = setup.check_axis(axis, "axis")
    marks = record_steps(axis, times)
    chunk = _settings(chunk, observe, keep_theta)
    checkpoint_every = number("checkpoint_every (seconds)", checkpoint_every, minimum=0)
    check_step_size(model, theta, axis, setup.batch)
    identity = RunIdentity(marks, axis.epsilon, setup.batch.describe(), (theta.shape[0], theta.shape[1]))
    if resume:
        if checkpoint is None:
            raise ValueError("resume=True needs the checkpoint path")
        state = load_state(checkpoint, identity, model.tau > 0)
        _check_inside(setup, state, checkpoint)
        try:
            rng.bit_generator.state = dict(state.rng_state)
        except (TypeError, ValueError, KeyError) as err:
            raise ValueError(f"checkpoint {checkpoint} holds a Generator state this rng cannot take ({err}): give "
                             f"the rng of its run (same bit generator), or run without resume=True") from None
        course = Course(setup, theta, axis, marks, rng, state.noise_key, chunk, observe, keep_theta, state)
    else:
        key = draw_key(rng) if model.tau > 0 else 0  # first the noise key, then the data blocks
        course = Course(setup, theta, axis, marks, rng, key, chunk, observe, keep_theta)
    saver = None if checkpoint is None else Saver(checkpoint, checkpoint_every, identity)
    try:
        for c in course.plan:
            if c.steps > 0:
                if saver is not None:
                    saver.at_boundary(course.state())
                course.advance(c)
            if c.record:
                course.record()
    except KeyboardInterrupt:
        if saver is not None:
            saver.write()
        raise
    if saver is not None:
        saver.at_boundary(course.state())
        saver.write()
    return course.result()


def _check_inside(setup: Setup, state: State, path: str | Path) -> None:
    """Refuse a checkpoint whose units (now or in a record) lie outside the model's θ-domain."""
    for name, units in (("theta", state.theta), *((f"records[{k}]", r) for k, r in enumerate(state.records))):
        setup.check_inside(units, f"checkpoint {path}: {name}",
                           "not a state of this run; delete it, or run without resume=True")


def ensemble(model: MeanFieldModel, members: Sequence[Member], times: Sequence[float], *,
             batch: int | str | tuple[str, int] = 1, reflect: bool = True, chunk: int = 4096,
             observe: Observer | None = None, keep_theta: bool = True, kernel: str = "auto",
             device: str | None = None) -> list[Run]:
    """Independent runs of ``model``, each its own start, N, time axis and Generator
    (:class:`Member`), advanced together: a chunk of every run at a time, the runs
    spread over ``NUMBA_NUM_THREADS`` threads (each calls its compiled kernel with the
    GIL released), or with ``device`` (``"cpu"``, ``"cuda"``) as batched tensors in
    PyTorch (:mod:`particles.kernels.tensors`; ridge units, one sample a step, every
    member with the same N and axis).

    Run ``r`` draws exactly what :func:`sgd` draws from ``members[r].rng``, so on
    the compiled path ``ensemble(model, members, times)[r]`` equals :func:`sgd` of
    that member bit for bit. Settings as for :func:`sgd` (no checkpoints)."""
    setup = Setup(model, batch, reflect, kernel)
    chunk = _settings(chunk, observe, keep_theta)
    if len(members) == 0:
        raise ValueError("an ensemble needs at least one member")
    courses, unstable = [], []
    for r, member in enumerate(members):
        if not isinstance(member, Member):
            raise TypeError(f"members[{r}] must be a particles.Member(theta0, axis, rng), got {type(member).__name__}")
        rng = generator(f"members[{r}].rng", member.rng)
        theta = setup.start(member.theta0, f"members[{r}].theta0")
        axis = setup.check_axis(member.axis, f"members[{r}].axis")
        marks = record_steps(axis, times)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", StepSizeWarning)
            check_step_size(model, theta, axis, setup.batch)
        unstable += [(r, w) for w in caught if issubclass(w.category, StepSizeWarning)]
        key = draw_key(rng) if model.tau > 0 else 0
        courses.append(Course(setup, theta, axis, marks, rng, key, chunk, observe, keep_theta))
    if unstable:  # one warning for the ensemble, not one per member
        which = sorted({r for r, _ in unstable})
        where = "" if len(members) == 1 else f"members {which[:10]}{' ...' if len(which) > 10 else ''} of " \
                                             f"{len(members)}: "
        warnings.warn(f"{where}{unstable[0][1].message}", StepSizeWarning, stacklevel=2)
    if device is not None:
        from .kernels.tensors import run_on_device

        run_on_device(setup, courses, device)
    else:
        _run_compiled(courses)
    return [course.result() for course in courses]


def _run_compiled(courses: list[Course]) -> None:
    """The rounds of an ensemble: chunk ``i`` of every run that has one, the runs spread
    over a pool of ``numba.get_num_threads()`` threads. Each run calls the compiled
    kernel of a single run (it releases the GIL), so it is its single run, bit for bit."""
    workers = min(numba.get_num_threads(), len(courses))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for round_ in range(max(len(course.plan) for course in courses)):
            active = [(course, course.plan[round_]) for course in courses if round_ < len(course.plan)]
            moving = [(course, c) for course, c in active if c.steps > 0]
            if workers == 1:
                for course, c in moving:
                    course.advance(c)
            else:
                for done in [pool.submit(course.advance, c) for course, c in moving]:
                    done.result()  # a run's FloatingPointError surfaces here
            for course, c in active:
                if c.record:
                    course.record()
