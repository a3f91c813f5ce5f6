"""Triage: an honest verdict for every code block of a post, found by running it in the sandbox.

    verdicts = triage_post([Block(1, "python", "import numpy"), Block(2, "shell", "ls -l")])
    verdicts[0].verdict, verdicts[0].reason, verdicts[0].needs   # needs-context, ..., (Need(module numpy),)

Three verdicts: ``runs`` (ran to completion as published, in the sandbox), ``needs-context`` (real
code that lacks something, named in ``needs``) and ``illustrative`` (not a program: a console
session, output, configuration, a diff, a command line, a fragment; the reason says which).
Nothing runs on the host: blocks run only in the sandbox, whose every output is attacker-controlled
and decides nothing but the verdict of the post it came from. A block that did not run to
completion is never called ``runs``.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from blogtools import languages
from blogtools.sandbox import Limits, RunResult, Sandbox

RUNS, NEEDS_CONTEXT, ILLUSTRATIVE = "runs", "needs-context", "illustrative"
VERDICTS = (RUNS, NEEDS_CONTEXT, ILLUSTRATIVE)
# "time": the block did not finish within the sandbox's limit (a server, a long loop); its ``what``
# is the limit ("5 s").
NEED_KINDS = ("block", "name", "module", "file", "network", "input", "language", "time")
RULES_VERSION = "1"
LIMITS = Limits(cpu_seconds=5, wall_seconds=10, memory_mb=512, stream_chars=100_000)
MAX_PARSED_CHARS = 200_000  # a longer block's names are not looked for on the host


@dataclass(frozen=True)
class Need:
    """What a block lacks: ``kind`` (one of NEED_KINDS) and which one."""

    kind: str
    what: str

    def __post_init__(self):
        if self.kind not in NEED_KINDS:
            raise ValueError(f"unknown need kind {self.kind!r}")

    def phrase(self) -> str:
        """Plain words after "Needs ": "block 2", "numpy", "the file data.csv", "a Go toolchain"."""
        if self.kind == "block":
            return f"block {self.what}"
        if self.kind == "name":
            return f"the name {self.what}"
        if self.kind == "file":
            return f"the file {self.what}"
        if self.kind == "network":
            return "the network"
        if self.kind == "input":
            return "input" if self.what in ("", "stdin") else self.what
        if self.kind == "language":
            return _RUNTIME_PHRASES.get(self.what, f"a {self.what} toolchain")
        if self.kind == "time":
            return f"more than {self.what} to run"
        return self.what


_RUNTIME_PHRASES = {"Shell": "a shell", "SQL": "a SQL database", "Python 2": "Python 2",
                    "CPython": "a full Python (threads, processes)", "HTML": "a browser"}


@dataclass(frozen=True)
class Verdict:
    """One block's verdict; ``output`` (RUNS only) is the sandbox's raw, untrusted stdout+stderr."""

    verdict: str
    reason: str
    needs: tuple[Need, ...] = ()
    output: str = ""
    after: int | None = None

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")
        if bool(self.needs) != (self.verdict == NEEDS_CONTEXT):
            raise ValueError("needs are given exactly for needs-context")

    def as_json(self) -> dict:
        """The verdict as plain JSON data."""
        return {"verdict": self.verdict, "reason": self.reason,
                "needs": [{"kind": need.kind, "what": need.what} for need in self.needs],
                "output": self.output, "after": self.after}

    @classmethod
    def from_json(cls, data) -> Verdict:
        """The verdict ``as_json`` gave; ValueError (or KeyError/TypeError) for anything else."""
        needs = tuple(Need(str(need["kind"]), str(need["what"])) for need in data.get("needs", ()))
        after = data.get("after")
        if after is not None and (not isinstance(after, int) or isinstance(after, bool)):
            raise ValueError("after: not an integer")
        return cls(str(data["verdict"]), str(data["reason"]), needs, str(data.get("output", "")), after)


@dataclass(frozen=True)
class Block:
    """What triage needs of a block: its ordinal in the post, its language name, its text."""

    ordinal: int
    language: str
    text: str


def runtime_version() -> str:
    """What a verdict depends on besides the block's text: these rules and the sandbox runtimes."""
    from blogtools.sandbox import runtime

    return f"triage-{RULES_VERSION} pyodide-{runtime.PYODIDE_VERSION} deno-{_deno_version()}"


def _deno_version() -> str:
    try:
        from importlib.metadata import version

        return version("deno")
    except Exception:  # the sandbox extra is not installed: no runtime, nothing ran
        return "none"


# --- verdicts that need no run -------------------------------------------------------------------

_CONFIG = {"yaml", "toml", "ini", "hcl", "dockerfile", "makefile", "cmake", "nginx", "properties", "conf"}
_DATA = {"json", "xml", "csv", "graphql", "protobuf"}
_MARKUP = {"html", "css", "scss", "markdown", "rst", "latex", "jinja", "vue"}
_PROMPT = re.compile(r"^\s*(>>>|\.\.\.|In \[\d+\]:|\$ |# |% |[\w@.-]*[$#%>] )")
_PYTHON_PROMPT = re.compile(r"^\s*(>>>( |$)|In \[\d+\]:)", re.M)
_SHELL_PROMPT = re.compile(r"^\s*(\(\w[\w.-]*\) )?[\w@.:~/-]*\$ \S", re.M)


def _console_session(text: str) -> bool:
    """A transcript of a console: a Python prompt, or a shell ``$`` prompt, starting a line."""
    return bool(_PYTHON_PROMPT.search(text) or _SHELL_PROMPT.match(text.lstrip("\n")))


def _command_lines(text: str) -> list[str]:
    """The logical lines of a shell block that are commands (no blank lines, no comments)."""
    joined = re.sub(r"\\\n", " ", text)
    return [line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def static_verdict(block: Block) -> Verdict | None:
    """The verdict a block gets from its language and shape alone, or None when it must run."""
    name = block.language.strip().lower()
    language = languages.lookup(name)
    name = language.name if language else name
    if not block.text.strip():
        return Verdict(ILLUSTRATIVE, "empty block")
    if name in ("python", "javascript", "typescript") and _console_session(block.text):
        return Verdict(ILLUSTRATIVE, "console session")
    if name == "python":
        return None
    if name in ("pycon", "console"):
        return Verdict(ILLUSTRATIVE, "console session")
    if name == "output":
        return Verdict(ILLUSTRATIVE, "program output")
    if name == "shell":
        if _console_session(block.text):
            return Verdict(ILLUSTRATIVE, "console session")
        if len(_command_lines(block.text)) <= 1:
            return Verdict(ILLUSTRATIVE, "command line")
        return Verdict(NEEDS_CONTEXT, "shell scripts are never run", (Need("language", "Shell"),))
    if name in ("text", ""):
        return Verdict(ILLUSTRATIVE, "console session" if _console_session(block.text) else "text or program output")
    if name == "diff":
        return Verdict(ILLUSTRATIVE, "diff")
    if name in _CONFIG:
        return Verdict(ILLUSTRATIVE, "configuration")
    if name in _DATA:
        return Verdict(ILLUSTRATIVE, "data")
    if name in _MARKUP:
        return Verdict(ILLUSTRATIVE, "markup")
    label = language.label if language else block.language.strip()
    return Verdict(NEEDS_CONTEXT, f"no sandbox runs {label}", (Need("language", label),))


# --- Python: what a failed run lacked ------------------------------------------------------------

_ERROR_LINE = re.compile(r"^(?P<name>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)): ?(?P<message>.*)$|"
                         r"^(?P<bare>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt))$", re.M)
_QUOTED = re.compile(r"'([^']*)'")
_URL = re.compile(r"https?://[^\s'\"<>()]+")
_NETWORK_ERRORS = {"URLError", "HTTPError", "ConnectionError", "ConnectionRefusedError", "ConnectionResetError",
                   "gaierror", "herror", "RemoteDisconnected", "SSLError", "ConnectTimeout", "ReadTimeout"}
_PYTHON2 = ("Missing parentheses in call to", "leading zeros in decimal integer literals",
            "multiple exception types must be parenthesized")
_STDLIB = frozenset(sys.stdlib_module_names)


def _error(stderr: str) -> tuple[str, str]:
    """The exception a failed run ended with: (short name, message); ("", "") when none is seen."""
    found = None
    for found in _ERROR_LINE.finditer(stderr):
        pass
    if found is None:
        return "", ""
    name = found.group("name") or found.group("bare")
    return name.rpartition(".")[2], (found.group("message") or "").strip()


def _first_quoted(message: str) -> str:
    match = _QUOTED.search(message)
    return match.group(1) if match else ""


def defined_names(text: str) -> set[str]:
    """Names a Python block binds (assignments, definitions, imports), read by parsing only."""
    if len(text) > MAX_PARSED_CHARS:
        return set()
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).partition(".")[0] for alias in node.names)
    return names


def _limit_phrase(limits: Limits) -> str:
    return f"{limits.cpu_seconds:g} s"


def python_failure(block: Block, result: RunResult, limits: Limits) -> Verdict:
    """The verdict of a Python block whose run failed, from the exception it ended with."""
    if result.timed_out:
        return Verdict(NEEDS_CONTEXT, f"did not finish within the sandbox's {_limit_phrase(limits)} limit",
                       (Need("time", _limit_phrase(limits)),))
    name, message = _error(result.stderr)
    said = f"{name}: {message}"[:200] if message else name
    if name in ("SyntaxError", "IndentationError", "TabError"):
        if any(marker in message for marker in _PYTHON2):
            return Verdict(NEEDS_CONTEXT, f"Python 2 code ({said})", (Need("language", "Python 2"),))
        return Verdict(ILLUSTRATIVE, f"fragment or pseudo-code ({said})")
    if name == "ModuleNotFoundError":
        module = _first_quoted(message).partition(".")[0]
        if module in _STDLIB or module.startswith("_"):
            return Verdict(NEEDS_CONTEXT, f"the sandbox's Python lacks {module}", (Need("language", "CPython"),))
        return Verdict(NEEDS_CONTEXT, said, (Need("module", module or "?"),))
    if name == "ImportError" and "not available in the sandbox" in message:
        return Verdict(NEEDS_CONTEXT, "the sandbox's Python cannot run this", (Need("language", "CPython"),))
    if name == "NameError":
        return Verdict(NEEDS_CONTEXT, said, (Need("name", _first_quoted(message) or "?"),))
    if name in ("FileNotFoundError", "IsADirectoryError", "NotADirectoryError"):
        return Verdict(NEEDS_CONTEXT, said, (Need("file", _first_quoted(message) or "?"),))
    if name in _NETWORK_ERRORS or (name in ("OSError", "PermissionError", "TimeoutError")
                                   and ("/socket.py" in result.stderr or "/ssl.py" in result.stderr)):
        url = _URL.search(block.text)
        return Verdict(NEEDS_CONTEXT, said, (Need("network", url.group(0) if url else ""),))
    if name == "EOFError" or (name == "OSError" and "[Errno 29]" in message
                              and re.search(r"\binput\s*\(|\bstdin\b|getpass", block.text)):
        return Verdict(NEEDS_CONTEXT, "reads input", (Need("input", "stdin"),))
    if name == "RuntimeError" and "can't start new thread" in message:
        return Verdict(NEEDS_CONTEXT, "threads cannot start in the sandbox", (Need("language", "CPython"),))
    if name == "OSError" and "does not support processes" in message:
        return Verdict(NEEDS_CONTEXT, "processes cannot start in the sandbox", (Need("language", "CPython"),))
    if name == "SystemExit" and "usage:" in result.stderr:
        return Verdict(NEEDS_CONTEXT, "needs command-line arguments", (Need("input", "command-line arguments"),))
    return Verdict(ILLUSTRATIVE, f"raises {said}" if name else "did not run to completion")


def _exit_status_zero(result: RunResult) -> bool:
    name, message = _error(result.stderr)
    return name == "SystemExit" and message in ("", "0", "None")


def _ran(result: RunResult) -> bool:
    return not result.timed_out and (result.success or _exit_status_zero(result))


def _cumulative_code(earlier: Sequence[str], text: str) -> str:
    """Code that runs ``earlier`` blocks quietly (tolerating their failures), then ``text``, in one namespace."""
    return ("import contextlib as _c, io as _io\n"
            f"_ns = {{'__name__': '__main__', '__builtins__': __builtins__}}\n"
            f"for _src in {list(earlier)!r}:\n"
            "    with _c.redirect_stdout(_io.StringIO()), _c.redirect_stderr(_io.StringIO()):\n"
            "        try:\n"
            "            exec(compile(_src, '<earlier block>', 'exec'), _ns)\n"
            "        except BaseException:\n"
            "            pass\n"
            "del _c, _io, _src\n"
            f"exec(compile({text!r}, '<exec>', 'exec'), _ns)\n")


def _output(result: RunResult) -> str:
    return result.stdout + result.stderr if result.success else result.stdout


class _PythonPost:
    """The Python blocks of one post: each runs alone first, in one fresh interpreter for the post;
    a NameError for a name an earlier block defines runs it again after the earlier blocks."""

    def __init__(self, sandbox: Sandbox, limits: Limits):
        self.sandbox, self.limits = sandbox, limits
        self.unit = sandbox.unit()
        self.earlier: list[tuple[Block, Verdict, bool]] = []  # (block, its verdict, whether it may run again)

    def triage(self, block: Block) -> Verdict:
        result = self.unit.run(block.text)
        if _ran(result):
            verdict = Verdict(RUNS, "ran to completion", output=result.stdout + result.stderr)
        else:
            verdict = python_failure(block, result, self.limits)
            if verdict.needs and verdict.needs[0].kind == "name":
                verdict = self._after_earlier(block, verdict.needs[0].what, verdict)
        self.earlier.append((block, verdict, verdict.verdict != ILLUSTRATIVE and not result.timed_out))
        return verdict

    def _after_earlier(self, block: Block, name: str, alone: Verdict) -> Verdict:
        defining = [(earlier, verdict) for earlier, verdict, _ in self.earlier if name in defined_names(earlier.text)]
        if not defining:
            return alone
        code = _cumulative_code([earlier.text for earlier, _, again in self.earlier if again], block.text)
        with self.sandbox.unit() as unit:
            result = unit.run(code)
        after, its_verdict = defining[-1][0].ordinal, defining[-1][1]
        if _ran(result):
            return Verdict(RUNS, f"runs after block {after}", output=result.stdout + result.stderr, after=after)
        still = python_failure(block, result, self.limits)
        # Still lacking the name: the defining block itself did not run; what it lacks, this one lacks.
        lacks = its_verdict.needs if any(n.kind == "name" for n in still.needs) else still.needs
        needs = [Need("block", str(after))]
        needs += [n for n in lacks if n not in needs and n.kind != "name"]
        return Verdict(NEEDS_CONTEXT, f"needs block {after}; then {still.reason}"[:240], tuple(needs))

    def close(self) -> None:
        self.unit.close()


def triage_post(blocks: Sequence[Block], *, sandbox_limits: Limits = LIMITS, sandbox: Sandbox | None = None,
                progress: Callable[[Block, Verdict], None] | None = None) -> list[Verdict]:
    """One verdict per block, in order; runs the post's runnable blocks in the sandbox, one fresh
    interpreter per post (per language), cumulatively where a block needs an earlier block's names.
    ``sandbox`` (its limits then apply) is reused across posts by a caller triaging many; without
    it one is made and closed here. Raises SandboxUnavailable when the sandbox cannot run."""
    static = [static_verdict(block) for block in blocks]
    if all(verdict is not None for verdict in static):
        verdicts = static
    else:
        own = sandbox is None
        sandbox = sandbox or Sandbox(sandbox_limits)
        try:
            verdicts = _run_post(blocks, static, sandbox)
        finally:
            if own:
                sandbox.close()
    for block, verdict in zip(blocks, verdicts):
        if progress:
            progress(block, verdict)
    return verdicts


def _run_post(blocks: Sequence[Block], static: list[Verdict | None], sandbox: Sandbox) -> list[Verdict]:
    python = _PythonPost(sandbox, sandbox.limits)
    try:
        return [verdict or python.triage(block) for block, verdict in zip(blocks, static)]
    finally:
        python.close()
