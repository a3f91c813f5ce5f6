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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata

from blogtools import languages, untrusted
from blogtools.sandbox import (
    SCRIPT_EXTENSIONS,
    Limits,
    RunResult,
    Sandbox,
    Unit,
    runtime,
)
from blogtools.sandbox.selfcheck import DeadlinePassed

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
            article = "an" if self.what[:1].lower() in "aeiou" else "a"
            return _RUNTIME_PHRASES.get(self.what, f"{article} {self.what} toolchain")
        if self.kind == "time":
            return f"more than {self.what} to run"
        return self.what


_RUNTIME_PHRASES = {"Shell": "a shell", "SQL": "a SQL database", "Python 2": "Python 2", "IPython": "IPython",
                    "CPython": "a full Python (threads, processes)", "browser": "a browser", "Node.js": "Node.js"}


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
    """What a verdict depends on besides the block's text: these rules (bump RULES_VERSION when
    they change) and the sandbox's runtimes."""
    try:
        deno = metadata.version("deno")
    except metadata.PackageNotFoundError:  # the sandbox extra is not installed: nothing can run
        deno = "none"
    return f"triage-{RULES_VERSION} pyodide-{runtime.PYODIDE_VERSION} deno-{deno}"


# --- verdicts that need no run -------------------------------------------------------------------

_RUN = ("python", *SCRIPT_EXTENSIONS)  # the languages a sandbox runs
# Languages whose blocks are never programs, and what such a block is.
_KIND_OF_LANGUAGE = {
    "pycon": "console session", "console": "console session", "output": "program output",
    "text": "text or program output", "": "text or program output", "diff": "diff",
    **dict.fromkeys(("yaml", "toml", "ini", "hcl", "dockerfile", "makefile", "cmake", "nginx", "properties"),
                    "configuration"),
    **dict.fromkeys(("json", "xml", "csv", "graphql", "protobuf"), "data"),
    **dict.fromkeys(("html", "css", "scss", "markdown", "rst", "latex", "jinja", "vue"), "markup"),
}
_PYTHON_PROMPT = re.compile(r"^\s*(>>>( |$)|In \[\d+\]:)", re.M)
_IPYTHON_LINE = re.compile(r"^\s*(%{1,2}[a-z]\w*|![a-z])", re.M)
# A compiler's or linter's message: "error[E0597]: ...", "warning: ...", "src/x.c:3:1: error: ...".
_DIAGNOSTIC = re.compile(r"(?:(?:error|warning)(?:\[\w+\])?: |[\w./-]+:\d+:\d+: (?:error|warning): )")
# Parts left out on purpose: a body "{ ... }", or a line that is only "..." (a comment's included).
_ELIDED = re.compile(r"\{\s*(?:/[/*]\s*)?(?:\.\.\.|…)\s*(?:\*/\s*)?\}|^\s*(?://|#|/\*)?\s*(?:\.\.\.|…)\s*(?:\*/)?\s*$", re.M)
_SHELL_PROMPT = re.compile(r"^\s*(\(\w[\w.-]*\) )?[\w@.:~/-]*\$ \S", re.M)


def _console_session(text: str) -> bool:
    """A transcript of a console: a Python prompt on a line, or a shell ``$`` or REPL ``>`` prompt first."""
    first = text.lstrip("\n")
    return bool(_PYTHON_PROMPT.search(text) or _SHELL_PROMPT.match(first) or first.startswith("> "))


def _command_lines(text: str) -> list[str]:
    """The logical lines of a shell block that are commands (no blank lines, no comments)."""
    joined = re.sub(r"\\\n", " ", text)
    return [line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def static_verdict(block: Block) -> Verdict | None:
    """The verdict a block gets from its language and shape alone, or None when it must run."""
    language = languages.lookup(block.language)
    name = language.name if language else block.language.strip().lower()
    text = block.text
    if not text.strip():
        return Verdict(ILLUSTRATIVE, "empty block")
    if name in (*_RUN, "shell", "text", "") and _console_session(text):
        return Verdict(ILLUSTRATIVE, "console session")
    if name == "python" and _IPYTHON_LINE.search(text):
        return Verdict(NEEDS_CONTEXT, "IPython magic or shell escape", (Need("language", "IPython"),))
    if name in _RUN:
        return None
    if name == "shell":
        if len(_command_lines(text)) <= 1:
            return Verdict(ILLUSTRATIVE, "command line")
        return Verdict(NEEDS_CONTEXT, "shell scripts are never run", (Need("language", "Shell"),))
    if name in _KIND_OF_LANGUAGE:
        return Verdict(ILLUSTRATIVE, _KIND_OF_LANGUAGE[name])
    if _DIAGNOSTIC.match(text.lstrip()):
        return Verdict(ILLUSTRATIVE, "compiler or tool output")
    if _ELIDED.search(text):
        return Verdict(ILLUSTRATIVE, "fragment with elided parts")
    label = language.label if language else block.language.strip()
    return Verdict(NEEDS_CONTEXT, f"no sandbox runs {label}", (Need("language", label),))


# --- reading a failed run: what did the block lack? ----------------------------------------------

_QUOTED = re.compile(r"""['"]([^'"]*)['"]""")
_URL = re.compile(r"https?://[^\s'\"<>()`]+")


def _plain(text: str, most: int = 200) -> str:
    """``text`` from a run (untrusted) as one short line: ``untrusted.line``, the one cleaner."""
    return untrusted.line(text, most)


def _first_quoted(message: str) -> str:
    match = _QUOTED.search(message)
    return _plain(match.group(1), 120) if match else ""


def _url(text: str) -> str:
    match = _URL.search(text)
    return _plain(match.group(0)) if match else ""


def _timed_out(limits: Limits) -> Verdict:
    limit = f"{limits.cpu_seconds:g} s"
    return Verdict(NEEDS_CONTEXT, f"did not finish within the sandbox's {limit} limit", (Need("time", limit),))


def _fragment(said: str) -> Verdict:
    return Verdict(ILLUSTRATIVE, f"fragment or pseudo-code ({said})")


def _raised(said: str) -> Verdict:
    """A run that ended in an error no need explains: the block shows code, not a program that runs."""
    return Verdict(ILLUSTRATIVE, f"raises {said}" if said else "did not run to completion")


# Python --------------------------------------------------------------------------------------------

_PY_ERROR = re.compile(r"^(?P<name>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning))(?:: ?(?P<message>.*))?$",
                       re.M)
_NETWORK_ERRORS = {"URLError", "HTTPError", "ConnectionError", "ConnectionRefusedError", "ConnectionResetError",
                   "gaierror", "herror", "RemoteDisconnected", "SSLError", "ConnectTimeout", "ReadTimeout"}
_PYTHON2 = ("Missing parentheses in call to", "leading zeros in decimal integer literals",
            "multiple exception types must be parenthesized")
_STDLIB = frozenset(sys.stdlib_module_names)


def _python_error(stderr: str) -> tuple[str, str]:
    """The exception a failed Python run ended with: (short name, message), ("", "") if none is seen."""
    found = None
    for found in _PY_ERROR.finditer(stderr):
        pass
    if found is None:
        return "", ""
    return found.group("name").rpartition(".")[2], (found.group("message") or "").strip()


def python_failure(block: Block, result: RunResult, limits: Limits) -> Verdict:
    """The verdict of a Python block whose run failed, from the exception it ended with."""
    if result.timed_out:
        return _timed_out(limits)
    name, message = _python_error(result.stderr)
    said = _plain(f"{name}: {message}" if message else name)
    if name in ("SyntaxError", "IndentationError", "TabError"):
        if any(marker in message for marker in _PYTHON2):
            return Verdict(NEEDS_CONTEXT, f"Python 2 code ({said})", (Need("language", "Python 2"),))
        if "outside function" in message or "outside async function" in message:
            return Verdict(NEEDS_CONTEXT, f"top-level await, as in a notebook ({said})", (Need("language", "IPython"),))
        return _fragment(said)
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
        return Verdict(NEEDS_CONTEXT, said, (Need("network", _url(block.text)),))
    if name == "EOFError" or (name == "OSError" and "[Errno 29]" in message
                              and re.search(r"\binput\s*\(|\bstdin\b|getpass", block.text)):
        return Verdict(NEEDS_CONTEXT, "reads input", (Need("input", "stdin"),))
    if name == "RuntimeError" and "can't start new thread" in message:
        return Verdict(NEEDS_CONTEXT, "threads cannot start in the sandbox", (Need("language", "CPython"),))
    if name == "OSError" and "does not support processes" in message:
        return Verdict(NEEDS_CONTEXT, "processes cannot start in the sandbox", (Need("language", "CPython"),))
    if name == "SystemExit" and "usage:" in result.stderr:
        return Verdict(NEEDS_CONTEXT, "needs command-line arguments", (Need("input", "command-line arguments"),))
    return _raised(said)


def python_ran(result: RunResult) -> bool:
    """Whether a Python run went to completion (``sys.exit(0)`` included)."""
    if result.timed_out:
        return False
    name, message = _python_error(result.stderr)
    return result.success or (name == "SystemExit" and message in ("", "0", "None"))


def python_names(text: str) -> set[str]:
    """Names a Python block binds (assignments, definitions, imports), found by parsing only."""
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


def python_cumulative(earlier: Sequence[str], text: str) -> str:
    """Python that runs the ``earlier`` blocks quietly (a failing one is passed over), then ``text``,
    all in one namespace, as a script's (``__name__`` is ``"__main__"``)."""
    return ("import contextlib as _c, io as _io\n"
            "_ns = {'__name__': '__main__', '__builtins__': __builtins__}\n"
            f"for _src in {list(earlier)!r}:\n"
            "    with _c.redirect_stdout(_io.StringIO()), _c.redirect_stderr(_io.StringIO()):\n"
            "        try:\n"
            "            exec(compile(_src, '<earlier block>', 'exec'), _ns)\n"
            "        except BaseException:\n"
            "            pass\n"
            f"exec(compile({text!r}, '<exec>', 'exec'), _ns)\n")


# JavaScript and TypeScript (Deno) -----------------------------------------------------------------

_JS_ERROR = re.compile(r"^error: (?:Uncaught (?:\(in promise\) )?)?(?:(?P<name>[A-Z]\w*): )?(?P<message>.*)$", re.M)
_BROWSER_GLOBALS = {"document", "window", "navigator", "localStorage", "sessionStorage", "alert", "location",
                    "HTMLElement", "customElements"}
_COMMONJS_GLOBALS = {"require", "module", "exports", "__dirname", "__filename"}
_SPECIFIER = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"]([^'"\s]+)['"]""")
_JS_BINDING = re.compile(r"(?:\b(?:const|let|var|class|function\*?)\s+|\bimport\s+(?:\*\s+as\s+)?)([A-Za-z_$][\w$]*)")
_JS_IMPORTED = re.compile(r"\bimport\s*(?:[\w$]+\s*,\s*)?\{([^}]*)\}")


def _specifier(text: str) -> str:
    """The first module a script imports that is not Deno's or Node's built-in."""
    for match in _SPECIFIER.finditer(text):
        name = match.group(1)
        if not name.startswith(("node:", "jsr:@std/")):
            return _plain(name.removeprefix("npm:"))
    return ""


def script_failure(block: Block, result: RunResult, limits: Limits) -> Verdict:
    """The verdict of a JavaScript or TypeScript block whose Deno run failed, from Deno's error."""
    if result.timed_out:
        return _timed_out(limits)
    found = _JS_ERROR.search(result.stderr)
    name, message = (found.group("name") or "", found.group("message")) if found else ("", "")
    said = _plain(f"{name}: {message}" if name else message)
    wanted = _first_quoted(message)
    if name == "SyntaxError":
        return _fragment(said)
    if name == "NotCapable":
        if "net access" in message:
            return Verdict(NEEDS_CONTEXT, said, (Need("network", _url(block.text) or wanted),))
        if "read access" in message or "write access" in message:
            return Verdict(NEEDS_CONTEXT, said, (Need("file", wanted),))
        if "env access" in message:
            return Verdict(NEEDS_CONTEXT, said, (Need("input", f"the environment variable {wanted}"),))
        return Verdict(NEEDS_CONTEXT, said, (Need("language", "Node.js"),))
    if "Fetch failed" in message or "error sending request" in message:
        return Verdict(NEEDS_CONTEXT, said, (Need("network", _url(block.text)),))
    if name == "NotFound" and "Failed to spawn" in message:
        return Verdict(NEEDS_CONTEXT, "starts a process", (Need("language", "Node.js"),))
    if not name and ("not a dependency" in message or "npm specifiers" in message or "Module not found" in message
                     or "import access" in message or "Relative import path" in message):
        return Verdict(NEEDS_CONTEXT, said, (Need("module", _specifier(block.text) or wanted),))
    if name == "ReferenceError" and message.endswith("is not defined"):
        missing = _plain(message.split()[0], 120)
        if missing in _BROWSER_GLOBALS:
            return Verdict(NEEDS_CONTEXT, f"uses the browser's {missing}", (Need("language", "browser"),))
        if missing in _COMMONJS_GLOBALS:
            module = _specifier(block.text)
            need = Need("module", module) if module else Need("language", "Node.js")
            return Verdict(NEEDS_CONTEXT, "a CommonJS module (require)", (need,))
        return Verdict(NEEDS_CONTEXT, said, (Need("name", missing[:120]),))
    return _raised(said)


def script_ran(result: RunResult) -> bool:
    """Whether a Deno run went to completion (exit status 0)."""
    return result.success and not result.timed_out


def script_names(text: str) -> set[str]:
    """Names a JavaScript or TypeScript block declares (a close reading by pattern, not a parse)."""
    names = set(_JS_BINDING.findall(text))
    for group in _JS_IMPORTED.findall(text):
        names.update(part.split(" as ")[-1].strip() for part in group.split(",") if part.strip())
    return names


def script_cumulative(earlier: Sequence[str], text: str) -> str:
    """One module: the ``earlier`` blocks with the console silenced, then ``text`` (alone: itself)."""
    if not earlier:
        return text
    quiet = ("const __triage_console = {...console};\n"
             "for (const key of ['log', 'info', 'warn', 'error', 'debug']) console[key] = () => {};\n")
    loud = "\nObject.assign(console, __triage_console);\n"
    return quiet + "\n".join(earlier) + loud + text


@dataclass(frozen=True)
class _Runner:
    """How blocks of one family (Python; JavaScript and TypeScript) run and how a failure reads."""

    ran: Callable[[RunResult], bool]
    failure: Callable[[Block, RunResult, Limits], Verdict]
    names: Callable[[str], set[str]]
    cumulative: Callable[[Sequence[str], str], str]
    tolerant: bool  # whether the cumulative code passes over an earlier block that fails


_RUNNERS = {"python": _Runner(python_ran, python_failure, python_names, python_cumulative, True),
            "script": _Runner(script_ran, script_failure, script_names, script_cumulative, False)}


class Sandboxes:
    """The sandboxes triage runs blocks in, each made when first needed: Deno ones per script
    language, and ``python_spares`` Python ones, whose fresh interpreters are taken in turn so
    that as many start side by side (one a core) while posts run.

        with Sandboxes() as sandboxes:
            for post in posts:
                verdicts = triage_post(post, sandboxes=sandboxes)

    ``check`` (the sandbox's self-check) is given the first Python unit before any block runs; if
    it raises, every later use raises the same. ``deadline`` (``time.monotonic()``), when set,
    stops any run still going past it.
    """

    def __init__(self, limits: Limits = LIMITS, python_spares: int = 2,
                 check: Callable[[Unit], None] | None = None):
        self.limits = limits
        self.python_spares = python_spares
        self._made: dict[str, Sandbox] = {}
        self._pythons: list[Sandbox] = []
        self._turn = 0
        self._check = check
        self._failed: BaseException | None = None
        self._deadline: float | None = None

    @property
    def deadline(self) -> float | None:
        return self._deadline

    @deadline.setter
    def deadline(self, value: float | None) -> None:
        self._deadline = value
        for sandbox in [*self._made.values(), *self._pythons]:
            sandbox.deadline = value

    def _new(self, **language) -> Sandbox:
        sandbox = Sandbox(self.limits, **language)
        sandbox.deadline = self._deadline
        return sandbox

    def __getitem__(self, language: str) -> Sandbox:
        """The sandbox of a script language (after the self-check, on a Python unit of its own)."""
        if self._check or self._failed:
            self.python_unit().close()
        if language not in self._made:
            self._made[language] = self._new(language=language)
        return self._made[language]

    def python_unit(self) -> Unit:
        """A fresh Python interpreter (a unit), from the Python sandboxes in turn."""
        if self._failed:
            raise self._failed
        if not self._pythons:
            self._pythons = [self._new() for _ in range(max(1, self.python_spares))]
        self._turn = (self._turn + 1) % len(self._pythons)
        unit = self._pythons[self._turn].unit()
        if self._check:
            check, self._check = self._check, None
            try:
                check(unit)
            except DeadlinePassed:  # nothing was checked: the next unit is
                unit.close()
                self._check = check
                raise
            except BaseException as exc:
                unit.close()
                self._failed = exc
                raise
        return unit

    def close(self) -> None:
        """Close every sandbox made."""
        for sandbox in [*self._made.values(), *self._pythons]:
            sandbox.close()
        self._made.clear()
        self._pythons.clear()

    def __enter__(self) -> Sandboxes:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

def _may_run_again(runner: _Runner, verdict: Verdict, timed_out: bool) -> bool:
    """Whether a block with this verdict runs again before a later block that needs its names."""
    return not timed_out and (verdict.verdict == RUNS or verdict.verdict == NEEDS_CONTEXT and (
        runner.tolerant or all(need.kind in ("name", "block") for need in verdict.needs)))


class _Post:
    """One post's runnable blocks: each runs alone first (Python in one fresh interpreter for the
    post, each run with fresh globals; a script in a fresh Deno of its own); a block missing a name
    that an earlier block of its family defines runs again after those earlier blocks (Python in a
    second fresh interpreter that the post's cumulative runs share)."""

    def __init__(self, sandboxes: Sandboxes):
        self.sandboxes = sandboxes
        self.python = None  # the post's Python unit, made at its first Python block
        self.again = None  # the fresh unit its cumulative Python runs share, made at the first
        self.earlier: dict[str, list[tuple[Block, Verdict, bool]]] = {"python": [], "script": []}

    def _run(self, language: str, code: str) -> RunResult:
        if language == "python":
            self.python = self.python or self.sandboxes.python_unit()
            return self.python.run(code)
        return self.sandboxes[language].run(code)

    def triage(self, block: Block) -> Verdict:
        language = languages.lookup(block.language).name
        family = "python" if language == "python" else "script"
        runner = _RUNNERS[family]
        code = runner.cumulative([], block.text)  # as published, alone
        result = self._run(language, code)
        if language == "javascript" and not runner.ran(result) and "SyntaxError" in result.stderr:
            result = self._run("typescript", code)  # types in a block named JavaScript
        if runner.ran(result):
            verdict = Verdict(RUNS, "ran to completion", output=result.stdout + result.stderr)
        else:
            verdict = runner.failure(block, result, self.sandboxes.limits)
            if verdict.needs and verdict.needs[0].kind == "name":
                verdict = self._after_earlier(block, family, verdict.needs[0].what, verdict)
        self.earlier[family].append((block, verdict, _may_run_again(runner, verdict, result.timed_out)))
        return verdict

    def known(self, block: Block, verdict: Verdict) -> None:
        """Take an earlier triage's verdict of ``block`` as this post's, without running it again."""
        if static_verdict(block) is not None:
            return
        family = "python" if languages.lookup(block.language).name == "python" else "script"
        timed_out = any(need.kind == "time" for need in verdict.needs)
        self.earlier[family].append((block, verdict, _may_run_again(_RUNNERS[family], verdict, timed_out)))

    def _after_earlier(self, block: Block, family: str, name: str, alone: Verdict) -> Verdict:
        runner, earlier = _RUNNERS[family], self.earlier[family]
        defining = [(before, verdict) for before, verdict, _ in earlier if name in runner.names(before.text)]
        if not defining:
            return alone
        code = runner.cumulative([before.text for before, _, again in earlier if again], block.text)
        if family == "python":
            self.again = self.again or self.sandboxes.python_unit()
            result = self.again.run(code)
        else:
            result = self.sandboxes["typescript"].run(code)  # TypeScript reads JavaScript too
        after, its_verdict = defining[-1][0].ordinal, defining[-1][1]
        if runner.ran(result):
            return Verdict(RUNS, f"runs after block {after}", output=result.stdout + result.stderr, after=after)
        still = runner.failure(block, result, self.sandboxes.limits)
        # Still lacking the name: the defining block itself did not run; what it lacks, this one lacks.
        lacks = its_verdict.needs if any(need.kind == "name" for need in still.needs) else still.needs
        needs = [Need("block", str(after))]
        needs += [need for need in lacks if need not in needs and need.kind != "name"]
        return Verdict(NEEDS_CONTEXT, _plain(f"needs block {after}, then: {still.reason}", 240), tuple(needs))

    def close(self) -> None:
        for unit in (self.python, self.again):
            if unit is not None:
                unit.close()


def triage_post(blocks: Sequence[Block], *, sandbox_limits: Limits = LIMITS, sandboxes: Sandboxes | None = None,
                progress: Callable[[Block, Verdict], None] | None = None,
                known: Mapping[int, Verdict] | None = None) -> list[Verdict]:
    """One verdict per block, in order; runs the post's runnable blocks in the sandbox, one fresh
    interpreter per post (per language), cumulatively where a block needs an earlier block's names.
    ``sandboxes`` (whose limits then apply), kept open by a caller triaging many posts, is reused;
    without it they are made here and closed. ``known`` (by ordinal) are verdicts an earlier triage
    gave that still stand: those blocks are not run again, but still run before a later block that
    needs their names. Raises SandboxUnavailable when the sandbox cannot run."""
    own = sandboxes is None
    sandboxes = sandboxes or Sandboxes(sandbox_limits, python_spares=1)
    post = _Post(sandboxes)
    verdicts = []
    try:
        for block in blocks:
            if known and block.ordinal in known:  # a verdict still current: the block is not run again
                post.known(block, known[block.ordinal])
                verdicts.append(known[block.ordinal])
                continue
            verdict = static_verdict(block) or post.triage(block)
            verdicts.append(verdict)
            if progress:
                progress(block, verdict)
    finally:
        post.close()
        if own:
            sandboxes.close()
    return verdicts
