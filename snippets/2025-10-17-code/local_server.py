"""A small HTTP server on 127.0.0.1 for this essay's sync-fetch and agent tests.

Routes: ``/body/<x>`` answers ``body <x>``; ``/status/<n>`` answers HTTP n; ``/hang`` never answers
(until the server closes); ``/barrier/<x>`` answers ``body <x>`` only once ``barrier_parties``
requests are in flight at the same time, which proves the callers run concurrently; ``/ip``
answers ``ip_address`` and counts its hits in ``ip_hits``; ``ip_gate``, when set, is a list of
(hit number, threading.Event to set, threading.Event to wait for) so a test can act while a given
lookup is parked.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, barrier_parties: int = 20, ip_address: str = "255.255.255.255"):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.barrier = threading.Barrier(barrier_parties, timeout=15)
        self.closing = threading.Event()
        self.ip_address = ip_address
        self.ip_hits = 0
        self.ip_gate: list[tuple[int, threading.Event, threading.Event]] = []
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.closing.set()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: LocalServer

    def log_message(self, *args):
        pass

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        server = self.server
        with server._lock:
            server.requests.append(self.path)
        _, route, *rest = self.path.split("/", 2) + [""]
        arg = rest[0] if rest else ""
        if route == "body":
            self._answer(200, f"body {arg}".encode())
        elif route == "status":
            self._answer(int(arg), f"status {arg}".encode())
        elif route == "hang":
            server.closing.wait(60)
        elif route == "barrier":
            server.barrier.wait()
            self._answer(200, f"body {arg}".encode())
        elif route == "ip":
            with server._lock:
                server.ip_hits += 1
                hit = server.ip_hits
            for gate_hit, arrived, release in server.ip_gate:
                if gate_hit == hit:
                    arrived.set()
                    release.wait(60)
            self._answer(200, server.ip_address.encode())
        else:
            self._answer(404, b"no such route")
