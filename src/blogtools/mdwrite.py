"""Writing Markdown: fences, code spans, escaped text and pymdownx.tabbed tabs, each in one place.

Ingest writes feed text and code into content/; render writes modules, tabs and titles into
build/docs/. Both go through these helpers, so a fence always outlasts the backticks inside it and
text from a feed never turns into markup.
"""

from __future__ import annotations

import re

_BACKTICKS = re.compile(r"`+")
_TEXT_ESCAPES = {"<": "&lt;", "[": "&#91;", "]": "&#93;", "{": "&#123;", "}": "&#125;", "`": "&#96;",
                 "!": "&#33;", "?": "&#63;", "=": "&#61;"}
# ``!!!``, ``???`` and ``===`` open admonitions, collapsible blocks and tabs: their first mark is referenced.
_TEXT_SPECIAL = re.compile(r"[<\[\]{}`]|&(?=#?\w+;)|([!?=])(?=\1\1)")
_LITERAL_SPECIAL = set("\\`*_{}[]()#+-.!|~:&<>\"'")


def backticks(text: str, least: int = 1) -> str:
    """A run of backticks longer than any run inside ``text``, and at least ``least`` long."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    return "`" * max(least, longest + 1)


def fence(code: str, language: str = "") -> str:
    """``code`` as a fenced block (no final newline) whose fence is longer than any backtick run
    inside it."""
    marks = backticks(code, 3)
    body = code if code.endswith("\n") else code + "\n"
    return f"{marks}{language}\n{body}{marks}"


def code_span(code: str) -> str:
    """``code`` as an inline code span (newlines become spaces, the fence outlasts any backticks);
    nothing for no code (two bare backticks would run into a neighbouring span)."""
    code = code.replace("\n", " ")
    if not code:
        return ""
    marks = backticks(code)
    pad = " " if code.startswith("`") or code.endswith("`") else ""
    return f"{marks}{pad}{code}{pad}{marks}"


def escape_text(text: str) -> str:
    """Plain text with every character that Markdown or its extensions could act on referenced
    (``<``, brackets, braces, backticks, an ``&`` that starts an entity, the first of ``!!!``,
    ``???`` or ``===``); emphasis marks stay."""
    return _TEXT_SPECIAL.sub(lambda m: _TEXT_ESCAPES.get(m.group(0), "&amp;"), text)


def literal_text(text: str) -> str:
    """Plain text as Markdown that renders as exactly that text: every special character as a
    numeric character reference (for a title heading, where even ``*`` must stay a star)."""
    return "".join(f"&#{ord(c)};" if c in _LITERAL_SPECIAL else c for c in text)


def indent(lines: list[str], *, blank_lines: bool = False) -> list[str]:
    """``lines`` indented by four spaces, as a container's body; blank lines stay empty unless
    ``blank_lines`` (a fence copied line for line)."""
    return ["    " + line if line or blank_lines else "" for line in lines]


def tab(label: str, body: list[str], *, blank_lines: bool = False) -> list[str]:
    """A pymdownx.tabbed tab: its ``=== "label"`` line, a blank line and ``body`` indented."""
    return [f'=== "{label}"', "", *indent(body, blank_lines=blank_lines)]
