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
- ``runtime``: Deno's permissions. guest.js tries to read, write, connect, run and read the
  environment right after revoking them, before any code is given, and stops the start if one
  works; a unit that does not start fails this ring.
- ``os``: bubblewrap and the resource limits, seen by the host in ``/proc`` of the unit's process:
  its own namespaces (none shared with the host), no capabilities, no_new_privs, a bounded data
  size, and not root.
- ``interpreter``: Python run in the unit before any block: no import of ``js``, ``pyodide_js``,
  ``ctypes`` or the FFI works, and no JavaScript object (a JsProxy) is reachable through ``gc``.
What the canaries report is trusted only because they run before the unit has run any untrusted code.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

from blogtools.errors import BlogtoolsError
from blogtools.sandbox import (
    DEADLINE_PASSED,
    Limits,
    Sandbox,
    SandboxUnavailable,
    Unit,
    channel,
)

RINGS = ("channel", "runtime", "os", "interpreter")
RUNTIME_CANARY_MARK = "self-check: runtime ring:"  # guest.js's words when a canary got through

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
_proxies = sum(any(k.__name__ == "JsProxy" for k in type(_o).__mro__) for _o in gc.get_objects())
if _proxies:
    _through.append(f"{_proxies} JavaScript objects reachable through gc")
print(json.dumps(_through))
"""

# Lines the host's validator must refuse, whatever the limits.
_FORGED = {
    "an absolute output name": {"type": "result", "id": 1, "stdout": "", "stderr": "", "success": True,
                                "output": {"/etc/cron.d/x": "QQ=="}},
    "an output name with ..": {"type": "result", "id": 1, "stdout": "", "stderr": "", "success": True,
                               "output": {"a/../../x": "QQ=="}},
    "more output bytes than allowed": {"type": "result", "id": 1, "stdout": "", "stderr": "", "success": True,
                                       "output": {"big": "QUFB" * 400}},
    "a read of a path": {"type": "read", "name": "../etc/passwd"},
    "an unknown message": {"type": "exec", "code": "x"},
}
_NAMESPACES = ("user", "mnt", "pid", "net", "ipc", "uts")


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


def check_os(pid: int) -> RingState:
    """The unit's process, seen from the host: namespaces of its own, no capabilities, bounded, not root."""
    try:
        shared = [name for name in _NAMESPACES if os.readlink(f"/proc/{pid}/ns/{name}") == os.readlink(f"/proc/self/ns/{name}")]
        status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status", encoding="utf-8") if ":" in line)
        limits = [line for line in open(f"/proc/{pid}/limits", encoding="utf-8") if line.startswith("Max data size")]
    except OSError as exc:
        return RingState("os", False, f"the unit's process could not be seen ({exc.strerror})")
    if shared:
        return RingState("os", False, f"the unit shares the host's {' and '.join(shared)} namespace")
    if int(status.get("CapEff", "1").strip(), 16) or int(status.get("CapBnd", "1").strip(), 16):
        return RingState("os", False, "the unit holds capabilities")
    if status.get("NoNewPrivs", "0").strip() != "1":
        return RingState("os", False, "the unit may gain privileges (no_new_privs is off)")
    if os.geteuid() == 0 and status.get("Uid", "0").split()[:1] in (["0"], []):
        return RingState("os", False, "the unit runs as root")
    if not limits or "unlimited" in limits[0].split()[3:5]:
        return RingState("os", False, "the unit's data size is not limited")
    return RingState("os", True, f"own {', '.join(_NAMESPACES)} namespaces, no capabilities, no_new_privs, "
                                 "data size limited" + (", not root" if os.geteuid() == 0 else ""))


def check_interpreter(unit: Unit) -> RingState:
    """The interpreter canary, run in ``unit`` (its first run: nothing untrusted has run in it)."""
    result = unit.run(INTERPRETER_CANARY)
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
    return RingState("interpreter", True, "no FFI, ctypes or js import; no JavaScript object reachable")


def rings(unit: Unit) -> list[RingState]:
    """Every ring's state, checked on ``unit`` (fresh: nothing may have run in it), in RINGS order.
    A unit that does not start fails the runtime ring when guest.js's canaries stopped it (and the
    rings after it are not checked); SandboxUnavailable for any other reason."""
    states = [check_channel()]
    try:
        interpreter = check_interpreter(unit)  # starts the unit's process: guest.js's canaries run first
    except SandboxUnavailable as exc:
        if RUNTIME_CANARY_MARK not in exc.reason:
            raise
        detail = exc.reason.partition(RUNTIME_CANARY_MARK)[2].strip()[:200]
        return [*states, RingState("runtime", False, f"{detail} after the permissions were revoked")]
    states.append(RingState("runtime", True, "read, write, net, run and env refused after the permissions were revoked"))
    states.append(check_os(unit._guest.pid) if unit._guest else RingState("os", False, "the unit's process stopped"))
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

