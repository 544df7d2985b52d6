"""The particle side of a cross-check: one SGD run per ``(N, ε, seed)``, a task each.

A run is named by its :class:`RunKey`. Its Generator is spawned from the
cross-check's one :class:`numpy.random.SeedSequence` by the key itself
(:func:`run_generator`: ``spawn_key = (seed, N, bits of ε)``), so a run draws
the same numbers whatever else the study holds, in whatever order or on however
many workers the runs go. :func:`sgd_run` draws the initial units from the
model's initial law (restricted to its θ-domain, as the limit on a mesh
starts), trains them with the engine (:func:`particles.sgd`) on the
time axis ``t = kε``, recording at the output times, and computes the
population risk at each (:func:`fempde.model.population_risk`, exact or with
its stated error): what needs no limit is done in the task. With a checkpoint
path the run writes the engine's checkpoint there and, asked to resume,
continues from it bit for bit (a finished run just reads its records back).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fempde.model import MeanFieldModel, population_risk

from ..domain import ConvexDomain
from ..engine import sgd

__all__ = ["Interrupted", "RunKey", "RunResult", "initial_units", "run_generator", "sgd_run"]

Array = NDArray[np.float64]


class Interrupted(Exception):  # noqa: N818 - it carries a KeyboardInterrupt out of a worker
    """A run stopped by Ctrl-C in a worker (its checkpoint written); the client raises KeyboardInterrupt."""


@dataclass(frozen=True, order=True)
class RunKey:
    """One run of a study: ``n`` units, step ``epsilon``, ``seed``."""

    n: int
    epsilon: float
    seed: int

    @property
    def name(self) -> str:
        """``N200_eps2e-06_seed0``: the run's file names."""
        return f"N{self.n}_eps{self.epsilon:.6g}_seed{self.seed}"


def run_generator(entropy: int, key: RunKey) -> np.random.Generator:
    """The Generator of run ``key`` (module docstring)."""
    bits = struct.unpack("<Q", struct.pack("<d", float(key.epsilon)))[0]
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(key.seed, key.n, bits)))


MIN_ACCEPTANCE = 1e-3
"""The smallest share of initial draws inside the θ-domain :func:`initial_units` accepts."""


def initial_units(model: MeanFieldModel, n: int, rng: np.random.Generator) -> Array:
    """``n`` units from the initial law, restricted to the model's θ-domain where it has one
    (draws outside are drawn again): the law the limit on the mesh starts from, whose density
    is the initial one restricted to the domain and normalised."""
    theta = model.sample_initial(n, rng)
    if model.domain is None:
        return theta
    domain = ConvexDomain.from_mesh(model.domain)
    outside = np.flatnonzero(~domain.contains(theta))
    drawn = n
    while outside.size:
        if n / drawn < MIN_ACCEPTANCE:
            raise ValueError(f"fewer than {MIN_ACCEPTANCE:g} of the initial law's draws lie in the θ-domain of "
                             f"{model.name!r}: widen the domain or narrow the initial law")
        theta[outside] = model.sample_initial(outside.size, rng)
        drawn += outside.size
        outside = outside[~domain.contains(theta[outside])]
    return theta


@dataclass(frozen=True)
class RunResult:
    """A run at the output times ``times`` ``(T,)``: its units ``theta`` ``(T, N, D)``, the
    population risk without the label noise's variance ``risk`` ``(T,)`` and its stated error
    ``risk_error`` ``(T,)``, how the risk was computed, and the engine's kernel."""

    key: RunKey
    times: Array
    theta: Array
    risk: Array
    risk_error: Array
    risk_method: str
    kernel: str


def sgd_run(model: MeanFieldModel, key: RunKey, times: Array, *, entropy: int, batch: int | str = 1,
            checkpoint: Path | None = None, checkpoint_every: float = 60.0, resume: bool = False,
            chunk: int = 4096) -> RunResult:
    """Run ``key`` of ``model`` to the output ``times`` (grid times of its ε) and its risks
    (module docstring). Ctrl-C becomes :class:`Interrupted` (the checkpoint is written first)."""
    rng = run_generator(entropy, key)
    theta0 = initial_units(model, key.n, rng)
    try:
        run = sgd(model, theta0, model.axis(key.epsilon), times.tolist(), rng=rng, batch=batch, chunk=chunk,
                  checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                  resume=resume and checkpoint is not None and checkpoint.is_file())
    except KeyboardInterrupt:
        raise Interrupted(f"run {key.name} interrupted") from None
    assert run.theta is not None
    values = [population_risk(model, theta) for theta in run.theta]
    return RunResult(key, run.times, run.theta, np.array([v.excess for v in values]),
                     np.array([v.error for v in values]), values[0].method, run.kernel)
