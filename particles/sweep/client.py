"""The sweep on a Dask client: :func:`run_sweep`.

For each value of the swept parameter (or once, when none is swept) the sweep
runs the cross-check of the file at that value (:func:`particles.crosscheck`)
on one client — a local cluster, or an existing one — so every SGD run of the
grid is a task there; the limit is solved once per value. Each finished
cross-check is stored as it completes (:class:`~particles.sweep.store.ResultStore`),
and the report is written at the end (:mod:`~particles.sweep.report`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..crosscheck import crosscheck, open_client
from .report import write_report
from .schema import Sweep
from .store import ResultStore, value_label

__all__ = ["run_sweep"]


def run_sweep(sweep: Sweep, *, scheduler: str | None = None, workers: int | None = None, client: Any = None,
              echo: Callable[[str], None] = print, progress: bool = True) -> dict[str, Any]:
    """Run what is missing of ``sweep``, then write the report; returns ``{"rows": [...],
    "slopes": [...], "resolved": bool}`` (the rows of ``runs.csv`` and ``slopes.csv``)."""
    store = ResultStore(sweep).open()
    todo = store.missing()
    points = sweep.points
    runs = len(sweep.n) * len(sweep.epsilon) * len(sweep.seeds)
    what = f"{sweep.parameter} = " if sweep.parameter else ""
    echo(f"sweep of {sweep.name}: {len(points)} cross-check{'s' if len(points) > 1 else ''} of {runs} runs, "
         f"{len(points) - len(todo)} done before, {len(todo)} to run")
    if todo:
        with open_client(client, scheduler=scheduler, workers=workers) as dask:
            for value in todo:
                setting = sweep.crosscheck(value)
                folder = store.checkpoints(value)
                check = crosscheck(setting.model, setting.n, setting.epsilon, setting.t_end, **setting.keywords(),
                                   client=dask, progress=progress, checkpoints=folder, resume=True)
                store.save(value, check)
                verdict = "resolved" if check.resolved("risk") is not False else "NOT resolved"
                echo(f"{what}{value_label(value)}: sup risk gap {check.sup('risk').min():.3g} to "
                     f"{check.sup('risk').max():.3g} over {len(check.runs)} runs, the limit's risk error "
                     f"{check.limit_error('risk')[1:].max():.2g} ({verdict})")
    return write_report(sweep, store.results())
