"""A scheduler address that is not a Dask scheduler: a clear ClusterError, in bounded time."""

import socket
import threading
import time

import pytest

from particles.crosscheck.cluster import ClusterError, connect


def _server(reply: bytes | None):
    """A local TCP server that answers every connection with ``reply`` (None: says nothing)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    held = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)
            if reply is not None:
                conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    return listener, f"tcp://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("reply", [b"\xff" * 64, b"HTTP/1.1 200 OK\r\n\r\nhello", None],
                         ids=["a frame of 2^64 bytes", "an HTTP server", "silent"])
def test_a_server_that_is_not_a_scheduler_is_named(reply):
    listener, address = _server(reply)
    start = time.perf_counter()
    with pytest.raises(ClusterError, match="(is not a Dask scheduler|did not answer as a Dask scheduler|could not "
                                           "reach)") as refused:
        connect(address, timeout=2.0)
    listener.close()
    assert time.perf_counter() - start < 12.0
    assert address in str(refused.value) and "dask scheduler" in str(refused.value)


@pytest.mark.parametrize("address", ["", "localhost", "http://x:1", "tcp://host:port", "tcp://h:1; rm -rf /"])
def test_an_address_that_does_not_parse_is_refused_at_once(address):
    with pytest.raises(ClusterError, match="is not tcp://HOST:PORT"):
        connect(address, timeout=1.0)


def test_a_closed_port_is_not_reached():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(ClusterError, match="could not reach the Dask scheduler|is not a Dask scheduler"):
        connect(f"tcp://127.0.0.1:{port}", timeout=2.0)
