"""A local server speaking the Anthropic Messages API, answered by a backend.

``POST /v1/messages`` is answered with the backend's response as JSON, or as Server-Sent Events
when the request says ``"stream": true``. A backend raising ``BackendError`` (e.g.
``ScriptMismatch``) becomes an HTTP error with its message; any other exception a 500 that the SDK
will not retry. Either way the message is also kept in ``server.errors`` so a test cannot miss it.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from blogtools.harness.llm.backends import Backend, BackendError, ScriptedBackend
from blogtools.harness.llm.expectations import Turn
from blogtools.harness.llm.sse import sse_events

REQUIRED_RESPONSE_KEYS = ("id", "type", "role", "model", "content", "stop_reason", "usage")


def local_client(base_url: str):
    """An ``anthropic.Anthropic`` client for a local Messages API server at ``base_url``."""
    import anthropic

    return anthropic.Anthropic(base_url=base_url, api_key="local", max_retries=0)


class MessagesServer:
    """``POST /v1/messages`` on 127.0.0.1 at an ephemeral port, answered by ``backend``.

    Use as a context manager (or call :meth:`start` / :meth:`close`). ``base_url`` is what the SDK
    takes; ``requests`` holds every request body received, in order, and ``request_sizes`` their
    sizes in bytes as sent; ``errors`` the message of every request that failed. ``backend`` may
    be replaced between requests.
    """

    def __init__(self, backend: Backend, host: str = "127.0.0.1", port: int = 0):
        self.backend = backend
        self.requests: list[dict] = []
        self.request_sizes: list[int] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: what to pass to ``anthropic.Anthropic(base_url=...)``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def client(self):
        """The real ``anthropic`` SDK pointed at this server (no retries: a failure shows at once)."""
        return local_client(self.base_url)

    def start(self) -> MessagesServer:
        """Serve requests on a background thread (idempotent); returns the server."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, name="messages-server", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> MessagesServer:
        return self.start()

    def script(self, turns: list[Turn]) -> ScriptedBackend:
        """Replace the backend with a :class:`ScriptedBackend` replaying ``turns``; return it."""
        self.backend = ScriptedBackend(turns)
        return self.backend

    def __exit__(self, *exc_info) -> None:
        self.close()

    def answer(self, request: dict, size: int) -> dict:
        """Record ``request`` (``size`` bytes on the wire) and return the backend's checked
        response; raises on failure."""
        with self._lock:
            self.requests.append(copy.deepcopy(request))
            self.request_sizes.append(size)
        missing = [key for key in ("model", "max_tokens", "messages") if key not in request]
        if missing:
            raise BackendError(f"request lacks {', '.join(missing)}")
        response = self.backend.respond(copy.deepcopy(request))
        absent = [key for key in REQUIRED_RESPONSE_KEYS if key not in response]
        if absent:
            raise RuntimeError(f"backend {type(self.backend).__name__} returned a response without {', '.join(absent)}")
        return response

    def record_error(self, message: str) -> None:
        """Keep a failure in ``errors`` so that a test sees it even if the client swallowed it."""
        with self._lock:
            self.errors.append(message)


def _handler_for(server: MessagesServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # the test output is no place for an access log
            pass

        def do_POST(self):
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            if self.path.split("?")[0] != "/v1/messages":
                return self._error(404, "not_found_error", f"no such endpoint: POST {self.path}")
            try:
                request = json.loads(raw)
            except ValueError as exc:
                return self._error(400, "invalid_request_error", f"request body is not JSON: {exc}")
            try:
                response = server.answer(request, len(raw))
            except BackendError as exc:
                return self._error(exc.status, exc.error_type, str(exc))
            except Exception as exc:  # a broken backend: answer, and keep the message for the test
                return self._error(500, "api_error", f"{type(exc).__name__}: {exc}")
            if request.get("stream"):
                self._stream(response)
            else:
                self._send(200, "application/json", json.dumps(response).encode())

        def do_GET(self):
            self._error(404, "not_found_error", f"no such endpoint: GET {self.path}")

        def _send(self, status: int, content_type: str, body: bytes, retry: bool | None = None):
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.send_header("request-id", f"req_{uuid.uuid4().hex[:24]}")
            if retry is not None:
                self.send_header("x-should-retry", "true" if retry else "false")
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, error_type: str, message: str):
            server.record_error(message)
            body = {"type": "error", "error": {"type": error_type, "message": message}}
            self._send(status, "application/json", json.dumps(body).encode(), retry=False)

        def _stream(self, response: dict):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("connection", "close")
            self.end_headers()
            self.close_connection = True
            for event, data in sse_events(response):
                self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()

    return Handler
