"""Triage: an honest verdict for every code block of a post, found by running it in the sandbox.

    verdicts = triage_post([Block(1, "python", "import numpy"), Block(2, "shell", "ls -l")])
    verdicts[0].verdict, verdicts[0].reason, verdicts[0].needs   # needs-context, ..., (Need(module numpy),)

Verdicts that ran, each saying what the run checked: ``defines`` (ran; its top level only defined
names, listed in ``names``: no call, no output), ``runs`` (ran and did something: printed, wrote a
file or called something at its top level; ``output``, ``names`` the calls), ``matches`` and
``differs`` (a console session run prompt by prompt, or a block followed by a block of its output,
compared as doctest compares; ``diff`` shows how it differs). Verdicts that did not:
``needs-context`` (real code that lacks something, named in ``needs``) and ``illustrative`` (not a
program: output, configuration, a diff, a command line, a fragment; the reason says which).

A block is dedented before it runs, as a reader would paste it. A Python block runs as steps
(``Unit.run_steps``): whether it raised, whether each of its tests passed and what each prompt of a
session printed or raised are what the sandbox's guest script observed, out of the block's reach.
What its top level called is measured in its own namespace (``sys.monitoring``) and reported as
JSON: the block could forge that report, so the host checks its shape and it decides only between
``runs`` and ``defines``. A Node session's reporter shares the inputs' realm and is written so that
they cannot reach it (functions taken before the first input, a per-run secret marker). Nothing
runs on the host. A block that did not run to completion is never called ``defines``, ``runs`` or
``matches``.
"""

from __future__ import annotations

import ast
import json
import re
import secrets
import string
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import metadata

from blogtools import language_guess, languages, sessions, untrusted
from blogtools.sandbox import (
    SCRIPT_EXTENSIONS,
    Limits,
    RunResult,
    Sandbox,
    Step,
    Unit,
    runtime,
)
from blogtools.sandbox.selfcheck import DeadlinePassed

DEFINES, RUNS, MATCHES, DIFFERS = "defines", "runs", "matches", "differs"
NEEDS_CONTEXT, ILLUSTRATIVE = "needs-context", "illustrative"
VERDICTS = (DEFINES, RUNS, MATCHES, DIFFERS, NEEDS_CONTEXT, ILLUSTRATIVE)
RAN = frozenset({DEFINES, RUNS, MATCHES, DIFFERS})  # the block ran to completion (every prompt, for a session)
# "time": the block did not finish within the sandbox's limit (a server, a long loop); its ``what``
# is the limit ("5 s").
NEED_KINDS = ("block", "name", "module", "file", "network", "input", "language", "time")
RULES_VERSION = "6"
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
    """One block's verdict. ``output`` (runs, matches, differs) is the sandbox's raw, untrusted
    stdout+stderr; ``names`` what a ``defines`` block defined or the calls a ``runs`` block's top
    level made (untrusted: reported by the sandbox); ``diff`` how a ``differs`` block's output
    differs from the post's; ``after``, the earlier block it ran after."""

    verdict: str
    reason: str
    needs: tuple[Need, ...] = ()
    output: str = ""
    after: int | None = None
    names: tuple[str, ...] = ()
    diff: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")
        if bool(self.needs) != (self.verdict == NEEDS_CONTEXT):
            raise ValueError("needs are given exactly for needs-context")

    def as_json(self) -> dict:
        """The verdict as plain JSON data (``names`` and ``diff`` only when there are some)."""
        return {"verdict": self.verdict, "reason": self.reason,
                "needs": [{"kind": need.kind, "what": need.what} for need in self.needs],
                "output": self.output, "after": self.after,
                **({"names": list(self.names)} if self.names else {}), **({"diff": self.diff} if self.diff else {})}

    @classmethod
    def from_json(cls, data) -> Verdict:
        """The verdict ``as_json`` gave; ValueError (or KeyError/TypeError) for anything else."""
        needs = tuple(Need(str(need["kind"]), str(need["what"])) for need in data.get("needs", ()))
        after = data.get("after")
        if after is not None and (not isinstance(after, int) or isinstance(after, bool)):
            raise ValueError("after: not an integer")
        names = data.get("names", [])
        if not isinstance(names, list):
            raise ValueError("names: not a list")
        return cls(str(data["verdict"]), str(data["reason"]), needs, str(data.get("output", "")), after,
                   tuple(str(name) for name in names), str(data.get("diff", "")))


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
_IPYTHON_LINE = re.compile(r"^\s*(%{1,2}[a-z]\w*|![a-z])", re.M)
# A compiler's or linter's message: "error[E0597]: ...", "warning: ...", "src/x.c:3:1: error: ...".
_DIAGNOSTIC = re.compile(r"(?:(?:error|warning)(?:\[\w+\])?: |[\w./-]+:\d+:\d+: (?:error|warning): )")
# Parts left out on purpose: a body "{ ... }", or a line that is only "..." (a comment's included).
_ELIDED = re.compile(r"\{\s*(?:/[/*]\s*)?(?:\.\.\.|…)\s*(?:\*/\s*)?\}|^\s*(?://|#|/\*)?\s*(?:\.\.\.|…)\s*(?:\*/)?\s*$", re.M)
_SHELL_PROMPT = re.compile(r"^\s*(\(\w[\w.-]*\) )?[\w@.:~/-]*\$ \S", re.M)
# Prompts of other shells anywhere in a block: PowerShell "PS C:\>", cmd "C:\>", "root@host:/#".
_OTHER_PROMPT = re.compile(r"^\s*(?:PS [A-Za-z]:\\[^>\n]*> |[A-Za-z]:\\[^>\n]*>\s?\S|[\w.-]+@[\w.-]+:[^\s#$]*[#$] )", re.M)
_TREE = re.compile(r"^[\s│|]*(?:├──|└──|\|--|`--|\+--) ", re.M)
_NUMBERED = re.compile(r"^\s*\d+[:.)|]?\s+\S")
_SSH_CONFIG = re.compile(r"^\s*(?:Host|HostName|User|Port|IdentityFile|ProxyJump|ProxyCommand|ForwardAgent|"
                         r"IdentitiesOnly|StrictHostKeyChecking|UserKnownHostsFile|LocalForward|ServerAliveInterval)\s+\S",
                         re.M | re.I)
_SESSION_LANGUAGES = ("python", "pycon", "console", "text", "")  # where a Python prompt makes a session
# Where a Node REPL transcript may stand: a block named JavaScript, or one whose name says nothing of
# a language (then it must also look like Node's: a JavaScript input, a value printed as Node prints).
_NODE_LANGUAGES, _NODE_UNNAMED = ("javascript",), ("console", "text", "")
_JS_INPUT = re.compile(r"[()[\]{}=.'\"`]|\b(?:const|let|var|function|class|new|await)\b")
_NODE_VALUE = re.compile(r"^(?:undefined|null|true|false|-?\d[\d_.e+n]*|'.*'|\[.*|\{.*|\w+ \{.*|\[Function.*|"
                         r"Uncaught .*|Promise \{.*|(?:Map|Set)\(\d+\) \{.*)$")


def _console_session(text: str) -> bool:
    """A transcript of a console: a shell ``$``, a REPL ``>`` prompt first, or another shell's prompt."""
    first = text.lstrip("\n")
    return bool(_SHELL_PROMPT.match(first) or first.startswith("> ") or _OTHER_PROMPT.search(text))


def _looks_like_output(text: str) -> str:
    """What a block is when it is shaped like output or configuration rather than a program, or ""."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(_TREE.findall(text)) >= 2:
        return "directory tree"
    if len(lines) >= 2 and sum(bool(_NUMBERED.match(line)) for line in lines) >= 0.8 * len(lines):
        return "numbered listing"
    if lines and len(_SSH_CONFIG.findall(text)) >= max(2, 0.6 * len(lines)):
        return "SSH configuration"
    return ""


def _command_lines(text: str) -> list[str]:
    """The logical lines of a shell block that are commands (no blank lines, no comments)."""
    joined = re.sub(r"\\\n", " ", text)
    return [line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def dedented(text: str) -> str:
    """The block as a reader would paste it: the indentation all its lines share removed (tabs as
    well as spaces; tabs taken as 8 columns when the lines mix both)."""
    flush = textwrap.dedent(text)
    if "\t" in text and all(line[:1] in " \t" for line in flush.splitlines() if line.strip()):
        return textwrap.dedent(text.expandtabs(8))
    return flush


def _console_of(block: Block) -> _Console | None:
    """How a (dedented) block runs as a console session, or None when it is not one."""
    return PYTHON_CONSOLE if is_python_session(block) else NODE_CONSOLE if is_node_session(block) else None


def is_python_session(block: Block) -> bool:
    """Whether a block is a Python (or IPython) console session, to run prompt by prompt."""
    language = languages.lookup(block.language)
    name = language.name if language else block.language.strip().lower()
    return name in _SESSION_LANGUAGES and sessions.is_session(block.text)


def is_node_session(block: Block) -> bool:
    """Whether a block is a Node REPL transcript to run prompt by prompt: Node's shape (``> ``
    inputs, each parsing as JavaScript, with output between them), in a block named JavaScript
    or, unnamed, one with an input and an output that only JavaScript would show."""
    language = languages.lookup(block.language)
    name = language.name if language else block.language.strip().lower()
    if name not in (*_NODE_LANGUAGES, *_NODE_UNNAMED) or not block.text.lstrip().startswith(("> ", "$ node")) \
            or len(block.text) > MAX_PARSED_CHARS:  # a feed's text parsed on the host: bounded, as Python's
        return False
    examples = sessions.node_examples(block.text)
    if not examples or not all(language_guess.parses(example.source, "javascript") for example in examples):
        return False
    return name in _NODE_LANGUAGES or (any(_JS_INPUT.search(example.source) for example in examples) and any(
        _NODE_VALUE.match(line.strip()) for example in examples for line in example.want.splitlines()))


def static_verdict(block: Block) -> Verdict | None:
    """The verdict a block gets from its language and shape alone, or None when it must run."""
    language = languages.lookup(block.language)
    name = language.name if language else block.language.strip().lower()
    text = block.text
    if not text.strip():
        return Verdict(ILLUSTRATIVE, "empty block")
    if is_python_session(block):
        return None if sessions.session_examples(text) else Verdict(ILLUSTRATIVE, "console session")
    if is_node_session(block):
        return None
    if name in (*_RUN, "shell", "text", "") and _console_session(text):
        return Verdict(ILLUSTRATIVE, "console session")
    if name in (*_RUN, "shell", "text", "") and (shape := _looks_like_output(text)):
        return Verdict(ILLUSTRATIVE, shape)
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
    return Verdict(NEEDS_CONTEXT, f"no sandbox runs {label}{language_guess.parse_note(text, name)}", (Need("language", label),))


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
_PYTEST_USE = re.compile(r"\bpytest\.((?:mark\.)?\w+)")
# pytest does not import in the sandbox's hardened interpreter (its dependencies build namedtuples
# with defaults, and replacing a function's __defaults__ is refused there): its tests are not run.
_NO_PYTEST = "; pytest does not run in the sandbox"


def _python_error(stderr: str) -> tuple[str, str]:
    """The exception a failed Python run ended with: (short name, message), ("", "") if none is seen."""
    found = None
    for found in _PY_ERROR.finditer(stderr):
        pass
    if found is None:
        return "", ""
    return found.group("name").rpartition(".")[2], (found.group("message") or "").strip()


def _missing_module(module: str, said: str, text: str) -> Verdict:
    """The verdict of a block that imports a module the sandbox lacks."""
    if module in _STDLIB or module.startswith("_"):
        return Verdict(NEEDS_CONTEXT, f"the sandbox's Python lacks {module}", (Need("language", "CPython"),))
    if module == "pytest":
        used = list(dict.fromkeys(_PYTEST_USE.findall(text)))
        return Verdict(NEEDS_CONTEXT, _plain(f"its tests use pytest{f' ({_listed(used)})' if used else ''}{_NO_PYTEST}"),
                       (Need("module", "pytest"),))
    return Verdict(NEEDS_CONTEXT, said, (Need("module", module or "?"),))


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
        return _missing_module(_first_quoted(message).partition(".")[0], said, block.text)
    if name == "ImportError" and "not available in the sandbox" in message:
        return Verdict(NEEDS_CONTEXT, "the sandbox's Python cannot run this", (Need("language", "CPython"),))
    if name == "NameError":  # pytest used unimported: a block of a test file, which imports it
        missing = _first_quoted(message)
        return _missing_module(missing, said, block.text) if missing == "pytest" else Verdict(
            NEEDS_CONTEXT, said, (Need("name", missing or "?"),))
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
    """Whether a Python run went to completion (``sys.exit(0)`` included: the sandbox judged it,
    never the traceback's text, which the block can shape)."""
    return result.success and not result.timed_out


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


# What a Python block that imports nothing can reach besides its own objects: the builtins. These
# names and attributes would let it reach or change the interpreter's shared state (modules, sys,
# builtins, frames, files); a block that uses none of them leaves nothing a later block can see (the
# sandbox forgets the REPL's "_", the last error and the block's cycles after every run).
_REACHING_NAMES = frozenset({"exec", "eval", "compile", "open", "input", "breakpoint", "help", "globals", "locals",
                             "vars", "getattr", "setattr", "delattr", "hasattr", "exit", "quit", "copyright",
                             "credits", "license"})
_OWN_DUNDER_NAMES = frozenset({"__name__", "__doc__", "__qualname__", "__module__", "__slots__", "__all__"})
_PLAIN_DUNDER_ATTRIBUTES = frozenset({"__name__", "__qualname__", "__doc__", "__init__", "__new__", "__repr__", "__str__",
                                      "__eq__", "__hash__", "__len__", "__iter__", "__next__", "__enter__", "__exit__",
                                      "__call__", "__getitem__", "__setitem__", "__contains__"})
_FRAME_ATTRIBUTES = ("gi_", "cr_", "ag_", "tb_", "f_", "co_")  # generators', tracebacks' and frames' way to frames


def _plain_format(node: ast.expr) -> bool:
    """Whether ``node`` (what ``.format`` is called on) is a string literal whose fields look up no
    attribute or item (``"{0.__class__}"`` would, at run time, past the parser)."""
    if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
        return False
    try:
        fields = list(string.Formatter().parse(node.value))
    except ValueError:
        return False
    return not any(field and re.search(r"[.\[]", field) or spec and "{" in spec for _, field, spec, _ in fields)


def python_contained(text: str) -> bool:
    """Whether a Python block provably changes nothing a later block in the same interpreter can
    see: it imports nothing and names none of the builtins, dunders or frame attributes that reach
    the interpreter's shared state (found by parsing only; anything unsure is not contained)."""
    if len(text) > MAX_PARSED_CHARS:
        return False
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.Match)):  # a class pattern reads attributes by name
            return False
        if isinstance(node, ast.Name) and (node.id in _REACHING_NAMES or node.id.startswith("__") and node.id not in _OWN_DUNDER_NAMES):
            return False
        if isinstance(node, ast.Attribute):
            attribute = node.attr
            if attribute.startswith(_FRAME_ATTRIBUTES) or "__" in attribute and attribute not in _PLAIN_DUNDER_ATTRIBUTES:
                return False
            if attribute in ("format", "format_map") and not _plain_format(node.value):
                return False
    return True


# A block run as a script is a run of steps (``Unit.run_steps``) in one namespace, each step's
# output and success seen by the sandbox's guest script, out of the block's reach: the earlier
# blocks (quiet, a failing one passed over), then _MONITOR, the block, _CALLS and one step per test.
# _MONITOR has sys.monitoring report each call the block's top level makes (once a call site) and
# _CALLS prints them as JSON: that report is written in the block's own namespace, so the block
# may forge it, and it decides only between ``runs`` and ``defines`` (both: the block ran).
_MONITOR = """\
def __triage_monitor():
    import sys
    m, calls = sys.monitoring, []
    def seen(code, offset, called, arg0):
        if code.co_filename == '<exec>' and code.co_name == '<module>' and len(calls) < 64:
            try:
                name = str(getattr(called, '__qualname__', None) or type(called).__name__)[:80]
            except BaseException:
                name = '?'
            calls.append([next((n for a, b, n in code.co_lines() if a <= offset < b), 0) or 0, name])
        return m.DISABLE
    seen.calls = calls
    if m.get_tool(5) is not None:
        m.free_tool_id(5)
    m.use_tool_id(5, 'triage')
    m.restart_events()
    m.register_callback(5, m.events.CALL, seen)
    m.set_events(5, m.events.CALL)
__triage_monitor()
del __triage_monitor
"""
_CALLS = """\
def __triage_calls():
    import json, sys
    m = sys.monitoring
    m.set_events(5, 0)
    seen = m.register_callback(5, m.events.CALL, None)
    m.free_tool_id(5)
    print(json.dumps({'calls': seen.calls}))
__triage_calls()
del __triage_calls
"""
_EARLIER = "<earlier block>"
_HARNESS = "<triage>"  # the steps triage adds around a block (_MONITOR, _CALLS): its own code


def python_steps(earlier: Sequence[str], text: str, tests: Sequence[str] = ()) -> list[Step]:
    """The steps that run the ``earlier`` blocks quietly (a failing one is passed over), then
    ``text`` as a script (``__name__`` is ``"__main__"``) with the calls its top level makes
    reported, then calls each of ``tests``, each in a step of its own."""
    return [*(Step(source, quiet=True, filename=_EARLIER) for source in earlier), Step(_MONITOR, quiet=True, filename=_HARNESS),
            Step(text, exits=True), Step(_CALLS, filename=_HARNESS), *(Step(f"if {test}() is not None:\n    raise TypeError('{test} returned a value: pytest fails it')", filename="<test>")
              for test in tests)]


_TEST_LINE = re.compile(r'^  File "<exec>", line (\d+)', re.M)


def python_outcome(result: RunResult, text: str, tests: Sequence[str]) -> tuple[RunResult, dict | None]:
    """The block's own run out of a run of ``python_steps``: its step's output and success (and
    what the tests printed), and the report: ``tests`` as the sandbox saw each one end ([name,
    None when it passed or its traceback, the block's line it failed at]) and the ``calls`` its
    top level made (written in its namespace: forgeable, only its shape is checked). A run that
    was stopped is returned whole, with no report."""
    if len(result.steps) < 3 + len(tests):
        return result, None
    block, calls, *called = result.steps[len(result.steps) - 2 - len(tests):]
    ran = []
    for test, step in zip(tests, called):
        lines = [int(n) for n in _TEST_LINE.findall(step.stderr) if 0 < int(n) <= len(text.splitlines())]
        ran.append([test, None if step.success else step.stderr, lines[-1] if lines else 0])
    report: dict = {"tests": ran}
    try:
        reported = json.loads(calls.stdout) if calls.success else None
    except ValueError:
        reported = None
    if isinstance(reported, dict) and "calls" in reported:
        report["calls"] = reported["calls"]
    own = replace(block, stdout=block.stdout + "".join(step.stdout for step in called), output_files=result.output_files)
    return own, report


def session_steps(earlier: Sequence[str], examples: Sequence[sessions.Example]) -> list[Step]:
    """The steps that run a session's prompts one by one in one namespace, each as the REPL
    compiles a prompt (an expression's value printed), after the ``earlier`` blocks, quietly."""
    return [*(Step(source, quiet=True, filename=_EARLIER) for source in earlier),
            *(Step(example.source, mode="single", filename="<stdin>") for example in examples)]


def python_prompts(result: RunResult, examples: Sequence[sessions.Example], marker: str) -> list[list[str]] | None:
    """What each prompt of a run of ``session_steps`` printed and raised, as the sandbox saw it:
    ["output", printed, ""] or ["raised", printed, traceback]; None when the run was stopped."""
    if len(result.steps) < len(examples):
        return None
    prompts = result.steps[len(result.steps) - len(examples):]
    return [["output", step.stdout[-4000:], ""] if step.success else ["raised", step.stdout[-4000:], step.stderr[-2000:]]
            for step in prompts]


def take_report(result: RunResult, marker: str) -> tuple[RunResult, dict | None]:
    """The run without its report line, and the report: the one line after ``marker`` (a secret of
    this run), a JSON object, or None when there is none, more than one, or the run failed."""
    if result.stderr.count("\n" + marker) != 1:
        return result, None
    start = result.stderr.find("\n" + marker)
    end = result.stderr.find("\n", start + 1)
    end = len(result.stderr) if end < 0 else end + 1
    line = result.stderr[start + 1 + len(marker): end]
    try:
        report = json.loads(line)
    except ValueError:
        report = None
    stripped = replace(result, stderr=result.stderr[:start] + result.stderr[end:])
    return stripped, report if isinstance(report, dict) and result.success else None


def _reported_calls(report: dict, lines: int) -> list[tuple[int, str]]:
    """The report's calls that have the right shape: [line within the block, a short name]."""
    calls = report.get("calls")
    if not isinstance(calls, list):
        return []
    return [(call[0], untrusted.line(call[1], 80)) for call in calls[:64]
            if isinstance(call, list) and len(call) == 2 and type(call[0]) is int and 0 < call[0] <= lines
            and isinstance(call[1], str)]


def _top_level(text: str) -> tuple[list[tuple[int, int]], list[str], list[str], list[str]]:
    """A Python block's top level, parsed: the line spans of its definitions (a call made there,
    by a decorator or a class statement, defines), the names it binds, and, when pytest-style
    test functions are all it defines, those that take no argument and the fixtures the others take."""
    try:
        tree = ast.parse(text) if len(text) <= MAX_PARSED_CHARS else ast.Module([], [])
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return [], [], [], []
    spans, names, imported, functions, classes = [], [], [], [], 0
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
            spans.append((first, node.end_lineno or node.lineno))
            names.append(node.name)
            functions += [node] if not isinstance(node, ast.ClassDef) else []
            classes += isinstance(node, ast.ClassDef)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            imported += [(alias.asname or alias.name).partition(".")[0] for alias in node.names]
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)]
    tests = [f for f in functions if f.name.startswith("test")]
    if classes or not tests or len(tests) != len(functions) or any(isinstance(f, ast.AsyncFunctionDef) for f in tests):
        return spans, list(dict.fromkeys(names or imported)), [], []
    fixtures = {f.name: [a.arg for a in (*f.args.posonlyargs, *f.args.args, *f.args.kwonlyargs)] for f in tests}
    takes = list(dict.fromkeys(arg for args in fixtures.values() for arg in args))
    return spans, list(dict.fromkeys(names)), [f.name for f in tests if not fixtures[f.name]], takes


def _tests_verdict(text: str, ran: Sequence[Sequence], output: str, after: int | None, limits: Limits) -> Verdict:
    """A block of tests, each called (``ran``: [name, None or the traceback it failed with, line]):
    ``runs`` when all pass; when asserts fail, ``differs`` (what the block asserts is not what its
    code does: the first failures, each at its line). A test that raises anything else (SystemExit
    too, as pytest says) reads as a block that raises it: ``needs-context`` when the error says what
    it lacks (a name, a module, a file), else ``illustrative``."""
    names = tuple(name for name, _, _ in ran)
    failed = [(name, said, line) for name, said, line in ran if said is not None]
    if not failed:
        return Verdict(RUNS, _plain(f"its {_count(len(ran), 'test')} pass ({_listed(names)})"), output=output,
                       after=after, names=names)
    for _, said, _ in failed:
        if _python_error(said)[0] != "AssertionError":
            return python_failure(Block(0, "python", text), RunResult("", said, False), limits)
    source = text.splitlines()

    def error(said: str) -> str:
        name, message = _python_error(said)
        return _plain(f"{name}: {message}" if message else name or "did not pass", 200)

    diff = "\n".join(f"{name}, line {line}: {_plain(source[line - 1].strip(), 120)}\n  {error(said)}"
                     if line else f"{name}: {error(said)}" for name, said, line in failed[:3])
    return Verdict(DIFFERS, _plain(f"{len(failed)} of {_count(len(ran), 'test')} fail{'s' * (len(failed) == 1)} "
                                   f"({_listed([name for name, _, _ in failed])})"),
                   output=output, after=after, names=names, diff=diff)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def _listed(names: Sequence[str], most: int = 4) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def what_it_did(text: str, result: RunResult, report: dict | None, after: int | None = None,
                limits: Limits = LIMITS) -> Verdict:
    """The verdict of a Python block that ran to completion, from what the sandbox measured: its
    output, the files it wrote, and (``report``, from ``python_outcome``) the tests called, as the
    sandbox saw each end, and the calls its top level made."""
    output = result.stdout + result.stderr
    printed = len(output.splitlines())
    spans, names, tests, _ = _top_level(text)
    did = "; ".join(part for part in (f"prints {_count(printed, 'line')}" if printed else "",
                                      f"writes {_count(len(result.output_files), 'file')}" if result.output_files else "")
                    if part)
    if tests and report and [name for name, _, _ in report.get("tests", ())] == tests:
        return _tests_verdict(text, report["tests"], output, after, limits)
    if report is None or "calls" not in report:  # the block cut its report off: only what the host saw is said
        return Verdict(RUNS, f"{did or 'prints nothing'} (its calls were not reported)", output=output, after=after)
    called = [name for line, name in _reported_calls(report, len(text.splitlines()))
              if not any(first <= line <= last for first, last in spans)]
    calls = list(dict.fromkeys(called))
    if did or calls:
        return Verdict(RUNS, _plain(did or f"calls {_listed(calls)}; prints nothing"), output=output, after=after,
                       names=tuple(calls[:20]))
    shown = f"defines {_listed(names)}" if names else "defines nothing"
    return Verdict(DEFINES, _plain(f"{shown}; nothing called"), after=after, names=tuple(names[:20]))


def session_verdict(block: Block, examples: Sequence[sessions.Example], result: RunResult, got: list | None,
                    limits: Limits, after: int | None = None, console: _Console | None = None) -> Verdict:
    """The verdict of a console session (Python's unless ``console`` says) from what each prompt
    printed or raised in the sandbox (``got``: the console's ``prompts``), compared with what the
    post shows after it (doctest's normalisation)."""
    console = console or PYTHON_CONSOLE
    if any(step.truncated for step in result.steps):
        return Verdict(ILLUSTRATIVE, "prints more than the sandbox keeps: its prompts were not all checked")
    if not isinstance(got, list) or len(got) != len(examples):
        return console.failure(block, result, limits) if not console.ran(result) else _raised("")
    differs = []
    for example, item in zip(examples, got):
        if not (isinstance(item, list) and len(item) == 3 and all(isinstance(part, str) for part in item)):
            return _raised("")
        kind, printed, raised = item
        shown = console.shown_error(example.want)
        if kind == "raised" and not shown:
            needs = console.failure(block, console.raised(raised), limits)
            if needs.verdict == NEEDS_CONTEXT:
                return needs
            differs.append((example, example.want, printed + raised))
        elif kind == "raised":
            if not sessions.same(shown, raised.strip().splitlines()[-1] + "\n" if raised.strip() else ""):
                differs.append((example, shown, raised))
        elif not console.same(example.want, printed):
            differs.append((example, example.want, printed))
    prompts = _count(len(examples), "prompt")
    if not differs:
        return Verdict(MATCHES, f"{prompts} checked", after=after)
    example, want, printed = differs[0]
    diff = f"line {example.line}: {_plain(example.source.strip(), 120)}\n" + sessions.short_diff(want, printed)
    return Verdict(DIFFERS, f"{len(differs)} of {prompts} differ{'s' * (len(differs) == 1)}, first at line {example.line}",
                   output="".join(part[1] for part in got if isinstance(part, list) and len(part) == 3)[:4000],
                   after=after, diff=diff)


def _exception_line(want: str) -> str:
    """The exception line of a traceback the post shows ("ValueError: bad value"), "" for none."""
    lines = [line for line in want.splitlines() if line.strip()]
    return (lines[-1].strip() + "\n") if lines and want.lstrip().startswith("Traceback (") else ""


_NODE_ERROR = re.compile(r"^(?:Uncaught:? +)?((?:[A-Z]\w*)?(?:Error|Exception)\b.*)$|^Uncaught:? +(.+)$")


def _node_error_line(want: str) -> str:
    """The error a Node REPL transcript shows ("Uncaught TypeError: x is not a function", or
    "TypeError: ..." as Node before 16 printed it), without "Uncaught"; "" for none."""
    for line in want.splitlines():
        if found := _NODE_ERROR.match(line.strip()):
            return (found.group(1) or found.group(2)).strip() + "\n"
    return ""


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
    if name in ("", "TypeError") and ("not a dependency" in message or "npm specifiers" in message or "Module not found" in message
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


def script_did(text: str, result: RunResult, report: dict | None, after: int | None = None,
               limits: Limits = LIMITS) -> Verdict:
    """The verdict of a script that ran: what it printed (its calls are not measured in Deno)."""
    output = result.stdout + result.stderr
    printed = len(output.splitlines())
    return Verdict(RUNS, f"prints {_count(printed, 'line')}" if printed else "prints nothing", output=output,
                   after=after)


# A Node REPL session in Deno: each input evaluated as a script in one realm (node:vm, as Node's REPL
# does: declarations persist, a statement's completion value is printed with Node's util.inspect, its
# timers are Node's, ``await import()`` loads as a module would; ``require`` stays undefined, so a
# CommonJS import says it needs Node.js); console output kept per prompt; the earlier blocks run
# quietly first, a failing one passed over. Each input is tried in the forms ``_node_forms`` gives.
# The inputs share the reporter's realm, so the reporter holds: every function it calls after the
# first input runs was taken before (no prototype, global or module property is looked up again),
# what it records sits in objects no input can reach, it writes the report itself, once, under a
# marker that is a secret of this run (in no function an input can reach), then ends the process.
_NODE_SESSION = string.Template("""\
import vm from "node:vm";
import util from "node:util";
import timers from "node:timers";
const {setTimeout, setInterval, setImmediate, clearTimeout, clearInterval, clearImmediate} = timers;
Object.assign(globalThis, {global: globalThis, setTimeout, setInterval, setImmediate, clearTimeout, clearInterval,
                           clearImmediate});  // Node's timers (a Timeout object, not a number), and its global
const {apply, defineProperty, getPrototypeOf} = Reflect, {stringify} = JSON, {inspect, format} = util, {create} = Object;
const {Script, constants} = vm, runScript = Script.prototype.runInThisContext, Promise_ = Promise;
const then = Promise.prototype.then, slice = String.prototype.slice, SyntaxErrorPrototype = SyntaxError.prototype;
const ErrorPrototype = Error.prototype, stderr = Deno.stderr, writeSync = stderr.writeSync, exit = Deno.exit;
const encoder = new TextEncoder(), encode = TextEncoder.prototype.encode, subarray = Uint8Array.prototype.subarray;
const loader = constants.USE_MAIN_CONTEXT_DEFAULT_LOADER;
const options = Object.freeze({__proto__: null, filename: "REPL", importModuleDynamically: loader});
const marker = $marker, got = create(null), console_ = console;
let out = create(null), printed = 0;
for (const key of ["log", "info", "warn", "error", "debug", "trace", "dir"]) {
  console_[key] = (...args) => { out[printed++] = apply(format, undefined, args) + "\\n"; };
}
globalThis.addEventListener("unhandledrejection", (event) => event.preventDefault());
const run = (code) => apply(runScript, new Script(code, options), []);
const inherits = (value, prototype) => {
  for (let p = value; typeof p === "object" && p !== null || typeof p === "function"; p = getPrototypeOf(p)) {
    if (p === prototype) return true;
  }
  return false;
};
const said = (e) => {
  try { return inherits(e, ErrorPrototype) ? `$${e.name}: $${e.message}` : inspect(e); } catch { return "?"; }
};
const last = (text, n) => apply(slice, text, [-n]);
function settled(value) {  // a promise awaited here, with no then or constructor an input can replace
  const promise = new Promise_((resolve, reject) => apply(then, value, [resolve, reject]));
  defineProperty(promise, "constructor", {value: Promise_});
  return promise;
}
// The value an input shows, boxed (an object with no prototype is no thenable: a promise or a
// thenable an input evaluates to is shown as it is, as Node's REPL shows it, never awaited).
const boxed = (value) => { const box = create(null); box.value = value; return box; };
async function evaluate(forms) {
  for (let i = 0; i < forms.length; i++) {
    const code = forms[i][0], awaited = forms[i][1];  // no destructuring: it would call the array iterator
    let script;
    try {  // only a form that does not compile gives way to the next, as in Node's REPL: never an error it throws
      script = new Script(code, options);
    } catch (e) {
      if (i === forms.length - 1 || !inherits(e, SyntaxErrorPrototype)) throw e;
      continue;
    }
    const value = apply(runScript, script, []);
    if (!awaited) return boxed(value);
    const resolved = await settled(value);
    return awaited === 1 ? resolved : boxed(undefined);
  }
}
const earlier = $earlier, prompts = $prompts;
for (let i = 0; i < earlier.length; i++) { try { run(earlier[i]); } catch { /* passed over, as in Python */ } }
for (let i = 0; i < prompts.length; i++) {
  out = create(null);
  printed = 0;
  let kind = "output", value, error = "";
  try {
    value = (await settled(evaluate(prompts[i]))).value;
  } catch (e) {
    kind = "raised";
    error = last(said(e), 500);
  }
  let text = "";
  for (let j = 0; j < printed; j++) text += out[j];
  if (kind === "output") {
    try { text += inspect(value, {showProxy: true}) + "\\n"; } catch (e) { kind = "raised"; error = last(said(e), 500); }
  }
  got[i] = "[" + stringify(kind) + "," + stringify(last(text, 4000)) + "," + stringify(error) + "]";
}
let examples = "";
for (let i = 0; i < prompts.length; i++) examples += (i ? "," : "") + got[i];
const bytes = apply(encode, encoder, ["\\n" + marker + '{"examples":[' + examples + "]}\\n"]);
for (let offset = 0; offset < bytes.length;) offset += apply(writeSync, stderr, [apply(subarray, bytes, [offset])]);
exit(0);
""")
_LEADING_DECLARATION = re.compile(r"^(\s*)(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=", re.M | re.A)


def _node_forms(source: str) -> list[tuple[str, int]]:
    """The forms Node's REPL tries an input in, in order, each (code, 0 for its value, 1 for the
    value it resolves to, 2 for undefined once it resolves): an object literal first as an
    expression; as written; with ``await``, as an async expression, then as an async body whose
    declarations become globals."""
    text = source.strip()
    forms = [(f"({source})", 0)] if text.startswith("{") and not text.endswith(";") else []
    forms.append((source, 0))
    if re.search(r"\bawait\b", source):
        body = _LEADING_DECLARATION.sub(r"\1globalThis.\2 =", source)
        forms += [(f"(async () => ({{__proto__: null, value: ({text.rstrip(';')}\n)}}))()", 1), (f"(async () => {{{body}\n}})()", 2)]
    return forms


def node_session_program(earlier: Sequence[str], examples: Sequence[sessions.Example], marker: str) -> str:
    """JavaScript (a module for Deno) that runs a Node REPL session's inputs one by one in one realm,
    as Node's REPL does (after ``earlier`` blocks, quietly), reporting under ``marker`` (a secret of
    this run) what each printed, with the value Node shows, or the error it threw."""
    return _NODE_SESSION.substitute(earlier=json.dumps(list(earlier)), marker=json.dumps(marker),
                                    prompts=json.dumps([_node_forms(e.source) for e in examples]))


def node_prompts(result: RunResult, examples: Sequence[sessions.Example], marker: str) -> list | None:
    """What each input of a ``node_session_program`` run printed and raised (its report, written by
    the reporter under ``marker`` once, the run ending with status 0), or None."""
    report = take_report(result, marker)[1]
    return report.get("examples") if report else None


@dataclass(frozen=True)
class _Console:
    """How a console session of one language is read, run and compared: Python's REPL or Node's."""

    family: str  # the runner family whose earlier blocks it may need (and whose names it defines)
    language: str  # the sandbox it runs in
    examples: Callable[[str], list[sessions.Example]]
    program: Callable[[Sequence[str], Sequence[sessions.Example], str], str | list[Step]]  # (earlier, examples, marker)
    prompts: Callable[[RunResult, Sequence[sessions.Example], str], list | None]  # what each prompt printed, raised
    ran: Callable[[RunResult], bool]
    failure: Callable[[Block, RunResult, Limits], Verdict]
    shown_error: Callable[[str], str]  # the error line the post shows after a prompt, "" for none
    raised: Callable[[str], RunResult]  # a prompt's error, as a run ending in it reads
    same: Callable[[str, str], bool]


PYTHON_CONSOLE = _Console("python", "python", sessions.session_examples,
                          lambda earlier, examples, marker: session_steps(earlier, examples), python_prompts, python_ran,
                          python_failure, _exception_line, lambda said: RunResult("", said, False), sessions.same)
NODE_CONSOLE = _Console("script", "javascript", sessions.node_examples, node_session_program, node_prompts, script_ran,
                        script_failure, _node_error_line, lambda said: RunResult("", f"error: Uncaught {said}", False),
                        sessions.same_in_node)


@dataclass(frozen=True)
class _Runner:
    """How blocks of one family (Python; JavaScript and TypeScript) run and how a run reads."""

    ran: Callable[[RunResult], bool]
    did: Callable[[str, RunResult, dict | None, int | None, Limits], Verdict]
    failure: Callable[[Block, RunResult, Limits], Verdict]
    names: Callable[[str], set[str]]
    cumulative: Callable[[Sequence[str], str], str | list[Step]]  # (earlier texts, text) -> code or steps
    outcome: Callable[[RunResult, str], tuple[RunResult, dict | None]]  # (run, text) -> the block's own, report
    tolerant: bool  # whether the cumulative code passes over an earlier block that fails


def _python_code(earlier: Sequence[str], text: str) -> list[Step]:
    return python_steps(earlier, text, _top_level(text)[2])


_RUNNERS = {"python": _Runner(python_ran, what_it_did, python_failure, python_names, _python_code,
                              lambda result, text: python_outcome(result, text, _top_level(text)[2]), True),
            "script": _Runner(script_ran, script_did, script_failure, script_names, script_cumulative,
                              lambda result, text: (result, None), False)}


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
    return not timed_out and (verdict.verdict in RAN or verdict.verdict == NEEDS_CONTEXT and (
        runner.tolerant or all(need.kind in ("name", "block") for need in verdict.needs)))


def _new_marker() -> str:
    """A secret of one run: the line a Node session's reporter writes its report under."""
    return f"@@triage-report-{secrets.token_hex(16)}@@"


class _Post:
    """One post's runnable blocks, each dedented: each runs alone first (Python with fresh globals
    in an interpreter that no earlier block could have changed; a script in a fresh Deno of its
    own); a block missing a name that an earlier block of its family defines runs again after those
    earlier blocks (Python in a second interpreter that the post's cumulative runs share: "after
    block N" is what the post's earlier blocks, run in order, gave). A Python console session runs
    prompt by prompt, likewise alone first.

    A Python block that ran (``RAN``) alone in an interpreter where earlier code that may have
    changed it ran (an import, a reach into the builtins: not ``python_contained``) runs again in a
    fresh interpreter, and that run decides: no earlier block can make a later one run, pass or
    match alone (by replacing ``math.sqrt``); the post goes on in the fresh interpreter."""

    def __init__(self, sandboxes: Sandboxes):
        self.sandboxes = sandboxes
        self.alone: Unit | None = None  # the interpreter of the post's Python runs alone
        self.again: Unit | None = None  # the one its cumulative runs share
        self.changed = False  # ``alone`` ran code that may have changed it
        self.pristine = True  # the last run alone was in an interpreter nothing had changed
        self.earlier: dict[str, list[tuple[Block, Verdict, bool]]] = {"python": [], "script": []}

    def _run(self, language: str, code: str | list[Step], cumulative: bool = False, fresh: bool = False) -> RunResult:
        if language != "python":
            return self.sandboxes[language].run(code)
        if cumulative:
            self.again = unit = self.again or self.sandboxes.python_unit()
        else:
            if fresh and self.alone is not None:
                self.alone.close()
                self.alone, self.changed = None, False
            self.alone = unit = self.alone or self.sandboxes.python_unit()
            steps = code if isinstance(code, list) else [Step(code)]
            self.pristine = not self.changed
            self.changed = self.changed or not all(python_contained(step.code) for step in steps if step.filename != _HARNESS)
        return unit.run_steps(code) if isinstance(code, list) else unit.run(code)

    def _afresh(self, language: str, verdict: Verdict) -> bool:
        """Whether a Python verdict of a run alone must be decided again in a fresh interpreter."""
        return language == "python" and verdict.verdict in RAN and not self.pristine

    def triage(self, block: Block) -> Verdict:
        block = replace(block, text=dedented(block.text))
        if console := _console_of(block):
            return self._session(block, console)
        language = languages.lookup(block.language).name
        family = "python" if language == "python" else "script"
        verdict, result = self._alone(block, language)
        if self._afresh(language, verdict):
            verdict, result = self._alone(block, language, fresh=True)
        if verdict.needs and verdict.needs[0].kind == "name":  # a failed test's name error too
            verdict = self._after_earlier(block, family, verdict.needs[0].what, verdict)
        self.earlier[family].append((block, verdict, _may_run_again(_RUNNERS[family], verdict, result.timed_out)))
        return verdict

    def _alone(self, block: Block, language: str, fresh: bool = False) -> tuple[Verdict, RunResult]:
        """The verdict of a block (not a session) run alone, as published, and its run."""
        runner = _RUNNERS["python" if language == "python" else "script"]
        code = runner.cumulative([], block.text)
        result, report = runner.outcome(self._run(language, code, fresh=fresh), block.text)
        if language == "javascript" and not runner.ran(result) and "SyntaxError" in result.stderr:
            result, report = runner.outcome(self._run("typescript", code), block.text)  # types in a block named JavaScript
        if runner.ran(result):
            return self._tests_need_pytest(block) or runner.did(block.text, result, report, None, self.sandboxes.limits), result
        return runner.failure(block, result, self.sandboxes.limits), result

    def known(self, block: Block, verdict: Verdict) -> None:
        """Take an earlier triage's verdict of ``block`` as this post's, without running it again."""
        block = replace(block, text=dedented(block.text))
        if console := _console_of(block):
            typed = replace(block, text="".join(example.source for example in console.examples(block.text)))
            self.earlier[console.family].append((typed, verdict, verdict.verdict in RAN or verdict.verdict == NEEDS_CONTEXT))
            return
        if static_verdict(block) is not None:
            return
        family = "python" if languages.lookup(block.language).name == "python" else "script"
        timed_out = any(need.kind == "time" for need in verdict.needs)
        self.earlier[family].append((block, verdict, _may_run_again(_RUNNERS[family], verdict, timed_out)))

    @staticmethod
    def _tests_need_pytest(block: Block) -> Verdict | None:
        """For a block of pytest-style tests that take fixtures: it needs pytest to run them."""
        takes = _top_level(block.text)[3]
        if not takes:
            return None
        if takes[0] in ("self", "cls"):  # methods of a test class the block leaves out
            return Verdict(NEEDS_CONTEXT, "test methods outside their class", (Need("input", "the class of its test methods"),))
        return Verdict(NEEDS_CONTEXT, _plain(f"its tests take pytest fixtures ({_listed(takes)}){_NO_PYTEST}"),
                       (Need("module", "pytest"),))

    def _session(self, block: Block, console: _Console) -> Verdict:
        examples = console.examples(block.text)
        if console is PYTHON_CONSOLE and any(example.source.lstrip().startswith(("%", "!")) for example in examples):
            verdict = Verdict(NEEDS_CONTEXT, "IPython magic or shell escape", (Need("language", "IPython"),))
        else:
            verdict = self._session_alone(block, examples, console)
            if self._afresh(console.language, verdict):
                verdict = self._session_alone(block, examples, console, fresh=True)
            if verdict.needs and verdict.needs[0].kind == "name":
                verdict = self._session_after_earlier(block, examples, verdict, console)
        typed = replace(block, text="".join(example.source for example in examples))
        self.earlier[console.family].append((typed, verdict, verdict.verdict in RAN or verdict.verdict == NEEDS_CONTEXT))
        return verdict

    def _session_alone(self, block: Block, examples, console: _Console, fresh: bool = False) -> Verdict:
        marker = _new_marker()
        result = self._run(console.language, console.program([], examples, marker), fresh=fresh)
        got = console.prompts(result, examples, marker)
        return session_verdict(block, examples, result, got, self.sandboxes.limits, console=console)

    def _defining(self, family: str, name: str) -> tuple[list[str], int, Verdict] | None:
        """The earlier texts to run first, the last block defining ``name`` and its verdict."""
        runner, earlier = _RUNNERS[family], self.earlier[family]
        defining = [(before, verdict) for before, verdict, _ in earlier if name in runner.names(before.text)]
        if not defining:
            return None
        return [before.text for before, _, again in earlier if again], defining[-1][0].ordinal, defining[-1][1]

    def _session_after_earlier(self, block: Block, examples, alone: Verdict, console: _Console) -> Verdict:
        found = self._defining(console.family, alone.needs[0].what)
        if found is None:
            return alone
        texts, after, its_verdict = found
        marker = _new_marker()
        result = self._run(console.language, console.program(texts, examples, marker), cumulative=True)
        got = console.prompts(result, examples, marker)
        verdict = session_verdict(block, examples, result, got, self.sandboxes.limits, after, console)
        return self._still_lacking(verdict, after, its_verdict)

    def _after_earlier(self, block: Block, family: str, name: str, alone: Verdict) -> Verdict:
        runner, found = _RUNNERS[family], self._defining(family, name)
        if found is None:
            return alone
        texts, after, its_verdict = found
        code = runner.cumulative(texts, block.text)
        language = "python" if family == "python" else "typescript"  # TypeScript reads JavaScript too
        result, report = runner.outcome(self._run(language, code, cumulative=True), block.text)
        if runner.ran(result):
            verdict = self._tests_need_pytest(block) or runner.did(block.text, result, report, after, self.sandboxes.limits)
        else:
            verdict = runner.failure(block, result, self.sandboxes.limits)
        return self._still_lacking(verdict, after, its_verdict)

    @staticmethod
    def _still_lacking(still: Verdict, after: int, its_verdict: Verdict) -> Verdict:
        """The verdict of a block run after block ``after``: what it still lacks, named."""
        if still.verdict in RAN:
            return still
        if still.verdict == ILLUSTRATIVE:  # it lacked nothing more: given the block, it fails on its own
            return replace(still, reason=_plain(f"{still.reason}, after block {after}", 240), after=after)
        # Still lacking the name: the defining block itself did not run; what it lacks, this one lacks.
        lacks = its_verdict.needs if any(need.kind == "name" for need in still.needs) else still.needs
        needs = [Need("block", str(after))]
        needs += [need for need in lacks if need not in needs and need.kind != "name"]
        return Verdict(NEEDS_CONTEXT, _plain(f"needs block {after}, then: {still.reason}", 240), tuple(needs))

    def close(self) -> None:
        for unit in (self.alone, self.again):
            if unit is not None:
                unit.close()


_OUTPUT_REASONS = ("text or program output", "program output")


def _with_shown_output(blocks: Sequence[Block], verdicts: list[Verdict]) -> list[Verdict]:
    """A block that ran and printed, followed by a block of plain text resembling what it printed
    (the post shows its output: "this prints:"), is compared with it: ``matches`` or ``differs``."""
    found = list(verdicts)
    for n in range(len(found) - 1):
        ran, shown = found[n], found[n + 1]
        if ran.verdict != RUNS or not ran.output.strip() or shown.verdict != ILLUSTRATIVE or shown.reason not in _OUTPUT_REASONS:
            continue
        want = blocks[n + 1].text
        if sessions.same(want, ran.output):
            found[n] = replace(ran, verdict=MATCHES, reason=f"block {blocks[n + 1].ordinal} shows it")
            found[n + 1] = replace(shown, reason=f"output of block {blocks[n].ordinal}, which matches it")
        elif sessions.resembles(want, ran.output):
            found[n] = replace(ran, verdict=DIFFERS, reason=f"block {blocks[n + 1].ordinal} shows other output",
                               diff=sessions.short_diff(want, ran.output))
            found[n + 1] = replace(shown, reason=f"output of block {blocks[n].ordinal}, which differs from it")
    return found


def triage_post(blocks: Sequence[Block], *, sandbox_limits: Limits = LIMITS, sandboxes: Sandboxes | None = None,
                progress: Callable[[Block, Verdict], None] | None = None,
                known: Mapping[int, Verdict] | None = None) -> list[Verdict]:
    """One verdict per block, in order; runs the post's runnable blocks in the sandbox, one fresh
    interpreter per post (per language), cumulatively where a block needs an earlier block's names;
    a block whose output the next block shows is compared with it (so its verdict depends on it).
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
    return _with_shown_output(blocks, verdicts)
