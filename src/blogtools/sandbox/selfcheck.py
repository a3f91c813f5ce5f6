"""The sandbox's self-check: canary attacks against each ring, on the first unit of a batch, before
any block runs in it (no extra sandbox start), so no verdict ever comes from a sandbox with a ring
missing.

    with Sandbox(triage.LIMITS) as sandbox, sandbox.unit() as unit:
        for state in rings(unit):            # RingState("os", True, "..."), one per ring
            print(state.line())
    check_unit(unit)                         # the same, raising SelfCheckFailed at the first ring that fails

The rings and their canaries (the README's "The sandbox"):
- ``channel``: forged messages (an absolute path, ``..``, more bytes than allowed, not JSON) fed to
  the host's validator, which must refuse each; no process needed.
- ``runtime``: Deno's permissions and the import map. guest.js tries to read, write, connect, run,
  read the environment and import a ``file:`` URL right after revoking them, before any code is
  given, and stops the start if one works; a unit that does not start fails this ring.
- ``os``: bubblewrap, the resource limits and the host's watchdog, seen by the host in ``/proc`` of
  the unit's process: its own namespaces (none shared with the host), user.max_user_namespaces 1
  in the user namespace above its own (``--disable-userns``), no capabilities, no_new_privs, a
  seccomp filter, a bounded data size, not root (as root: a uid of its own from
  ``runtime.UNIT_UIDS``), its mounts (no host ``/usr``, no ``/proc``, ``/tmp`` and ``/dev/shm``
  sized, ``/dev`` read-only), and the watchdog's own decision on the unit's measured memory
  against a bound of 0.
- ``interpreter``: guest.js stops the start if the realm's prototypes are not frozen; then Python
  run in the unit before any block: no import of ``js``, ``pyodide_js``, ``ctypes`` or the FFI
  works, no JavaScript object (a JsProxy) is reachable through ``gc``, and ``to_js`` found through
  ``gc`` is refused (disabled in place).
What the canaries report is trusted only because they run before the unit has run any untrusted code.
"""

from __future__ import annotations

import ctypes
import dataclasses
import fcntl
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass

from blogtools.errors import BlogtoolsError
from blogtools.sandbox import (
    DEADLINE_PASSED,
    Limits,
    Sandbox,
    SandboxUnavailable,
    Unit,
    _over_limits,
    channel,
    runtime,
)

RINGS = ("channel", "runtime", "os", "interpreter")
CANARY_PATIENCE = 4  # a canary that timed out runs again with this many times the time
# guest.js's words when one of its canaries got through (it then stops the start)
CANARY_MARK = re.compile(r"self-check: (runtime|interpreter) ring: (.*)")

# Run in the unit before any block: prints the JSON list of what got through.
INTERPRETER_CANARY = r"""
import gc, json
_through = []
for _name in ("js", "pyodide_js", "ctypes", "_pyodide_core", "pyodide.ffi", "_ctypes", "micropip"):
    try:
        __import__(_name)
    except ImportError:
        continue
    _through.append(f"import {_name}")
gc.unfreeze()  # what the sandbox froze at start (its own objects) is a guest's to list again
_objects = gc.get_objects()  # unlinked from every module, the FFI's functions still live here
_kinds = {_k for _k in set(map(type, _objects)) if any(_b.__name__ == "JsProxy" for _b in _k.__mro__)}
_proxies = sum(type(_o) in _kinds for _o in _objects)
for _o in [_o for _o in _objects if type(_o).__name__ == "builtin_function_or_method" and _o.__name__ == "to_js"]:
    try:
        _through.append(f"to_js([1]) gave a {type(_o([1])).__name__}")
    except Exception:  # SystemError: disabled in place
        pass
if _proxies:
    _through.append(f"{_proxies} JavaScript objects reachable through gc")
print(json.dumps(_through))
"""

# Lines the host's validator must refuse, whatever the limits.
_FORGED = {
    "an absolute output name": {"type": "result", "id": 1, "stdout": "", "stderr": "", "success": True,
                                "output": {"/etc/cron.d/x": "QQ=="}, "settled": True},
    "an output name with ..": {"type": "result", "id": 1, "stdout": "", "stderr": "", "success": True,
                               "output": {"a/../../x": "QQ=="}, "settled": True},
    "more output bytes than allowed": {"type": "result", "id": 1, "stdout": "", "stderr": "", "success": True,
                                       "output": {"big": "QUFB" * 400}, "settled": True},
    "a read of a path": {"type": "read", "name": "../etc/passwd"},
    "an unknown message": {"type": "exec", "code": "x"},
}
_NAMESPACES = ("user", "mnt", "pid", "net", "ipc", "uts")
_NS_GET_PARENT = 0xB702  # ioctl: the parent of a user namespace
_CLONE_NEWUSER = 0x10000000


@dataclass(frozen=True)
class RingState:
    """One ring's state after its canaries: whether it held, and what was tried or what got through."""

    ring: str
    holds: bool
    detail: str

    def line(self) -> str:
        return f"{self.ring:<12} {'holds' if self.holds else 'FAILED'}: {self.detail}"


class DeadlinePassed(Exception):
    """The caller's deadline stopped the unit before its canaries ran: nothing was checked."""


class SelfCheckFailed(BlogtoolsError):
    """A ring of the sandbox is missing or let a canary through; ``ring`` names it."""

    def __init__(self, state: RingState):
        super().__init__(f"sandbox self-check failed ({state.ring}): {state.detail}")
        self.ring = state.ring


def check_channel() -> RingState:
    """The host's validator refuses every forged line."""
    for what, message in _FORGED.items():
        try:
            channel.parse(json.dumps(message).encode(), max_stream_chars=100, max_files=3, max_bytes=1000)
        except channel.ProtocolError:
            continue
        return RingState("channel", False, f"the host accepted {what}")
    return RingState("channel", True, f"{len(_FORGED)} forged messages refused")


def _status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status", encoding="utf-8") as status:
        return {key: value.strip() for key, _, value in (line.partition(":") for line in status)}


def _mounts(pid: int) -> dict[str, tuple[str, set[str], str]]:
    """The unit's mounts as its mount namespace has them: mount point -> (file system type, mount
    options, super options), the topmost mount at each point."""
    found = {}
    with open(f"/proc/{pid}/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            fields, _, tail = line.partition(" - ")
            fields, tail = fields.split(), tail.split()
            found[fields[4]] = (tail[0], set(fields[5].split(",")), tail[2] if len(tail) > 2 else "")
    return found


def _user_namespaces_allowed(pid: int) -> int:
    """user.max_user_namespaces in the user namespace just above the unit's, read by a process of
    the host's that entered it (bwrap --disable-userns sets it to 1, then nests the unit's below)."""
    fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    try:
        parent = fcntl.ioctl(fd, _NS_GET_PARENT)
    finally:
        os.close(fd)
    setns = ctypes.CDLL(None, use_errno=True).setns

    def enter() -> None:  # in the forked child, single-threaded as setns(CLONE_NEWUSER) requires
        if setns(parent, _CLONE_NEWUSER):
            os._exit(2)

    try:
        done = subprocess.run([shutil.which("cat") or "/bin/cat", "/proc/sys/user/max_user_namespaces"], capture_output=True,
                              text=True, check=False, pass_fds=(parent,), preexec_fn=enter)
    finally:
        os.close(parent)
    if done.returncode != 0 or not done.stdout.strip().isdigit():
        raise OSError(0, f"the user namespace above the unit's could not be read (exit status {done.returncode})")
    return int(done.stdout)


def _namespaces(pid: int) -> str | None:
    shared = [name for name in _NAMESPACES if os.readlink(f"/proc/{pid}/ns/{name}") == os.readlink(f"/proc/self/ns/{name}")]
    if shared:
        return f"the unit shares the host's {' and '.join(shared)} namespace"
    allowed = _user_namespaces_allowed(pid)
    if allowed > 1:
        return (f"the unit may create user namespaces (max_user_namespaces is {allowed} in the namespace above its "
                "own: no --disable-userns)")
    return None


def _privileges(pid: int) -> str | None:
    status = _status(pid)
    if int(status.get("CapEff", "1"), 16) or int(status.get("CapBnd", "1"), 16):
        return "the unit holds capabilities"
    if status.get("NoNewPrivs") != "1":
        return "the unit may gain privileges (no_new_privs is off)"
    if status.get("Seccomp") != "2":
        return f"no seccomp filter on the unit (Seccomp: {status.get('Seccomp', '?')} in /proc/{pid}/status)"
    uid = int(status.get("Uid", "0").split()[0])
    if os.geteuid() == 0 and uid == 0:
        return "the unit runs as root"
    if os.geteuid() == 0 and uid not in runtime.UNIT_UIDS:
        return f"the unit runs as uid {uid}, not a uid of its own (its process limit counts other units)"
    return None


def _data_limit(pid: int) -> str | None:
    with open(f"/proc/{pid}/limits", encoding="utf-8") as limits:
        data = [line for line in limits if line.startswith("Max data size")]
    return "the unit's data size is not limited" if not data or "unlimited" in data[0].split()[3:5] else None


def _tmpfs_bytes(superoptions: str) -> int | None:
    size = re.search(r"(?:^|,)size=(\d+)([kmg]?)(?:,|$)", superoptions)
    return int(size[1]) * 1024 ** " kmg".index(size[2] or " ") if size else None


def _files(pid: int) -> str | None:
    mounts = _mounts(pid)
    if "/usr" in mounts:
        return "the host's /usr is bound in the unit (only Deno and its libraries should be)"
    if any(fstype == "proc" for fstype, _, _ in mounts.values()):
        return "a /proc is mounted in the unit (it shows the host's paths)"
    for point in ("/tmp", "/dev/shm"):
        fstype, _, superoptions = mounts.get(point, ("none", set(), ""))
        size = _tmpfs_bytes(superoptions) if fstype == "tmpfs" else None
        if size is None or size > runtime.SCRATCH_BYTES:
            return f"{point} is not a tmpfs of at most {runtime.SCRATCH_BYTES >> 20} MB of its own"
    if "ro" not in mounts.get("/dev", ("", set(), ""))[1]:
        return "/dev is writable"
    return None


def _watchdog(pid: int, limits: Limits, rings: runtime.Rings) -> str | None:
    """The host's watchdog asked about the unit as it is, against a memory bound of 0: it must stop it."""
    bound_zero = dataclasses.replace(limits, memory_mb=-runtime.DATA_OVERHEAD_MB)
    over = _over_limits(pid, bound_zero, rings, runtime.cpu_seconds(pid), time.monotonic())
    if not (over or "").startswith("MemoryError"):
        return (f"the host's watchdog would not stop the unit past its memory bound "
                f"({runtime.unit_memory(pid) >> 20} MB held, bound 0)")
    return None


def check_os(pid: int, limits: Limits = Limits(), rings: runtime.Rings = runtime.Rings()) -> RingState:
    """The unit's process, seen from the host: namespaces of its own (no new user namespace), no
    capabilities, a seccomp filter, bounded, not root (as root, a uid of its own), only Deno's files,
    sized scratch space, and the watchdog (given the unit's ``limits`` and ``rings``) watching it."""
    checks = (_namespaces, _privileges, _data_limit, _files, lambda pid: _watchdog(pid, limits, rings))
    try:
        failure = next(filter(None, (check(pid) for check in checks)), None)
    except OSError as exc:
        return RingState("os", False, f"the unit's process could not be seen ({exc.strerror})")
    if failure:
        return RingState("os", False, failure)
    return RingState("os", True, f"own {', '.join(_NAMESPACES)} namespaces (no new user namespace), no capabilities, "
                                 "no_new_privs, seccomp, data size limited" + (", a uid of its own" if os.geteuid() == 0 else "")
                     + ", only Deno's files, /tmp and /dev/shm sized, memory watched")


def check_interpreter(unit: Unit) -> RingState:
    """The interpreter canary, run in ``unit`` (its first run: nothing untrusted has run in it).
    A canary stopped at its time limit proves nothing of the ring (a loaded machine): it runs once
    more, in the unit's fresh process, with ``CANARY_PATIENCE`` times the time, before it is reported."""
    result = unit.run(INTERPRETER_CANARY)
    if result.timed_out and result.stderr.strip() != DEADLINE_PASSED:
        limits = unit._sandbox.limits
        result = unit.run(INTERPRETER_CANARY, dataclasses.replace(
            limits, cpu_seconds=CANARY_PATIENCE * limits.cpu_seconds, wall_seconds=CANARY_PATIENCE * limits.wall_seconds))
    if result.timed_out and result.stderr.strip() == DEADLINE_PASSED:  # the host's words: nothing ran before
        raise DeadlinePassed
    try:
        through = json.loads(result.stdout) if result.success else None
    except ValueError:
        through = None
    if not isinstance(through, list):
        why = (result.stderr.strip().splitlines() or ["no report"])[-1][:200]
        return RingState("interpreter", False, f"the canary did not run ({why})")
    if through:
        return RingState("interpreter", False, f"{', '.join(map(str, through))} got through")
    return RingState("interpreter", True, "realm frozen; no FFI, ctypes or js import; no JavaScript object reachable; "
                                          "to_js refused")


def rings(unit: Unit) -> list[RingState]:
    """Every ring's state, checked on ``unit`` (fresh: nothing may have run in it), in RINGS order.
    A unit that does not start fails the ring whose canary in guest.js stopped it (runtime, or
    interpreter for the realm; the other rings are not checked); SandboxUnavailable for any other reason."""
    states = [check_channel()]
    try:
        interpreter = check_interpreter(unit)  # starts the unit's process: guest.js's canaries run first
    except SandboxUnavailable as exc:
        stopped = CANARY_MARK.search(exc.reason)
        if not stopped:
            raise
        return [*states, RingState(stopped[1], False, f"{stopped[2].strip()[:200]}, before any code was given")]
    states.append(RingState("runtime", True, "read, write, net, run, env and a file: import refused after the "
                                             "permissions were revoked"))
    guest = unit._guest
    states.append(check_os(guest.pid, guest.limits, guest.rings) if guest else RingState("os", False, "the unit's process stopped"))
    return [*states, interpreter]


def check_unit(unit: Unit) -> None:
    """``rings(unit)``, raising SelfCheckFailed at the first ring that failed (DeadlinePassed when
    the sandbox's deadline came before the canaries could run)."""
    for state in rings(unit):
        if not state.holds:
            raise SelfCheckFailed(state)


def advice(reason: str) -> str:
    """What to do instead where the sandbox cannot run (``reason``: ``unavailable_reason()``)."""
    if "needs Linux namespaces" in reason:  # runtime.missing_parts' words on macOS, Windows...
        return ("the sandbox needs Linux namespaces: run blogtools in a Linux container or virtual machine (Docker "
                "Desktop, WSL 2, a Linux CI runner such as GitHub Actions' ubuntu-latest); elsewhere, blocks stay "
                "'not triaged' and the build still succeeds")
    if "not installed" in reason:
        return "install the sandbox: pip install 'blogtools[sandbox]'"
    return ("let unprivileged processes create user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu "
            "24.04 or later, kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile for bwrap), or "
            "run in a container started with namespaces allowed; until then blocks stay 'not triaged'")


def doctor(limits: Limits) -> tuple[list[RingState], float]:
    """Start one unit and check every ring on it; (the states, seconds taken). SandboxUnavailable
    when the sandbox cannot run here."""
    started = time.monotonic()
    with Sandbox(limits) as sandbox, sandbox.unit() as unit:
        states = rings(unit)
    return states, time.monotonic() - started

