"""What a cross-check returns: :class:`CrossCheck`, every run's gaps at every
output time beside the limit's error of each, and what follows from them.

* ``sup`` over the output times after 0 of each gap, per run: what the
  dynamics do; the gap at ``t = 0`` (the initial i.i.d. sample against the
  initial law) is reported apart (:meth:`CrossCheck.initial`), never in a sup;
* a **flag** (:class:`Flag`) at every run, quantity and time ``t > 0`` where the
  limit's error could explain the gap: it is more than
  :data:`PDE_ERROR_FRACTION` of it; a quantity is **resolved** when the limit's
  largest error after 0 is at most that fraction of the smallest sup-gap of any
  run (:meth:`CrossCheck.resolved`);
* **slopes** (:class:`Slope`) of each sup-gap against N (at each ε) and against
  ε (at each N), least squares in log-log over every seed's run, with 95 %
  intervals (:func:`particles.slopes.fit_slope`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fempde.model import Limit

from ..slopes import fit_slope
from .gaps import Quantity
from .runs import RunKey

__all__ = ["PDE_ERROR_FRACTION", "CrossCheck", "Flag", "RunGaps", "Slope", "unresolved"]

Array = NDArray[np.float64]

PDE_ERROR_FRACTION = 0.1
"""The limit's estimated error of a quantity must stay below this fraction of a reported gap."""


def unresolved(error: Array | float, gap: Array | float) -> NDArray[np.bool_]:
    """Where the limit's ``error`` could explain a ``gap``: it is more than
    :data:`PDE_ERROR_FRACTION` of it (NaN errors, not estimated, are not flagged here:
    :meth:`CrossCheck.resolved` says they are not checked)."""
    return np.asarray(np.asarray(error) > PDE_ERROR_FRACTION * np.asarray(gap))


@dataclass(frozen=True)
class RunGaps:
    """One run's gaps ``gaps[q]`` ``(T,)`` and the error of each that the limit (and, for the
    risk, the run's own risk quadrature) could explain, ``errors[q]`` ``(T,)``; the run's
    population risk (label noise left out) and its error."""

    key: RunKey
    gaps: dict[str, Array]
    errors: dict[str, Array]
    sgd_risk: Array
    sgd_risk_error: Array

    def sup(self, quantity: str, start: bool = False) -> float:
        """``sup`` over the output times after 0 (with ``start``: from 0) of the gap in ``quantity``."""
        return float(np.max(self.gaps[quantity][0 if start else 1:]))

    def argsup(self, quantity: str) -> int:
        """The output time's index where :meth:`sup` is attained."""
        return 1 + int(np.argmax(self.gaps[quantity][1:]))

    def flagged(self, quantity: str) -> NDArray[np.bool_]:
        """Per output time: whether the error could explain the gap (False at ``t = 0``)."""
        flags = unresolved(self.errors[quantity], self.gaps[quantity])
        flags[0] = False
        return flags


@dataclass(frozen=True)
class Flag:
    """A gap the limit's error could explain: ``quantity`` of run ``key`` at time ``t``."""

    quantity: str
    key: RunKey
    t: float
    gap: float
    error: float

    def describe(self) -> str:
        return (f"{self.quantity} gap {self.gap:.3e} at t = {self.t:g} ({self.key.name}): the limit's error there, "
                f"{self.error:.2e}, is {self.error / self.gap:.2g} of it (more than {PDE_ERROR_FRACTION:g})")


@dataclass(frozen=True)
class Slope:
    """The log-log slope of ``quantity``'s sup-gap against ``axis`` (``"N"`` or ``"epsilon"``)
    at ``fixed`` (the other axis' value), with its 95 % interval, over ``points`` runs."""

    quantity: str
    axis: str
    fixed: float
    slope: float
    low: float
    high: float
    points: int
    start: bool = False

    def describe(self) -> str:
        other = "epsilon" if self.axis == "N" else "N"
        interval = f" [{self.low:.3f}, {self.high:.3f}]" if math.isfinite(self.low) else " (no interval: 2 values)"
        where = f"{other} = {self.fixed:g}"
        return f"{self.quantity} in {self.axis} ({where}): {self.slope:.3f}{interval}, {self.points} runs"


@dataclass(frozen=True)
class CrossCheck:
    """A cross-check of a model against its limit (module docstring).

    ``times`` ``(T,)``; ``limit`` the :class:`fempde.model.Limit` compared with, whose risk
    without the label noise is ``limit_risk``; ``quantities`` the gaps measured; ``runs`` one
    :class:`RunGaps` per ``(N, ε, seed)``, sorted; ``how`` how the limit's error of each
    quantity was estimated; ``bias[N]`` ``(T,)`` the finite-N bias ``E R_N − R(ρ_t)`` of N
    units drawn i.i.d. from the limit's law (NaN where the law is reduced); ``noise`` the
    label-noise variance left out of every risk; ``clouds[(N, ε)]`` the first seed's units
    in the law's ``variables`` ``(T, N, k)``; ``solves`` what the limit phase did, one line each."""

    model_name: str
    times: Array
    limit: Limit
    quantities: tuple[Quantity, ...]
    runs: tuple[RunGaps, ...]
    limit_risk: Array
    how: dict[str, str]
    bias: dict[int, Array]
    noise: float
    variables: tuple[str, ...]
    clouds: dict[tuple[int, float], Array] = field(default_factory=dict)
    solves: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(q.name for q in self.quantities)

    @property
    def fraction(self) -> float:
        """:data:`PDE_ERROR_FRACTION`: the share of a gap the limit's error may take."""
        return PDE_ERROR_FRACTION

    @property
    def ns(self) -> tuple[int, ...]:
        return tuple(sorted({r.key.n for r in self.runs}))

    @property
    def epsilons(self) -> tuple[float, ...]:
        return tuple(sorted({r.key.epsilon for r in self.runs}))

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(sorted({r.key.seed for r in self.runs}))

    def group(self, n: int, epsilon: float) -> list[RunGaps]:
        """The runs (every seed) of one ``(N, ε)``."""
        return [r for r in self.runs if r.key.n == n and r.key.epsilon == epsilon]

    def sup(self, quantity: str, start: bool = False) -> Array:
        """The sup-gap of ``quantity`` per run (over ``t > 0``; with ``start`` from 0)."""
        return np.array([r.sup(quantity, start) for r in self.runs])

    def initial(self, quantity: str) -> Array:
        """The gap of ``quantity`` at ``t = 0`` per run: the initial sample's."""
        return np.array([r.gaps[quantity][0] for r in self.runs])

    def limit_error(self, quantity: str) -> Array:
        """The largest error of ``quantity`` over the runs at each output time ``(T,)``."""
        return np.asarray(np.max([r.errors[quantity] for r in self.runs], axis=0))

    def resolved(self, quantity: str) -> bool | None:
        """Whether the limit resolves ``quantity`` (module docstring); None when its error is
        not estimated."""
        error = self.limit_error(quantity)[1:]
        if not np.all(np.isfinite(error)):
            return None
        return bool(not unresolved(float(error.max(initial=0.0)), float(self.sup(quantity).min())))

    def flags(self, quantity: str | None = None) -> list[Flag]:
        """Every flagged run, time and quantity (module docstring), the worst first."""
        out = []
        for q in (self.names if quantity is None else (quantity,)):
            for run in self.runs:
                for k in np.flatnonzero(run.flagged(q)):
                    out.append(Flag(q, run.key, float(self.times[k]), float(run.gaps[q][k]), float(run.errors[q][k])))
        return sorted(out, key=lambda f: -f.error / max(f.gap, 1e-300))

    def slopes(self, start: bool = False) -> list[Slope]:
        """Every slope of every quantity's sup-gap against N and against ε (module docstring); with
        ``start`` the sups include ``t = 0`` (what the comparison before this cross-check did)."""
        out = []
        for q in self.names:
            for axis, fixed_values in (("N", self.epsilons), ("epsilon", self.ns)):
                for fixed in fixed_values:
                    runs = [r for r in self.runs if (r.key.epsilon if axis == "N" else r.key.n) == fixed]
                    x = np.array([r.key.n if axis == "N" else r.key.epsilon for r in runs], dtype=float)
                    y = np.array([r.sup(q, start) for r in runs])
                    if len(np.unique(x)) < 2 or np.any(~(y > 0)):
                        continue
                    slope, low, high = fit_slope(x, y)
                    out.append(Slope(q, axis, float(fixed), slope, low, high, len(runs), start))
        return out

    def table(self) -> list[dict[str, Any]]:
        """One row per run: its key and every quantity's sup-gap (``t > 0``), the gap at 0 and the
        time of the sup, and whether the limit's error could explain any of its gaps."""
        rows = []
        for run in self.runs:
            row: dict[str, Any] = {"N": run.key.n, "epsilon": run.key.epsilon, "seed": run.key.seed}
            for q in self.names:
                row[f"{q}_sup"] = run.sup(q)
                row[f"{q}_t0"] = float(run.gaps[q][0])
                row[f"{q}_t_sup"] = float(self.times[run.argsup(q)])
                row[f"{q}_flagged"] = bool(run.flagged(q).any())
            row["final_risk"] = float(run.sgd_risk[-1])
            rows.append(row)
        return rows

    def describe(self) -> str:
        """The gaps with the limit's error beside each, the slopes and the flags (what the CLI prints)."""
        from .summary import describe

        return describe(self)

    def warnings(self) -> list[str]:
        """One line per quantity the limit does not resolve, naming the gap, time and quantity that trip it."""
        from .summary import warning_lines

        return warning_lines(self)
