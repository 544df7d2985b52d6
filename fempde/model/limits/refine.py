"""Choosing a limit's discretisation by its estimated error.

A limit solver is a function of its discretisation levels (the data rule, the
initial rule, a mesh size, ...) that returns a :class:`Trial`: the risk curve at
the output times and the law. :func:`converge` runs it at the starting levels
and, for every part that can be refined, once more with that part alone
refined; the change of the curve is that part's estimated error (or, for a part
whose error falls at a known rate, once more with it coarsened, the change
scaled to the finer level's error, at a fraction of the cost). While the parts'
estimates together exceed their share of the accuracy at some output time
(relative to :func:`risk_scale`; for a law, relative to the scale the law
states), the largest part is refined and the estimates are made again from
there, up to ``max_refinements`` times a part.
The result is the last computation at the chosen levels, its parts' estimates,
and one line per part saying what was chosen and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .result import risk_scale

__all__ = ["Estimate", "Knob", "Trial", "converge"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Trial:
    """One computation of a limit: ``risk`` ``(T,)``, the law, and ``law_scale``: a
    summary of the law ``(T, k)`` whose change measures the law's error (the means of
    the coordinates, or the density itself) and ``law_distance``, how two summaries are
    compared (``(T,)``, relative); ``solution`` the solver's output."""

    levels: dict[str, Any]
    risk: Array
    law: Any
    solution: Any = None
    summary: Array | None = None
    law_distance: Callable[[Array, Array], Array] | None = field(default=None, compare=False)
    judge_law: bool = True
    """Whether the law's change counts against the accuracy (the means of points do; the L1
    distance of two densities is reported only: a 1 % L1 accuracy is far stricter than the
    risk's, and no mesh here reaches it)."""

    def change(self, other: Trial) -> tuple[Array, Array | None]:
        """``|R − R_other|`` ``(T,)`` and the law's change ``(T,)`` (None when not comparable)."""
        risk = np.abs(self.risk - other.risk)
        if self.summary is None or other.summary is None or self.law_distance is None:
            return risk, None
        return risk, self.law_distance(self.summary, other.summary)


@dataclass(frozen=True)
class Knob:
    """A discretisation part that can be refined: its name (one of
    :data:`~fempde.model.limits.result.PARTS`), the level key in :attr:`Trial.levels`,
    ``refined(level)``, how to say a level (``"48 nodes per coordinate"``), and whether
    it is ``fixed`` (given by the caller: estimated, never changed).

    With ``coarsened`` the part is estimated from the coarser level instead of the finer
    one: the change times ``factor`` (the error of the finer level when the error falls by
    a known rate: ``1/(2^d − 1)`` for an error ``∝ 1/M`` and ``2^d`` times fewer points);
    refining then costs one run, and the old level is the new one's comparison."""

    part: str
    key: str
    refined: Callable[[Any], Any]
    say: Callable[[Any], str]
    fixed: bool = False
    coarsened: Callable[[Any], Any] | None = None
    factor: float = 1.0


@dataclass(frozen=True)
class Estimate:
    """What :func:`converge` found for one part: the change of the risk ``(T,)`` and of
    the law ``(T,)`` or None, the level it was compared with, and the choice made."""

    risk: Array
    law: Array | None
    compared: Any
    choice: str


def _size(risk_change: Array, law_change: Array | None, risk: Array, judge_law: bool) -> tuple[Array, Array]:
    """A part's estimate relative to the risk's scale ``(T,)`` and the law's change ``(T,)`` (zeros when
    the law is not judged)."""
    law = law_change if judge_law and law_change is not None and law_change.size else np.zeros_like(risk)
    return np.asarray(risk_change / risk_scale(risk)), np.asarray(law)


def converge(run: Callable[[dict[str, Any]], Trial], levels: dict[str, Any], knobs: list[Knob], *,
             accuracy: float, share: float, max_refinements: int = 4,
             ) -> tuple[Trial, dict[str, Estimate]]:
    """Refine the parts of ``knobs`` until their estimates together are within ``share · accuracy``
    at every output time, the risk's and the law's (module docstring), refining the largest
    first. Returns the computation at the chosen levels and each part's estimate."""
    cache: dict[tuple[tuple[str, Any], ...], Trial] = {}

    def trial(at: dict[str, Any]) -> Trial:
        key = tuple(sorted(at.items()))
        if key not in cache:
            cache[key] = run(at)
        return cache[key]

    budget = share * accuracy
    levels = dict(levels)
    base = trial(levels)
    refinements = {knob.part: 0 for knob in knobs}
    history: dict[str, list[str]] = {knob.part: [] for knob in knobs}
    while True:
        changes: dict[str, tuple[Array, Array | None, Any]] = {}
        for knob in knobs:
            step = knob.coarsened if knob.coarsened is not None else knob.refined
            other = trial({**levels, knob.key: step(levels[knob.key])})
            risk_change, law_change = base.change(other)
            scale = knob.factor
            changes[knob.part] = (scale * risk_change, None if law_change is None else scale * law_change, other)
        sizes = {part: _size(r, law, base.risk, base.judge_law) for part, (r, law, _) in changes.items()}
        total = max(float(np.max(sum(r for r, _ in sizes.values()), initial=0.0)),
                    float(np.max(sum(law for _, law in sizes.values()), initial=0.0))) if sizes else 0.0
        worst_of = {part: max(float(np.max(r)), float(np.max(law))) for part, (r, law) in sizes.items()}
        movable = [k for k in knobs if not k.fixed and refinements[k.part] < max_refinements]
        if total <= budget or not movable:
            break
        worst = max(movable, key=lambda k: worst_of[k.part])
        history[worst.part].append(f"{worst.say(levels[worst.key])} at {worst_of[worst.part]:.2g}")
        levels[worst.key] = worst.refined(levels[worst.key])
        base = trial(levels)
        refinements[worst.part] += 1
    estimates = {}
    verdict = "within" if total <= budget else "NOT within"
    for knob in knobs:
        risk_change, law_change, other = changes[knob.part]
        how = "given" if knob.fixed else "chosen"
        steps = "; ".join(history[knob.part])
        scaled = "" if knob.factor == 1 else f"{knob.factor:.3g} × "
        compared = f"{scaled}the change {'to' if knob.coarsened is None else 'from'} {knob.say(other.levels[knob.key])}"
        choice = (f"{knob.part}: {knob.say(levels[knob.key])} ({how}; estimate {worst_of[knob.part]:.2g} relative, "
                  f"{compared}; the refined parts together {total:.2g}, {verdict} {budget:.1e}"
                  + (f"; refined from {steps}" if steps else "") + ")")
        estimates[knob.part] = Estimate(risk_change, law_change, other.levels[knob.key], choice)
    return base, estimates
