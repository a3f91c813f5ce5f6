"""A TCP listener on 127.0.0.1 that counts connections: the sandbox tests' proof that nothing got out."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def tcp_listener() -> Iterator[tuple[int, list[int]]]:
    """A TCP server on 127.0.0.1 that accepts and counts connections: (port, hits)."""
    server = socket.create_server(("127.0.0.1", 0))
    hits: list[int] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            hits.append(1)
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield server.getsockname()[1], hits
    finally:
        server.close()
