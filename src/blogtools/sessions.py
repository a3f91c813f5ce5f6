"""Console sessions and printed output, read as doctests: what a reader would check by hand.

    examples = session_examples(">>> 1 + 1\\n2\\n")      # [Example(source="1 + 1\\n", want="2\\n", line=1)]
    same("<Foo object at 0x7f3a>\\n", "<Foo object at 0x55d0>\\n")   # True: addresses differ run to run
    short_diff("2\\n", "3\\n")                            # "- 2\\n+ 3"

A Python console session (``>>>`` and ``...`` prompts) is parsed by ``doctest``'s own parser; an
IPython one (``In [1]:``, ``   ...:``, ``Out[1]:``) and a Node REPL's (``> ``, ``... ``) are turned
into the same examples. Outputs are compared as doctest compares them with ``NORMALIZE_WHITESPACE``
and ``ELLIPSIS`` (``...`` in the post stands for any text), and with memory addresses (``0x7f...``)
taken as equal; a Node REPL's echo of ``undefined`` may be left out of the post. Parsing and
comparing run on the host on text from the post and the sandbox: pure string work, no code runs.
"""

from __future__ import annotations

import difflib
import doctest
import re
from dataclasses import dataclass

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{4,}\b")
_IPYTHON_IN = re.compile(r"^In \[\d*\]: ?(.*)$")
_IPYTHON_MORE = re.compile(r"^ +\.\.\.: ?(.*)$")
_IPYTHON_OUT = re.compile(r"^Out\[\d*\]: ?(.*)$")
_NODE_IN = re.compile(r"^> (.*)$")
_NODE_MORE = re.compile(r"^\.\.\.(?: (.*))?$")
_NODE_HEADER = re.compile(r"^(?:\$ node\s*|Welcome to Node\.js.*|Type \".help\" for more information\.)$")
_NODE_COMMAND = re.compile(r"^\.[a-z]+\b")  # .exit, .help, .editor: the REPL's own commands
_UNDEFINED = "undefined\n"
PYTHON_PROMPT = re.compile(r"^\s*>>>( |$)", re.M)
IPYTHON_PROMPT = re.compile(r"^In \[\d+\]:", re.M)
MOST_EXAMPLES = 200
DIFF_LINES = 12


@dataclass(frozen=True)
class Example:
    """One prompt of a session: the code typed, the output the post shows after it, its line."""

    source: str
    want: str
    line: int


def is_session(text: str) -> bool:
    """Whether the text is a Python or IPython console session (a prompt starts a line)."""
    return bool(PYTHON_PROMPT.search(text) or IPYTHON_PROMPT.search(text))


def session_examples(text: str) -> list[Example]:
    """The examples of a session, in order; [] when it has none or does not parse as one."""
    if IPYTHON_PROMPT.search(text):
        return _ipython_examples(text)
    try:
        found = doctest.DocTestParser().get_examples(text)
    except ValueError:  # inconsistent indentation of a prompt's lines
        return []
    return [Example(example.source, example.want, example.lineno + 1) for example in found[:MOST_EXAMPLES]]


def _ipython_examples(text: str) -> list[Example]:
    """IPython's ``In [n]:``/``Out[n]:`` transcript as examples: what follows an input up to the
    next prompt or blank line is its output."""
    examples: list[list] = []  # [source lines, want lines, line]
    part = None
    for number, line in enumerate(text.splitlines(), start=1):
        typed, more, out = _IPYTHON_IN.match(line), _IPYTHON_MORE.match(line), _IPYTHON_OUT.match(line)
        if typed:
            examples.append([[typed.group(1)], [], number])
            part = "source"
        elif more and part == "source":
            examples[-1][0].append(more.group(1))
        elif out and examples:
            examples[-1][1].append(out.group(1))
            part = "want"
        elif not line.strip():
            part = "blank" if part == "want" or (examples and examples[-1][1]) else part
        elif examples and part != "blank":
            examples[-1][1].append(line)
            part = "want"
    return [Example("\n".join(source).rstrip() + "\n", "".join(f"{line}\n" for line in want), number)
            for source, want, number in examples[:MOST_EXAMPLES] if "".join(source).strip()]


def node_examples(text: str) -> list[Example]:
    """A Node REPL transcript's examples: each ``> `` input with its ``... `` continuation lines, and
    the lines up to the next prompt as its output (the REPL's own ``.exit``-style commands left
    out). [] unless the text has that shape: a prompt first (after ``$ node`` and Node's welcome
    lines) and at least one input followed by output."""
    lines = text.splitlines()
    while lines and (not lines[0].strip() or _NODE_HEADER.match(lines[0])):
        lines.pop(0)
    if not lines or not _NODE_IN.match(lines[0]):
        return []
    examples: list[list] = []  # [source lines, want lines, line]
    for number, line in enumerate(lines, start=len(text.splitlines()) - len(lines) + 1):
        typed, more = _NODE_IN.match(line), _NODE_MORE.match(line)
        if typed:
            examples.append([[typed.group(1)], [], number])
        elif more and not examples[-1][1]:  # a continuation line follows its input at once
            examples[-1][0].append(more.group(1) or "")
        else:
            examples[-1][1].append(line)
    found = [Example("\n".join(source).rstrip() + "\n", "".join(f"{line}\n" for line in want).rstrip() + "\n"
                     if "".join(want).strip() else "", number)
             for source, want, number in examples[:MOST_EXAMPLES]
             if "".join(source).strip() and not _NODE_COMMAND.match(source[0].strip())]
    return found if any(example.want for example in found) else []


def _plain_addresses(text: str) -> str:
    return _ADDRESS.sub("0x…", text)


def same(want: str, got: str) -> bool:
    """Whether ``got`` is what the post shows (``want``), as doctest judges with ELLIPSIS and
    NORMALIZE_WHITESPACE, memory addresses aside."""
    return doctest.OutputChecker().check_output(_plain_addresses(want), _plain_addresses(got), FLAGS)


def same_in_node(want: str, got: str) -> bool:
    """``same``, for a Node REPL: the ``undefined`` it echoes after a statement (a declaration, a
    ``console.log``) may be left out of the post."""
    if same(want, got):
        return True
    return got.endswith(_UNDEFINED) and not want.rstrip().endswith("undefined") and same(want, got[:-len(_UNDEFINED)])


def short_diff(want: str, got: str) -> str:
    """At most DIFF_LINES lines of a unified diff from the post's output to the run's (no headers)."""
    lines = [line for line in difflib.unified_diff(want.splitlines(), got.splitlines(), lineterm="", n=1)
             if not line.startswith(("---", "+++", "@@"))]
    more = len(lines) - DIFF_LINES
    return "\n".join(lines[:DIFF_LINES] + ([f"… {more} more lines"] if more > 0 else []))


def resembles(want: str, got: str) -> bool:
    """Whether a run's output is close enough to a block of text for that block to be taken as the
    output the post shows for it: most of their characters the same (of the first 5,000)."""
    want, got = " ".join(want.split())[:5_000], " ".join(got.split())[:5_000]
    if not want or not got:
        return False
    matcher = difflib.SequenceMatcher(None, want, got, autojunk=False)
    return matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6 and matcher.ratio() >= 0.6
