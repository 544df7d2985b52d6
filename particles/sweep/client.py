"""The sweep on the Dask client: :func:`run_sweep`.

The client connects to a scheduler (or starts a local cluster of worker
processes), submits the runs the :class:`~particles.sweep.store.ResultStore`
lacks, stores each result as it arrives, and writes the report at the end. A
failed run is reported with its name while the others go on; the sweep then
raises :class:`~particles.sweep.schema.SweepError` listing the failures (the
results saved so far stay, and the next start retries only the failures).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from .report import write_report
from .schema import Sweep, SweepError, run_name
from .store import ResultStore
from .tasks import run_one

__all__ = ["dask_client", "run_sweep"]


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int | None, timeout: float) -> Iterator[Any]:
    """A Dask client of the scheduler at ``scheduler``, or of a local cluster of
    ``workers`` processes (default one per core) started for the duration."""
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError, ValueError) as err:
            raise SweepError(f"could not reach the Dask scheduler at {scheduler}: {err}. Start one with "
                             f"`dask scheduler` (and `dask worker {scheduler}`), or leave out --scheduler "
                             f"to run on a local cluster") from None
        with client:
            yield client
        return
    count = workers or os.cpu_count() or 1
    with LocalCluster(n_workers=count, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


def run_sweep(sweep: Sweep, *, scheduler: str | None = None, workers: int | None = None,
              echo: Callable[[str], None] = print, connect_timeout: float = 20.0) -> dict[str, Any]:
    """Run what is missing of ``sweep`` on Dask, then write the report; returns
    ``{"runs": [...], "slopes": [...]}`` (the rows of ``runs.csv``, ``slopes.csv``).
    ``scheduler``: the address of an existing Dask scheduler (else a local
    cluster of ``workers`` processes is started for the sweep)."""
    store = ResultStore(sweep).open()
    todo = store.missing()
    total = len(sweep.runs())
    where = scheduler or f"a local cluster of {workers or os.cpu_count() or 1} worker processes"
    echo(f"{sweep.crosscheck} sweep: {total} runs, {total - len(todo)} done before, {len(todo)} to run"
         + (f" on {where}" if todo else ""))
    failures: list[str] = []
    if todo:
        from dask.distributed import as_completed

        with dask_client(scheduler, workers, connect_timeout) as client:
            futures = {client.submit(run_one, sweep.crosscheck, sweep.base, p, pure=False): p for p in todo}
            for done, future in enumerate(as_completed(futures), 1):
                params = futures[future]
                try:
                    metrics = future.result()
                except Exception as err:  # noqa: BLE001 - reported with its run, the others go on
                    failures.append(f"{run_name(params)}: {type(err).__name__}: {err}")
                    echo(f"[{done}/{len(todo)}] {run_name(params)} FAILED: {err}")
                    continue
                store.save(params, metrics)
                shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
                echo(f"[{done}/{len(todo)}] {run_name(params)}: {shown}")
    report = write_report(sweep, store.rows())
    if failures:
        raise SweepError(f"{len(failures)} of {len(todo)} runs failed (the others are saved; run the sweep again "
                         f"to retry them):\n  " + "\n  ".join(failures))
    return report
