"""How the benchmarks time a piece of work, written once (``benchmarks/sgd.py``,
``radial.py``, ``scaling.py`` import it).

The ``timeit`` convention: repeat a short run until ``MIN_SECONDS`` have passed
(at most ``MAX_RUNS`` times) and count the fastest, since other processes share
the cores and a short run is more likely to find one to itself. Where the time
goes is measured apart, from one profiled run (:func:`profile_parts`): the
profiler slows Python calls, so a headline rate never comes from a profiled run.
"""

from __future__ import annotations

import cProfile
import math
import pstats
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

MIN_SECONDS, MAX_RUNS = 2.0, 10  # repeat a run this long, this often at most


def best_of(run: Callable[[], T], *, min_seconds: float = MIN_SECONDS, max_runs: int = MAX_RUNS) -> tuple[float, T]:
    """The wall time of the fastest call of ``run()``, called until ``min_seconds``
    have passed in all or ``max_runs`` times (at least once), and the last call's result."""
    times: list[float] = []
    while not times or (sum(times) < min_seconds and len(times) < max_runs):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def best_rate(run: Callable[[], object], count: int, *, min_seconds: float = MIN_SECONDS,
              max_runs: int = MAX_RUNS) -> float:
    """``count`` per second of the fastest call of ``run()`` (:func:`best_of`)."""
    return count / best_of(run, min_seconds=min_seconds, max_runs=max_runs)[0]


def profile_parts(run: Callable[[], object], count: int, parts: dict[str, tuple[str, str]],
                  runs: int = 5) -> dict[str, float]:
    """Seconds per ``count`` spent in each of ``parts`` (label: ``(file, function)``,
    the file matched by the end of its path, e.g. ``("particles/dd.py", "_advance")``),
    callees included, and under ``"total"`` in the whole call: from the fastest
    of ``runs`` profiled calls of ``run()`` (the parts and the total of one call add up)."""
    best: dict[str, float] = {"total": math.inf}
    for _ in range(runs):
        profile = cProfile.Profile()
        start = time.perf_counter()
        profile.runcall(run)
        total = time.perf_counter() - start
        if total / count < best["total"]:
            stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]  # the table pstats keeps
            best = {label: sum(row[3] for (path, _, name), row in stats.items()
                               if name == function and path.replace("\\", "/").endswith(file)) / count
                    for label, (file, function) in parts.items()}
            best["total"] = total / count
    return best
