"""Choosing a limit's discretisation by its estimated error.

A limit solver is a function of its discretisation levels (the data rule, the
initial rule, a mesh size, ...) that returns a :class:`Trial`: the risk curve at
the output times and the law. :func:`converge` runs it at the starting levels
and, for every part that can be refined, once more with that part alone
refined; the change of the curve is that part's estimated error. While a part's
change exceeds its share of the accuracy (relative to :func:`risk_scale`; for a
law, relative to the scale the law states), the worst part is refined and the
estimates are made again from there, up to ``max_refinements`` times a part.
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
    it is ``fixed`` (given by the caller: estimated, never changed)."""

    part: str
    key: str
    refined: Callable[[Any], Any]
    say: Callable[[Any], str]
    fixed: bool = False


@dataclass(frozen=True)
class Estimate:
    """What :func:`converge` found for one part: the change of the risk ``(T,)`` and of
    the law ``(T,)`` or None, the finer level that measured it, and the choice made."""

    risk: Array
    law: Array | None
    finer: Any
    choice: str


def _ratio(risk_change: Array, law_change: Array | None, risk: Array, share: float) -> float:
    ratio = float(np.max(risk_change / risk_scale(risk))) / share
    if law_change is not None and law_change.size:
        ratio = max(ratio, float(np.max(law_change)) / share)
    return ratio


def converge(run: Callable[[dict[str, Any]], Trial], levels: dict[str, Any], knobs: list[Knob], *,
             accuracy: float, share: float, max_refinements: int = 4,
             ) -> tuple[Trial, dict[str, Estimate]]:
    """Refine the parts of ``knobs`` until each one's change is within ``share · accuracy``
    (module docstring). Returns the computation at the chosen levels and each part's estimate."""
    levels = dict(levels)
    base = run(levels)
    refinements = {knob.part: 0 for knob in knobs}
    history: dict[str, list[str]] = {knob.part: [] for knob in knobs}
    while True:
        changes: dict[str, tuple[Array, Array | None, Any]] = {}
        for knob in knobs:
            finer_levels = {**levels, knob.key: knob.refined(levels[knob.key])}
            finer = run(finer_levels)
            risk_change, law_change = base.change(finer)
            changes[knob.part] = (risk_change, law_change, finer)
        ratios = {part: _ratio(r, law, base.risk, share * accuracy) for part, (r, law, _) in changes.items()}
        movable = [k for k in knobs if not k.fixed and ratios[k.part] > 1 and refinements[k.part] < max_refinements]
        if not movable:
            break
        worst = max(movable, key=lambda k: ratios[k.part])
        history[worst.part].append(f"{worst.say(levels[worst.key])} changed it by {ratios[worst.part]:.3g}× "
                                   f"its share")
        levels[worst.key] = worst.refined(levels[worst.key])
        base = changes[worst.part][2]
        refinements[worst.part] += 1
    estimates = {}
    for knob in knobs:
        risk_change, law_change, finer = changes[knob.part]
        verdict = "within" if ratios[knob.part] <= 1 else "NOT within"
        how = "given" if knob.fixed else "chosen"
        steps = "; ".join(history[knob.part])
        choice = (f"{knob.part}: {knob.say(levels[knob.key])} ({how}; the change to "
                  f"{knob.say(finer.levels[knob.key])} is {verdict} its share {share * accuracy:.1e}"
                  + (f"; before: {steps}" if steps else "") + ")")
        estimates[knob.part] = Estimate(risk_change, law_change, finer.levels[knob.key], choice)
    return base, estimates
