"""The channel out of the sandbox: every message the guest sends is checked here before it is used.

The guest writes one JSON object a line to a FIFO that only the trusted guest script holds open;
still, everything on it is treated as attacker-controlled. A message of an unknown shape, a field
of the wrong type, an oversized value or an unsafe output name raises ``ProtocolError``, which
fails the run; nothing here raises anything else.
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
import unicodedata
from dataclasses import dataclass

MAX_NAME_BYTES = 1024  # an output path, relative to /output, UTF-8 encoded as the file system counts it
MAX_SEGMENT_BYTES = 255  # NAME_MAX
MAX_DEPTH = 32


class ProtocolError(Exception):
    """A message from the guest that the host refuses."""


@dataclass(frozen=True)
class Ready:
    """The guest has loaded and hardened its interpreter and waits for its unit."""


@dataclass(frozen=True)
class Read:
    """The guest code reads ``/network/<name>``."""

    name: str


@dataclass(frozen=True)
class Step:
    """One step of a run of steps: what it printed and whether it raised, as the guest script saw it."""

    stdout: str
    stderr: str
    success: bool
    truncated: bool = False  # the streams' limit cut what it printed


@dataclass(frozen=True)
class Result:
    """One run's outcome; ``output`` maps names relative to /output to their bytes. A run of steps
    has one ``Step`` each in ``steps`` (its own stdout and stderr are then empty, ``success``
    whether every step succeeded)."""

    id: int
    stdout: str
    stderr: str
    success: bool
    output: dict[str, bytes]
    steps: tuple[Step, ...] | None = None
    settled: bool = True  # the run left no garbage behind that its collection could not clear


def check_name(name: object, what: str = "output name") -> str:
    """``name`` if it is a safe relative path: normalised, no ``..``, not absolute, no control
    characters, bounded in UTF-8 bytes as the file system counts them; else ProtocolError."""
    if not isinstance(name, str) or not name:
        raise ProtocolError(f"{what}: not a non-empty string")
    if len(name) > MAX_NAME_BYTES:  # cheap first: a character is at least one byte
        raise ProtocolError(f"{what}: longer than {MAX_NAME_BYTES} bytes")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") or c == "\\" for c in name):
        raise ProtocolError(f"{what} {name!r}: control, format or surrogate character")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ProtocolError(f"{what}: longer than {MAX_NAME_BYTES} bytes")
    segments = name.split("/")
    if name.startswith("/") or posixpath.normpath(name) != name or ".." in segments or "." in segments:
        raise ProtocolError(f"{what} {name!r}: not a normalised relative path")
    if len(segments) > MAX_DEPTH or any(len(s.encode()) > MAX_SEGMENT_BYTES for s in segments):
        raise ProtocolError(f"{what} {name[:80]!r}: too deep or a segment over {MAX_SEGMENT_BYTES} bytes")
    return name


def _fields(message: dict, **types: type) -> None:
    if set(message) != {"type", *types}:
        raise ProtocolError(f"{message['type']} message with fields {sorted(message)}")
    for key, kind in types.items():
        # bool is an int in Python: an id must not be True, a success flag must be a real bool
        if not isinstance(message[key], kind) or (kind is int and isinstance(message[key], bool)):
            raise ProtocolError(f"{message['type']}.{key}: expected {kind.__name__}")


def _output(files: dict, max_files: int, max_bytes: int) -> dict[str, bytes]:
    if len(files) > max_files:
        raise ProtocolError(f"result.output: {len(files)} files, more than {max_files}")
    decoded, total = {}, 0
    for name, data in files.items():
        check_name(name)
        if not isinstance(data, str):
            raise ProtocolError(f"result.output[{name!r}]: not base64 text")
        try:
            decoded[name] = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError(f"result.output[{name!r}]: not base64 text") from None
        total += len(decoded[name])
        if total > max_bytes:
            raise ProtocolError(f"result.output: more than {max_bytes} bytes")
    folders = {posixpath.dirname(name) for name in decoded}
    clash = sorted(name for name in decoded if any(f == name or f.startswith(name + "/") for f in folders))
    if clash:
        raise ProtocolError(f"result.output: {clash[0]!r} is both a file and a folder")
    return decoded


def _streams(parts: list[dict], what: str, max_stream_chars: int) -> None:
    """Each stream, over all ``parts`` together, within the limit and free of lone surrogates."""
    for stream in ("stdout", "stderr"):
        if sum(len(part[stream]) for part in parts) > max_stream_chars:
            raise ProtocolError(f"{what}.{stream}: longer than {max_stream_chars} characters")
        for part in parts:
            try:  # JSON carries lone surrogates; a str with one fails whoever writes it out
                part[stream].encode()
            except UnicodeEncodeError:
                raise ProtocolError(f"{what}.{stream}: a lone surrogate") from None


def _steps(steps: list, max_stream_chars: int) -> tuple[Step, ...]:
    if not steps:
        raise ProtocolError("result.steps: none")
    for step in steps:
        if not isinstance(step, dict) or set(step) != {"stdout", "stderr", "success", "truncated"} or not isinstance(
                step["stdout"], str) or not isinstance(step["stderr"], str) or not isinstance(step["success"], bool) \
                or not isinstance(step["truncated"], bool):
            raise ProtocolError("result.steps: a step that is not {stdout: str, stderr: str, success: bool, truncated: bool}")
    _streams(steps, "result.steps", max_stream_chars)
    return tuple(Step(step["stdout"], step["stderr"], step["success"], step["truncated"]) for step in steps)


def parse(line: bytes, max_stream_chars: int, max_files: int, max_bytes: int) -> Ready | Read | Result:
    """Validate one line from the guest and return it as a message, or raise ProtocolError."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        raise ProtocolError("a line that is not JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("a message that is not an object with a type")
    kind = message["type"]
    if kind == "ready":
        _fields(message)
        return Ready()
    if kind == "read":
        _fields(message, name=str)
        name = message["name"]
        if "/" in name:
            raise ProtocolError(f"read of {name!r}: /network names have no '/'")
        return Read(check_name(name, "network name"))
    if kind == "result" and "steps" in message:
        _fields(message, id=int, steps=list, output=dict, settled=bool)
        steps = _steps(message["steps"], max_stream_chars)
        output = _output(message["output"], max_files, max_bytes)
        return Result(message["id"], "", "", all(step.success for step in steps), output, steps, message["settled"])
    if kind == "result":
        _fields(message, id=int, stdout=str, stderr=str, success=bool, output=dict, settled=bool)
        _streams([message], "result", max_stream_chars)
        output = _output(message["output"], max_files, max_bytes)
        return Result(message["id"], message["stdout"], message["stderr"], message["success"], output,
                      settled=message["settled"])
    raise ProtocolError(f"unknown message type {kind[:40]!r}")
