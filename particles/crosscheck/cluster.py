"""Where the runs of a cross-check or a sweep go: a Dask client.

By default a local cluster in this process (:func:`local_cluster`): one worker
with a thread per core. The engine's compiled kernels and POT's transport
release the GIL, so threads run in parallel; numba compiles each kernel once
for all of them, and nothing is copied between processes. A user or a sweep
can instead pass a client of a real cluster, or the address of its scheduler
(its workers need fempde installed, and the files the runs read or write —
meshes, checkpoints — at the same paths).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["CONNECT_TIMEOUT", "ClusterError", "connect", "default_workers", "local_cluster", "open_client"]

CONNECT_TIMEOUT = 20.0
"""Seconds to wait for a scheduler given by its address."""


class ClusterError(ValueError):
    """A scheduler that cannot be reached; the message says how to start one."""


def default_workers() -> int:
    """The threads of the default local cluster: the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def local_cluster(workers: int | None = None) -> Iterator[Any]:
    """A client of an in-process cluster of one worker with ``workers`` threads (default:
    :func:`default_workers`), closed on exit."""
    from dask.distributed import Client, LocalCluster

    count = workers or default_workers()
    if count < 1:
        raise ValueError(f"workers must be >= 1, got {count}")
    # dashboard on a free port (None still asks for 8787, and warns when another cluster holds it)
    with LocalCluster(n_workers=1, threads_per_worker=count, processes=False, dashboard_address=":0",
                      worker_dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        yield client


def connect(scheduler: str, timeout: float = CONNECT_TIMEOUT) -> Any:
    """A client of the Dask scheduler at ``scheduler`` (``tcp://host:port`` or ``host:port``),
    or a :class:`ClusterError` within about ``timeout`` seconds: for an address that does not
    parse, a server that is not there, and a server that answers but is not a Dask scheduler
    (whatever it sends, or if it never answers).

    The client is made on a daemon thread so that a server that accepts the connection and
    then says nothing cannot hold the caller past ``timeout`` (Dask's own timeout covers the
    connection, not every read of its handshake)."""
    import threading

    if not isinstance(scheduler, str) or not re.fullmatch(r"(tcp://)?[\w.\-\[\]:]+:\d{1,5}", scheduler):
        raise ClusterError(f"the scheduler address {scheduler!r} is not tcp://HOST:PORT (for example "
                           f"tcp://10.0.0.5:8786, as `dask scheduler` prints it)")
    outcome: dict[str, Any] = {}

    def make() -> None:
        from dask.distributed import Client

        try:
            outcome["client"] = Client(scheduler, timeout=timeout)
        except BaseException as err:  # noqa: BLE001 - any answer of a non-Dask server, reported below
            outcome["error"] = err

    thread = threading.Thread(target=make, name=f"connect {scheduler}", daemon=True)
    thread.start()
    thread.join(timeout + 5.0)
    hint = (f"Start one with `dask scheduler` (and `dask worker {scheduler}`), or leave out --scheduler to run on "
            "this machine's cores")
    if thread.is_alive():
        raise ClusterError(f"the server at {scheduler} did not answer as a Dask scheduler within {timeout:g} s. "
                           + hint)
    err = outcome.get("error")
    if isinstance(err, (OSError, TimeoutError)):
        raise ClusterError(f"could not reach the Dask scheduler at {scheduler}: {err}. " + hint) from None
    if err is not None:
        raise ClusterError(f"the server at {scheduler} is not a Dask scheduler (its answer gave "
                           f"{type(err).__name__}: {str(err)[:200]}). " + hint) from None
    return outcome["client"]


@contextlib.contextmanager
def open_client(client: Any = None, *, scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """``client`` as given (left open), or a client of the scheduler at ``scheduler``, or of a
    :func:`local_cluster` of ``workers`` threads (both closed on exit)."""
    if client is not None:
        yield client
        return
    if scheduler is not None:
        remote = connect(scheduler)
        with remote:
            yield remote
        return
    with local_cluster(workers) as local:
        yield local
