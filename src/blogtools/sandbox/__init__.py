"""Run untrusted code: Python on Pyodide, in Deno with no permissions, inside bubblewrap;
JavaScript and TypeScript in Deno itself, every permission denied, inside the same bubblewrap.

    sandbox = Sandbox(Limits(cpu_seconds=10), files={"data/in.txt": b"..."}, on_read=lookup)
    with sandbox.unit() as unit:          # one trust unit: a fresh interpreter and JS realm
        result = unit.run("print(open('/data/in.txt').read())")
    result.stdout, result.stderr, result.success, result.timed_out, result.output_files
    with sandbox.unit() as unit:          # steps in one namespace, each judged by the guest script
        result = unit.run_steps([Step("x = 6"), Step("x * 7", mode="single")])
    [step.stdout for step in result.steps]   # ["", "42\n"]
    sandbox.close()

Inside, the code sees ``/data`` (read-only inputs: ``files`` under ``data/``), ``/output``
(writable: ``files`` under ``output/``, returned after every run as ``output_files``) and
``/network/<name>``: a read asks the host, which answers with ``on_read(name)`` (bytes; raise
FileNotFoundError for an unknown name). The sandbox has no network of its own.

Rings (README, "The sandbox"): the OS (bubblewrap: no network, no host files, unprivileged, own
PID namespace, resource limits, a CPU watchdog here), the runtime (Deno with every permission
revoked), the interpreter (no JavaScript object reachable, no ctypes, a fresh interpreter per
unit) and the channel out (``channel.parse`` validates every message). A pre-started spare
process makes a new unit cost a message instead of a Pyodide start.

``Sandbox(limits, language="javascript")`` (or ``"typescript"``, types stripped, not checked):
each run is a fresh ``deno run`` of the code as its main module, with no permission at all (no
files, network, environment, processes or imports beyond Deno's built-ins); ``success`` is its exit
status 0, ``stdout``/``stderr`` what it printed (capped, decoded with replacement). Such a sandbox
takes no files, ``on_read`` or wheels: the code can reach nothing outside itself.
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path

from blogtools.files import write_atomic
from blogtools.sandbox import runtime
from blogtools.sandbox.channel import (
    ProtocolError,
    Read,
    Ready,
    Result,
    check_name,
    parse,
)
from blogtools.sandbox.runtime import (
    Rings,
    SandboxUnavailable,
    missing_parts,
    unavailable_reason,
)

__all__ = ["Limits", "RunResult", "Sandbox", "SandboxUnavailable", "Step", "Unit", "missing_parts", "unavailable_reason",
           "write_output"]

SCRIPT_EXTENSIONS = {"javascript": "js", "typescript": "ts"}  # run by Deno itself, one process a run
LANGUAGES = ("python", *SCRIPT_EXTENSIONS)
STARTUP_SECONDS = 120.0  # loading Pyodide takes ~3 s; this only catches a guest that never starts
IDLE_CPU_SECONDS = 1.0  # CPU a unit may use while no run is going on (none is expected),
IDLE_CPU_SHARE = 0.01  # plus 1% of the idle time, for the runtime's own housekeeping
WATCH_INTERVAL = 0.05
DEADLINE_PASSED = "TimeoutError: the run was stopped at the sandbox's deadline"


@dataclass(frozen=True)
class Limits:
    """Per-run and per-unit bounds. CPU is measured by the host; memory is the WebAssembly heap
    (``MemoryError`` past it) plus ``RLIMIT_DATA`` on the whole process."""

    cpu_seconds: float = 30.0
    wall_seconds: float = 60.0
    memory_mb: int = 512
    stream_chars: int = 1_000_000  # stdout and stderr, each
    output_files: int = 1_000
    output_bytes: int = 64_000_000


@dataclass(frozen=True)
class RunResult:
    """What one run produced; ``timed_out`` means the watchdog stopped it. A run of steps has one
    result each in ``steps`` (stdout, stderr, success; () when the run was stopped before it ended)."""

    stdout: str
    stderr: str
    success: bool
    timed_out: bool = False
    output_files: dict[str, bytes] = field(default_factory=dict)
    steps: tuple[RunResult, ...] = ()
    truncated: bool = False  # (a step's) output cut at the streams' limit


@dataclass(frozen=True)
class Step:
    """One step of a run (``Unit.run_steps``): Python ``code`` compiled as a module (``mode``
    "exec") or as a REPL prompt ("single": an expression's value is printed), named ``filename``
    in tracebacks; a ``quiet`` step's output is not kept (only whether it raised)."""

    code: str
    mode: str = "exec"
    quiet: bool = False
    filename: str = "<exec>"
    exits: bool = False  # sys.exit(0) (SystemExit with code 0 or None) ends it as a success

    def __post_init__(self):
        if not isinstance(self.code, str) or self.mode not in ("exec", "single"):
            raise TypeError("a step is code (str) in mode 'exec' or 'single'")


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class _GuestDied(Exception):
    """The unit's process stopped; the message says why."""


def _memory_bound(limits: Limits) -> int:
    """Bytes a unit may hold in all (its processes' memory, shared memory and tmpfs files)."""
    return (limits.memory_mb + runtime.DATA_OVERHEAD_MB) * 1024 * 1024


def _over_limits(pid: int, limits: Limits, rings: Rings, cpu0: float, wall0: float,
                 deadline: float | None = None) -> str | None:
    """Why a running unit must be stopped (past its CPU, wall time or memory, or the sandbox's
    ``deadline``), or None."""
    if runtime.cpu_seconds(pid) - cpu0 > limits.cpu_seconds:
        return f"TimeoutError: the run used more than {limits.cpu_seconds:g} s of CPU"
    if time.monotonic() - wall0 > limits.wall_seconds:
        return f"TimeoutError: the run took more than {limits.wall_seconds:g} s"
    if rings.memory_watchdog and runtime.unit_memory(pid) > _memory_bound(limits):
        return f"MemoryError: the unit held more than {_memory_bound(limits) >> 20} MB (memory, shared memory and files)"
    if _past(deadline):
        return DEADLINE_PASSED
    return None


class _Guest:
    """One process: bubblewrap around Deno around Pyodide, read through the validated channel."""

    def __init__(self, rt: runtime.Runtime, limits: Limits, rings: Rings,
                 deadline: Callable[[], float | None] = lambda: None):
        self.limits, self.rings = limits, rings
        self._deadline = deadline  # the sandbox's deadline, read as each run goes on
        self._folder = tempfile.TemporaryDirectory(prefix="blogtools-sandbox-")
        self.uid = runtime.take_uid(rings)
        fifo = runtime.make_fifo(Path(self._folder.name), self.uid)
        self._channel = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        # Holding a write end too keeps the FIFO from reading as ended before the guest opens
        # it; the guest's end is seen through its process instead.
        self._keep_open = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        self._buffer = bytearray()
        self._scanned = 0  # bytes of _buffer already known to hold no newline
        command = runtime.deno_command("/runtime/guest.js", limits.memory_mb,
                                       [str(limits.memory_mb), str(limits.stream_chars), rings.guest_knobs()], rings)
        backstop = int(max(600, 20 * limits.cpu_seconds))
        self.proc, self.pid = runtime.start_unit(rt, runtime.runtime_binds(rt, fifo), command, limits.memory_mb, backstop,
                                                 rings, self.uid)
        self.stderr: list[bytes] = []  # diagnostics only, never parsed; bounded
        threading.Thread(target=self._drain, args=(self.proc.stdout,), daemon=True).start()
        threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True).start()
        self.killed_because: str | None = None
        self._phase = "starting"  # starting, idle, running
        self._mark = (0.0, time.monotonic())
        self._lock = threading.Lock()
        threading.Thread(target=self._watch, daemon=True).start()

    def _drain(self, stream) -> None:
        kept = 0
        for chunk in iter(lambda: stream.read1(65536), b""):
            if kept < 65536:
                self.stderr.append(chunk[: 65536 - kept])
                kept += len(chunk)

    def _watch(self) -> None:
        """The host-side CPU watchdog: a run past its CPU or wall time, a start that never ends,
        or CPU used while idle ends the process."""
        while self.proc.poll() is None:
            with self._lock:
                cpu0, wall0 = self._mark
                used, waited = runtime.cpu_seconds(self.pid) - cpu0, time.monotonic() - wall0
                over = self._phase == "running" and _over_limits(self.pid, self.limits, self.rings, cpu0, wall0,
                                                                 self._deadline())
                if over:
                    self._kill(over)
                elif self._phase == "starting" and waited > STARTUP_SECONDS:
                    self._kill(f"the interpreter did not start within {STARTUP_SECONDS:g} s")
                elif self._phase == "idle" and used > IDLE_CPU_SECONDS + IDLE_CPU_SHARE * waited:
                    self._kill(f"the unit used {used:.1f} s of CPU between runs")
            time.sleep(WATCH_INTERVAL)

    def _kill(self, reason: str) -> None:
        if self.killed_because is None:
            self.killed_because = reason
        if self.proc.poll() is None:
            self.proc.kill()

    def set_phase(self, phase: str) -> None:
        with self._lock:
            self._phase = phase
            self._mark = (runtime.cpu_seconds(self.pid), time.monotonic())

    def send(self, message: dict) -> None:
        try:
            self.proc.stdin.write(json.dumps(message).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            raise self._died() from None

    def _died(self) -> _GuestDied:
        self._kill("the channel failed")
        self.proc.wait()
        if self.killed_because == "the channel failed":
            tail = b"".join(self.stderr)[-2000:].decode(errors="replace").strip().splitlines()
            self.killed_because = f"the sandbox process stopped (exit status {self.proc.returncode})"
            errors = [line for line in tail if "rror" in line] or tail
            if errors:
                self.killed_because += f": {errors[0][:300]}"
        return _GuestDied(self.killed_because)

    def receive(self) -> Ready | Read | Result:
        """The next validated message; _GuestDied when the process is gone or lies."""
        limits = self.limits
        max_line = 2 * limits.output_bytes + 8 * limits.stream_chars + 65536
        while True:  # the FIFO gives 64 KiB a read: each byte is scanned and copied once
            newline = self._buffer.find(b"\n", self._scanned)
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[:newline + 1]
                self._scanned = 0
                try:
                    return parse(line, limits.stream_chars, limits.output_files, limits.output_bytes)
                except ProtocolError as exc:
                    self._kill(f"the sandbox sent a message the host refuses: {exc}")
                    raise self._died() from None
            self._scanned = len(self._buffer)
            if len(self._buffer) > max_line:
                self._kill("the sandbox sent a message longer than the limits allow")
                raise self._died()
            ready, _, _ = select.select([self._channel], [], [], 0.2)
            if ready:
                chunk = os.read(self._channel, 1 << 20)
                if not chunk:
                    raise self._died()
                self._buffer += chunk
            elif self.proc.poll() is not None:
                raise self._died()

    def wait_ready(self) -> None:
        message = self.receive()
        if not isinstance(message, Ready):
            self._kill("the sandbox did not start with a ready message")
            raise self._died()
        self.set_phase("idle")

    def close(self) -> None:
        self._kill("the unit ended")
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()
        os.close(self._channel)
        os.close(self._keep_open)
        self._folder.cleanup()
        runtime.give_uid(self.uid)


def _check_files(files: Mapping[str, bytes]) -> dict[str, str]:
    encoded = {}
    for path, data in files.items():
        try:
            check_name(path, "file path")
        except ProtocolError as exc:
            raise ValueError(str(exc)) from None
        if path.partition("/")[0] not in ("data", "output") or "/" not in path:
            raise ValueError(f"file path {path!r}: must be under data/ or output/")
        encoded[path] = _b64(bytes(data))
    return encoded


class Unit:
    """One trust unit: its own interpreter and JavaScript realm. Runs share the unit's files (and
    a unit whose process was stopped continues from them in a fresh one); nothing else carries."""

    def __init__(self, sandbox: Sandbox, files: Mapping[str, bytes]):
        self._sandbox = sandbox
        self._data = {path: bytes(data) for path, data in files.items() if path.startswith("data/")}
        self.output_files = {path[len("output/"):]: bytes(data) for path, data in files.items()
                             if path.startswith("output/")}
        self._guest: _Guest | None = None
        self._runs = 0

    def _start(self) -> _Guest:
        guest = self._sandbox._take_spare()
        files = {**self._data, **{f"output/{name}": data for name, data in self.output_files.items()}}
        guest.send({"type": "unit", "files": _check_files(files), "wheels": self._sandbox._wheels})
        return guest

    def run(self, code: str, limits: Limits | None = None) -> RunResult:
        """Run ``code`` in this unit; a stopped run fails and the next one gets a fresh process.
        ``limits`` (CPU and wall time only) replace the sandbox's for this run alone."""
        if not isinstance(code, str):
            raise TypeError("code must be a str")
        if self._sandbox.language in SCRIPT_EXTENSIONS:
            return _run_script(self._sandbox, code)
        return self._run({"code": code}, None, limits)

    def run_steps(self, steps: Sequence[Step]) -> RunResult:
        """Run ``steps`` one after another in one fresh namespace of this unit, each whether or
        not the one before raised; each step's stdout, stderr and success are what the guest
        script (outside Python's reach) saw of it, in ``steps``; the run's success is every step's."""
        if self._sandbox.language in SCRIPT_EXTENSIONS:
            raise ValueError(f"a {self._sandbox.language} unit runs code, not steps")
        steps = list(steps)
        if not steps or not all(isinstance(step, Step) for step in steps):
            raise TypeError("steps must be one Step or more")
        return self._run({"steps": [{"code": step.code, "mode": step.mode, "quiet": step.quiet,
                                     "filename": step.filename, "exits": step.exits} for step in steps]}, len(steps))

    def _run(self, run: dict, steps: int | None, limits: Limits | None = None) -> RunResult:
        self._runs += 1
        try:
            if self._guest is None:
                self._guest = self._start()
            guest = self._guest
            guest.limits = limits or self._sandbox.limits
            guest.set_phase("running")
            guest.send({"type": "run", "id": self._runs, **run})
            while True:
                message = guest.receive()
                if isinstance(message, Read):
                    guest.send(self._sandbox._answer_read(message.name))
                elif isinstance(message, Result) and message.id == self._runs and (
                        steps is None if message.steps is None else len(message.steps) == steps):
                    break
                else:
                    guest._kill(f"the sandbox sent an unexpected {type(message).__name__.lower()} message")
                    raise guest._died()
        except _GuestDied as exc:
            self._discard()
            timed_out = str(exc).startswith("TimeoutError")
            return RunResult("", f"{exc}\n", False, timed_out, dict(self.output_files))
        guest.set_phase("idle")
        if not message.settled:  # its garbage would carry into the next run: that one starts afresh
            self._discard()
        self.output_files = message.output
        steps_done = tuple(RunResult(step.stdout, step.stderr, step.success, truncated=step.truncated)
                           for step in message.steps or ())
        return RunResult(message.stdout, message.stderr, message.success, False, dict(message.output), steps_done)

    def _discard(self) -> None:
        if self._guest is not None:
            self._guest.close()
            self._guest = None

    def close(self) -> None:
        """End the unit: its process is killed, nothing of it runs any more."""
        self._discard()

    def __enter__(self) -> Unit:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Sandbox:
    """Makes trust units with the same limits, files and ``on_read``; keeps one spare started."""

    def __init__(
        self,
        limits: Limits = Limits(),
        files: Mapping[str, bytes] | None = None,
        on_read: Callable[[str], bytes] | None = None,
        wheels: Iterable[bytes] = (),
        language: str = "python",
        rings: Rings = Rings(),
    ):
        """``rings`` is internal: a test of the self-check switches one part off with it."""
        if language not in LANGUAGES:
            raise SandboxUnavailable(f"no {language} guest (available: {', '.join(LANGUAGES)})")
        self.language = language
        self.rings = rings
        self.limits = limits
        self.files = dict(files or {})
        _check_files(self.files)
        self.on_read = on_read
        self._wheels = [_b64(bytes(w)) for w in wheels]
        if language in SCRIPT_EXTENSIONS and (self.files or on_read or self._wheels):
            raise ValueError(f"a {language} sandbox takes no files, on_read or wheels: its code reaches nothing")
        self._runtime = runtime.prepare()
        self._spare: Future | None = None
        self._closed = False
        self.deadline: float | None = None  # time.monotonic() past which any run is stopped (a caller's budget)
        if language == "python":
            self._refill()

    def _start_guest(self, future: Future) -> None:
        try:
            guest = _Guest(self._runtime, self.limits, self.rings, lambda: self.deadline)
            try:
                guest.wait_ready()
            except _GuestDied as exc:
                guest.close()
                raise SandboxUnavailable(f"the interpreter did not start: {exc}") from None
            future.set_result(guest)
        except BaseException as exc:  # handed to whoever takes the spare
            future.set_exception(exc)

    def _refill(self) -> None:
        self._spare = Future()
        threading.Thread(target=self._start_guest, args=(self._spare,), daemon=True).start()

    def _take_spare(self) -> _Guest:
        if self._closed:
            raise RuntimeError("the sandbox is closed")
        wait = None if self.deadline is None else max(0.0, self.deadline - time.monotonic())
        try:
            spare = self._spare.result(wait)
        except FutureTimeout:  # the caller's deadline came first: the spare stays for the next unit
            raise _GuestDied(DEADLINE_PASSED) from None
        except BaseException:
            self._refill()
            raise
        self._refill()  # the next spare starts once this one is taken, not competing with its start
        if spare.proc.poll() is None:
            return spare
        spare.close()  # stopped while it waited (the watchdog): take the next one
        return self._take_spare()

    def _answer_read(self, name: str) -> dict:
        """The host's answer to a read of /network/<name>: on_read's bytes, or why not."""
        if self.on_read is None:
            return {"type": "read-reply", "ok": False, "missing": True, "error": "no such resource"}
        try:
            data = bytes(self.on_read(name))
        except FileNotFoundError as exc:
            return {"type": "read-reply", "ok": False, "missing": True, "error": str(exc) or "no such resource"}
        except Exception as exc:  # the reader's failure is the run's I/O error, not the host's
            return {"type": "read-reply", "ok": False, "missing": False, "error": f"{type(exc).__name__}: {exc}"}
        return {"type": "read-reply", "ok": True, "data": _b64(data)}

    def unit(self, files: Mapping[str, bytes] | None = None) -> Unit:
        """A fresh trust unit (from the spare), with the sandbox's files updated by ``files``."""
        if files and self.language in SCRIPT_EXTENSIONS:
            raise ValueError(f"a {self.language} unit takes no files")
        return Unit(self, {**self.files, **(files or {})})

    def run(self, code: str) -> RunResult:
        """Run ``code`` in a unit of its own."""
        with self.unit() as unit:
            return unit.run(code)

    def close(self) -> None:
        """Stop the spare; units already made end on their own ``close``."""
        self._closed = True
        if self._spare is not None:  # stopped as soon as it has started, without waiting for it
            self._spare.add_done_callback(lambda spare: spare.exception() is None and spare.result().close())

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _read_capped(stream, cap: int, into: list[bytes]) -> None:
    """Read ``stream`` to its end, keeping its first ``cap`` bytes."""
    kept = 0
    for chunk in iter(lambda: stream.read1(65536), b""):
        if kept < cap:
            into.append(chunk[: cap - kept])
            kept += len(chunk)


def _run_script(sandbox: Sandbox, code: str) -> RunResult:
    """One JavaScript or TypeScript run: a fresh Deno process in the OS ring, every permission
    denied, the code on stdin; the host watches its CPU and wall time and caps what it prints."""
    if sandbox._closed:
        raise RuntimeError("the sandbox is closed")
    limits, rt, rings = sandbox.limits, sandbox._runtime, sandbox.rings
    command = runtime.script_command(SCRIPT_EXTENSIONS[sandbox.language], limits.memory_mb, rings)
    uid = runtime.take_uid(rings)
    try:
        proc, pid = runtime.start_unit(rt, runtime.script_binds(rt), command, limits.memory_mb,
                                       int(max(600, 20 * limits.cpu_seconds)), rings, uid)
    except BaseException:
        runtime.give_uid(uid)
        raise
    streams: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
    cap = 4 * limits.stream_chars  # bytes: a character is at most four in UTF-8
    readers = [threading.Thread(target=_read_capped, args=(getattr(proc, name), cap, streams[name]), daemon=True)
               for name in streams]
    readers.append(threading.Thread(target=_write_stdin, args=(proc.stdin, code.encode()), daemon=True))
    for reader in readers:
        reader.start()
    started, killed = time.monotonic(), None
    while killed is None:
        try:
            proc.wait(WATCH_INTERVAL)
            break
        except subprocess.TimeoutExpired:
            killed = _over_limits(pid, limits, rings, 0.0, started, sandbox.deadline)
    proc.kill()
    proc.wait()
    runtime.give_uid(uid)
    for reader in readers:
        reader.join(5)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        stream.close()
    stdout, stderr = (b"".join(streams[name]).decode(errors="replace")[: limits.stream_chars] for name in streams)
    if killed:
        return RunResult(stdout, f"{stderr}\n{killed}\n", False, killed.startswith("TimeoutError"))
    return RunResult(stdout, stderr, proc.returncode == 0)


def _write_stdin(stream, data: bytes) -> None:
    try:
        stream.write(data)
        stream.close()
    except (BrokenPipeError, OSError, ValueError):  # the process ended before reading it all
        pass


def write_output(files: Mapping[str, bytes], directory: Path) -> list[Path]:
    """Copy a run's output files into ``directory`` (each name checked again, writes atomic)."""
    written = []
    for relative, content in sorted(files.items()):
        check_name(relative)
        write_atomic(directory / relative, content)
        written.append(directory / relative)
    return written
