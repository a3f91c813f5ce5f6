"""A Python sandbox as the 2025-10-17 essay builds it: Pyodide in a Node worker thread.

``Sandbox.execute_python(code)`` runs code in CPython-on-WebAssembly and returns its stdout,
stderr and success. The interpreter sees a virtual file system: ``/network/<name>`` (read-only;
each first read of a name asks this process, which fetches the URL the allowlist names, with the
blocking ``blogtools.syncfetch``), ``/output`` (writable; its files come back after each run) and
``/data`` (read-only inputs). The code has no sockets and no host files: Pyodide has no network
stack and the worker no ``fetch``, ``WebSocket`` or ``XMLHttpRequest``; its ``js`` module is an
empty object; ``pyodide_js`` and its submodules (the Pyodide API: package loading, file system
mounts) are unregistered, with ``loadPackage`` and the host file systems removed behind them;
Node runs with code generation from strings disallowed and its permission model allowing reads
of the Pyodide files only. A run past the time limit terminates the worker (a fresh interpreter
starts for the next run; ``timed_out`` tells a timeout from a crash); the WebAssembly heap and
the worker's JavaScript heap are bounded.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import subprocess
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from blogtools.errors import BlogtoolsError
from blogtools.files import write_atomic
from blogtools.node import NODE, node_env
from blogtools.syncfetch import FetchError, fetch

HOST_JS = Path(__file__).with_name("pyodide_host.js")
DEFAULT_TIME_LIMIT = 30.0
DEFAULT_MEMORY_LIMIT_MB = 512
STARTUP_LIMIT = 120.0  # loading Pyodide takes ~4-10 s; this only catches a host that never starts


@dataclass(frozen=True)
class ExecutionResult:
    """What one ``execute_python`` call produced; ``timed_out`` means the worker was terminated."""

    stdout: str
    stderr: str
    success: bool
    timed_out: bool = False

    def as_tool_result(self) -> dict:
        """The tool result the agent loop shows the model (as in the essay's transcript)."""
        return {"stdout": self.stdout, "stderr": self.stderr, "success": self.success}


def _project_file(relative: str, env_var: str) -> Path:
    """Find ``relative`` under $env_var, the working directory or a parent of this package."""
    if os.environ.get(env_var):
        path = Path(os.environ[env_var])
        if not path.exists():
            raise BlogtoolsError(f"{path} (from ${env_var}): no such directory")
        return path
    for base in [Path.cwd(), *Path(__file__).resolve().parents]:
        if (base / relative).exists():
            return base / relative
    raise BlogtoolsError(f"{relative} not found (set {env_var}, or run `make test` to install it)")


def pyodide_dir() -> Path:
    """The npm ``pyodide`` package the set-up installed (``node_modules/pyodide``)."""
    return _project_file("node_modules/pyodide", "BLOGTOOLS_PYODIDE_DIR")


def default_wheels() -> list[Path]:
    """The pure-Python wheels the set-up downloaded into ``.cache/wheels`` (pypng)."""
    return sorted(_project_file(".cache/wheels", "BLOGTOOLS_WHEEL_DIR").glob("*.whl"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _read_stdout(proc: subprocess.Popen, messages: queue.Queue, stderr: list[str]) -> None:
    # None marks the end, also when a line is not JSON, so no caller waits out its timeout.
    try:
        for line in proc.stdout:
            messages.put(json.loads(line))
    except ValueError:
        stderr.append(f"a line on its stdout is not a JSON message: {line.strip()[:200]}\n")
    finally:
        messages.put(None)


def _read_stderr(proc: subprocess.Popen, stderr: list[str]) -> None:
    for line in proc.stderr:
        stderr.append(line)


class _HostDied(BlogtoolsError):
    """The Node host process stopped."""


class Sandbox:
    """One Node process hosting one Pyodide worker; use as a context manager or call ``close``."""

    def __init__(
        self,
        resources: Mapping[str, str] | None = None,
        data: Mapping[str, bytes] | None = None,
        wheels: Iterable[Path] | None = None,
        time_limit: float = DEFAULT_TIME_LIMIT,
        memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB,
        fetch_timeout: float = 10.0,
    ):
        self.resources = dict(resources or {})
        self.output: dict[str, bytes] = {}
        self.time_limit = time_limit
        self.fetch_timeout = fetch_timeout
        self._runs = 0
        self._pyodide = pyodide_dir().resolve()
        self._init = {
            "type": "init", "pyodideDir": str(self._pyodide), "timeLimitMs": int(time_limit * 1000),
            "memoryLimitMb": memory_limit_mb,
            "data": {path: _b64(content) for path, content in (data or {}).items()},
            "wheels": [_b64(Path(w).read_bytes()) for w in (default_wheels() if wheels is None else wheels)],
        }
        self._start()

    def _start(self) -> None:
        """Start the Node host and wait until its Pyodide is ready."""
        host_js = HOST_JS.resolve()
        self._proc = subprocess.Popen(
            [
                str(NODE), "--disallow-code-generation-from-strings", "--permission",
                "--allow-worker", f"--allow-fs-read={self._pyodide}", f"--allow-fs-read={host_js}",
                str(host_js),
            ],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=node_env(), text=True, encoding="utf-8",
        )
        # Each process gets its own queue and stderr list: a dead one's threads cannot mix in.
        self._messages: queue.Queue = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(target=_read_stdout, args=(self._proc, self._messages, self._stderr), daemon=True).start()
        self._stderr_reader = threading.Thread(target=_read_stderr, args=(self._proc, self._stderr), daemon=True)
        self._stderr_reader.start()
        try:
            self._send(self._init)
            self._expect_ready()
        except BaseException:
            self.close()
            raise

    def _send(self, message: dict) -> None:
        try:
            self._proc.stdin.write(json.dumps(message) + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise self._host_died() from None

    def _host_died(self) -> _HostDied:
        if self._proc.poll() is not None:
            self._stderr_reader.join(5)  # the process is gone: let the reader take its last words
        fatal = [line.strip() for line in self._stderr if line.startswith("FATAL ERROR")]
        detail = (fatal[-1] if fatal else "".join(self._stderr[-20:]).strip()) or f"exit status {self._proc.poll()}"
        return _HostDied(f"sandbox: the Pyodide host process stopped: {detail}")

    def _next(self, timeout: float) -> dict:
        try:
            message = self._messages.get(timeout=timeout)
        except queue.Empty:
            self.close()
            raise BlogtoolsError(f"sandbox: the Pyodide host did not answer within {timeout:g} s") from None
        if message is None:
            self.close()
            raise self._host_died()
        if message["type"] == "failed":
            raise BlogtoolsError(f"sandbox: Pyodide failed to start: {message['error']}")
        return message

    def _expect_ready(self) -> None:
        message = self._next(STARTUP_LIMIT)
        if message["type"] != "ready":
            raise BlogtoolsError(f"sandbox: unexpected message from the host: {message['type']}")

    def _resolve(self, name: str) -> dict:
        """Answer a /network/<name> read from the allowlist; the sandbox never sees the URL."""
        url = self.resources.get(name)
        if url is None:
            allowed = ", ".join(sorted(self.resources)) or "none"
            return {"ok": False, "error": f"no such resource (allowed: {allowed})"}
        try:
            return {"ok": True, "data": _b64(fetch(url, timeout=self.fetch_timeout))}
        except FetchError as exc:
            return {"ok": False, "error": f"fetch failed: {exc}"}

    def execute_python(self, code: str) -> ExecutionResult:
        """Run ``code`` in the sandbox; /output's files afterwards are in ``self.output``."""
        self._runs += 1
        run_id = self._runs
        try:
            self._send({"type": "run", "id": run_id, "code": code,
                        "output": {path: _b64(content) for path, content in self.output.items()}})
            while True:
                # The host enforces the time limit; a restart after a timeout also reloads Pyodide.
                message = self._next(self.time_limit + STARTUP_LIMIT)
                if message["type"] == "fetch":
                    self._send({"type": "fetched", "id": message["id"], **self._resolve(message["name"])})
                elif message["type"] == "result" and message["id"] == run_id:
                    break
                # A "ready" here announces the fresh worker after a timeout or crash: nothing to do.
        except _HostDied as exc:
            # V8 ends the whole process, not just the worker, when one huge JavaScript allocation
            # passes the worker's heap limit: the run fails and a fresh host serves the next one.
            self._start()
            return ExecutionResult("", f"{exc}; a fresh interpreter started\n", False)
        self.output = {path: base64.b64decode(data) for path, data in message["output"].items()}
        return ExecutionResult(message["stdout"], message["stderr"], message["success"], message["timedOut"])

    def close(self) -> None:
        """Stop the Node process."""
        if self._proc.poll() is None:
            self._proc.stdin.close()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_output(files: Mapping[str, bytes], directory: Path) -> list[Path]:
    """Copy /output files into ``directory`` (each written to a temp file, then replaced)."""
    written = []
    for relative, content in sorted(files.items()):
        write_atomic(directory / relative, content)
        written.append(directory / relative)
    return written
