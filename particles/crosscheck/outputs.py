"""The output times a cross-check compares at, shared by every run and the limit.

SGD records on its grid ``t = kε``; the limit is asked for the same times. The
times (a count of evenly spaced outputs after 0, or a list) are rounded to the
grid of the largest ε of the study, and each must then lie on the grid of every
other ε too (else the runs of different ε would be compared at different
times, a difference of the order of the ε-effect a study measures): the error
names the time and the step that miss. ``t = 0`` is always an output: the gap
there is the initial sample's, reported on its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from fempde.checks import integer, number
from fempde.meanfield import TimeAxis

__all__ = ["GRID_TOLERANCE", "output_times"]

Array = NDArray[np.float64]

GRID_TOLERANCE = 1e-6
"""How far (in steps) an output time may be from a grid time of a smaller ε."""


def output_times(t_end: float, outputs: int | Sequence[float], epsilons: Sequence[float]) -> Array:
    """The output times ``(T,)``, 0 first and ``t_end`` last (module docstring)."""
    t_end = number("t_end", t_end, positive=True)
    if isinstance(outputs, int | np.integer) and not isinstance(outputs, bool):
        wanted = np.linspace(0.0, t_end, integer("outputs (evenly spaced output times)", outputs) + 1)
    else:
        values = np.asarray(outputs, dtype=np.float64)
        if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)) or np.any(values < 0) \
                or np.any(values > t_end):
            raise ValueError(f"outputs must be a count or a list of finite times in [0, t_end = {t_end:g}], "
                             f"got {outputs!r}")
        wanted = np.union1d(values, [0.0, t_end])
    coarse = TimeAxis(max(epsilons))
    times = np.unique(coarse.time(np.array([coarse.steps_until(t) for t in wanted])))
    for epsilon in epsilons:
        steps = times / epsilon
        miss = np.abs(steps - np.round(steps)) > GRID_TOLERANCE
        if np.any(miss):
            t = float(times[np.flatnonzero(miss)[0]])
            raise ValueError(f"the output time {t:g} (on the grid of epsilon = {max(epsilons):g}) is not on the grid "
                             f"of epsilon = {epsilon:g} ({t / epsilon:.6g} steps): choose steps that divide each "
                             f"other, or output times on every grid")
    if len(times) < 2:
        raise ValueError(f"t_end = {t_end:g} is less than one step of epsilon = {max(epsilons):g}: SGD would take "
                         "no step; lower epsilon")
    return times
