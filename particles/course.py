"""One run as the engine takes it: its :class:`Setup` (the model's batch, walls and
kernel, checked once), its :class:`Course` through the plan (units, data feed,
noise key, records) and its :class:`Run` (what it recorded). The engine
(:mod:`particles.engine`) drives courses through compiled kernels, the device
path (:mod:`particles.kernels.tensors`) through torch; both read them from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fempde.meanfield import TimeAxis, noise_scale
from fempde.model import MeanFieldModel

from .batch import Batch
from .domain import ConvexDomain
from .kernels import Stepper, Walls, stepper
from .plan import Chunk, chunk_plan
from .state import State

__all__ = ["Course", "Observer", "Run", "Setup"]

Array = NDArray[np.float64]
Observer = Callable[[Array], ArrayLike]
"""``observe(theta)``: any array computed from the units ``(N, D)`` at a recording time."""


@dataclass(frozen=True)
class Run:
    """A run at its recording ``times`` ``(T,)`` (grid times ``kε``, steps ``steps``):
    the units ``theta`` ``(T, N, D)`` (None with ``keep_theta=False``), what
    ``observe`` returned, stacked ``(T, ...)`` (None without it), and the kernel that ran."""

    times: Array
    steps: NDArray[np.int64]
    theta: Array | None
    observed: Array | None
    kernel: str


class Setup:
    """A model's runs as the engine takes them: the batch, the walls and the kernel, checked once."""

    def __init__(self, model: MeanFieldModel, batch: object, reflect: bool, kernel: str) -> None:
        if not isinstance(model, MeanFieldModel):
            raise TypeError(f"model must be a fempde.model.MeanFieldModel, got {type(model).__name__}")
        if not isinstance(reflect, bool):
            raise TypeError(f"reflect must be True (reflection at the walls) or False (projection), got {reflect!r}")
        self.model, self.batch = model, Batch.of(batch)
        if not self.batch.full and not callable(getattr(model.data, "sample", None)):
            raise ValueError(f"the data law of {model.name!r} ({type(model.data).__name__}) has no sampler: give "
                             "batch='full' (its quadrature) or a data law with sample(n, rng)")
        domain = None if model.domain is None else ConvexDomain.from_mesh(model.domain)
        self.walls = Walls(domain, reflect)
        self.stepper: Stepper = stepper(model, self.batch, self.walls, kernel)

    def start(self, theta0: ArrayLike, name: str) -> Array:
        """``theta0`` checked: finite, ``(N >= 1, D)``, inside the θ-domain; a C-ordered copy."""
        theta = np.array(self.model.units(theta0, name), dtype=np.float64, order="C")
        self.check_inside(theta, name, "start inside it (model.sample_initial draws from the initial law)")
        return theta

    def check_inside(self, units: Array, name: str, remedy: str) -> None:
        """Refuse ``units`` of which any lies outside the model's θ-domain (the first named)."""
        domain = self.walls.domain
        outside = np.flatnonzero(~domain.contains(units)) if domain is not None else np.empty(0, dtype=np.intp)
        if len(outside):
            i = int(outside[0])
            raise ValueError(f"{name}: {len(outside)} of its {len(units)} units lie outside the model's θ-domain "
                             f"(unit {i} at {units[i].tolist()}): {remedy}")

    def check_axis(self, axis: object, name: str) -> TimeAxis:
        if not isinstance(axis, TimeAxis):
            raise TypeError(f"{name} must be a fempde TimeAxis (epsilon and schedule; model.axis(epsilon) makes "
                            f"one), got {type(axis).__name__}")
        if axis.schedule != self.model.schedule:
            raise ValueError(f"{name} has the schedule {axis.schedule!r}, the model {self.model.schedule!r}: build "
                             f"the axis with model.axis(epsilon)")
        return axis


class Course:
    """One run's way through its plan: its units, data feed, noise key and records."""

    def __init__(self, setup: Setup, theta: Array, axis: TimeAxis, marks: NDArray[np.int64],
                 rng: np.random.Generator, key: int, chunk: int, observe: Observer | None, keep_theta: bool,
                 state: State | None = None) -> None:
        self.setup, self.axis, self.marks, self.rng, self.key = setup, axis, marks, rng, key
        self.observe, self.keep_theta = observe, keep_theta
        self.step = 0 if state is None else state.step
        self.theta = theta if state is None else np.array(state.theta, dtype=np.float64, order="C")
        self.records: list[Array] = [] if state is None else list(state.records)
        self.observed: list[Array] | None = None if observe is None else ([] if state is None else
                                                                           list(state.observed or []))
        done = len(self.observed) if self.observed is not None else len(self.records)
        self.feed = setup.batch.feed(setup.model, rng, self.step)
        self.plan = chunk_plan(marks[done:], chunk, start=self.step)
        self.alpha = setup.model.output_scale(len(self.theta))

    def inputs(self, c: Chunk) -> tuple[Array, Array, Array, Array, int]:
        """``xs``, ``ys``, the steps ``s_k``, the noise scales and the first normal of chunk ``c``."""
        xs, ys = self.feed.take(c.start, c.steps)
        steps = self.axis.step_sizes(c.start, c.start + c.steps)
        tau = self.setup.model.tau
        stds = noise_scale(steps, tau) if tau > 0 else np.empty(0)
        return xs, ys, steps, stds, c.start * self.theta.size

    def advance(self, c: Chunk) -> None:
        """Take chunk ``c`` with the setup's kernel."""
        xs, ys, steps, stds, first = self.inputs(c)
        self.setup.stepper.advance(self.theta, xs, ys, self.feed.weights, self.feed.stride, steps, stds, self.key,
                                   first, self.alpha)
        self.finished(c)

    def finished(self, c: Chunk) -> None:
        """After chunk ``c``: θ finite (else FloatingPointError naming t and ε), the step counted."""
        if not np.all(np.isfinite(self.theta)):
            eps = self.axis.epsilon
            raise FloatingPointError(
                f"SGD diverged: θ is not finite at t = {self.axis.time(c.start + c.steps):g} with epsilon = {eps:g} "
                f"(N = {len(self.theta)}; finite at t = {self.axis.time(c.start):g}); lower epsilon (now {eps:g})")
        self.step = c.start + c.steps

    def record(self) -> None:
        if self.keep_theta:
            self.records.append(self.theta.copy())
        if self.observe is not None and self.observed is not None:
            self.observed.append(np.array(self.observe(self.theta.copy()), dtype=np.float64))

    def state(self) -> State:
        """The state at the current step (copies of what changes)."""
        rng_state = self.feed.resume_state() or self.rng.bit_generator.state
        return State(self.step, self.theta.copy(), rng_state, self.key, self.marks, list(self.records),
                     None if self.observed is None else list(self.observed))

    def result(self) -> Run:
        theta = np.array(self.records).reshape(len(self.records), *self.theta.shape) if self.keep_theta else None
        observed = None if self.observed is None else np.array(self.observed)
        return Run(self.axis.time(self.marks), self.marks.copy(), theta, observed, self.setup.stepper.name)
