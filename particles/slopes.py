"""How a gap shrinks: the log-log slope of a gap against N, ε or δ, with its confidence interval.

The cross-check's slopes in N and ε (:meth:`particles.crosscheck.CrossCheck.slopes`) and the
sweeps' report (:mod:`particles.sweep.report`) both fit with :func:`fit_slope`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["fit_slope"]


def fit_slope(x: ArrayLike, y: ArrayLike, level: float = 0.95) -> tuple[float, float, float]:
    """The least-squares slope of ``log y`` against ``log x`` and its ``level``
    confidence interval, ``(slope, low, high)``.

    The interval is Student's t with ``len(x) − 2`` degrees of freedom on the
    slope's standard error; with two points there is none, and ``low``,
    ``high`` are ``nan``. Raises ``ValueError`` for fewer than two distinct
    ``x`` (no slope), for values that are not finite and positive (no
    logarithm), and for a ``level`` outside (0, 1)."""
    from scipy.stats import linregress
    from scipy.stats import t as student

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-D and of one length, got shapes {x.shape} and {y.shape}")
    if len(np.unique(x)) < 2:
        raise ValueError(f"a slope needs points at 2 or more distinct x, got x = {x.tolist()}")
    for name, values in (("x", x), ("y", y)):
        if not np.all(np.isfinite(values) & (values > 0)):
            raise ValueError(f"a log-log slope needs finite {name} > 0, got {name} = {values.tolist()}")
    if not 0 < level < 1:
        raise ValueError(f"the confidence level must lie in (0, 1), got {level!r}")
    fit = linregress(np.log(x), np.log(y))
    slope = float(fit.slope)
    if len(x) < 3:
        return slope, math.nan, math.nan
    half = float(student.ppf(0.5 + level / 2, len(x) - 2)) * float(fit.stderr)
    return slope, slope - half, slope + half
