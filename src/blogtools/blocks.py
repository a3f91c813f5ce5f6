"""Fenced code blocks of a content page, found with markdown-it-py, with their place in the file.

Shared by extraction (``blogtools.extract``), the check and the render transform, so that all three
agree on what a block is, on its ordinal and on its text.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

from blogtools.content import content_pages, read_text, split_front_matter

# Lines that open a container whose body is indented by four spaces: pymdownx.details (``???``),
# admonitions (``!!!``) and pymdownx.tabbed (``===``). CommonMark sees such bodies as indented
# code, so their bodies are dedented before parsing.
_CONTAINER_OPENER = re.compile(r"^\s*(\?\?\?\+?|!!!|===)\s")
_FENCE = re.compile(r"^( *)(`{3,}|~{3,})(.*)$")
_BRACE_CLASS = re.compile(r"\.([\w+#-]+)")
# Fences are block-level: no inline parsing. A setext heading ("lheading") ends where a paragraph
# would, so without it the same lines go to a paragraph and every fence keeps its place; it is left
# out because it scans each paragraph a second time.
_PARSER = MarkdownIt("commonmark").disable(["inline", "text_join", "lheading"])


@dataclass(frozen=True)
class CodeBlock:
    """One fenced code block: its 1-based ordinal in the page, language, verbatim text and lines.

    ``start`` and ``end`` are the 1-based line numbers of the opening and closing fence lines in
    the page's file (``end`` is the last line of the page when the fence is never closed).
    """

    ordinal: int
    language: str
    text: str
    start: int
    end: int

    @property
    def sha256(self) -> str:
        """The SHA-256 of the block's text (UTF-8), as the manifest records it."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def fence_language(info: str) -> str:
    """The language of a fence info string: ``typescript title="x"`` and ``{.py test="skip"}`` alike."""
    info = info.strip()
    if info.startswith("{"):
        match = _BRACE_CLASS.search(info)
        return match.group(1) if match else ""
    return info.split(maxsplit=1)[0] if info else ""


def relabel_fence(opening: str, language: str) -> str:
    """A fence's opening line (after any container prefix) naming ``language`` instead of the one it
    names, in the plain and the brace form alike; unchanged when it names none."""
    match = _FENCE.match(opening)
    if match is None or not fence_language(match.group(3)):
        return opening
    info = match.group(3)
    if info.strip().startswith("{"):
        info = _BRACE_CLASS.sub(lambda m: f".{language}", info, count=1)
    else:
        head, name, rest = info.partition(info.split(maxsplit=1)[0])
        info = head + language + rest
    return match.group(1) + match.group(2) + info


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _open_containers(lines: list[str]) -> list[str]:
    """The lines with every ``???``/``!!!``/``===`` container opened up: its opener line blanked and
    its body dedented by four spaces, line for line, so that CommonMark sees the fences inside.

    Lines inside fences are left alone (a console transcript may well contain ``=== ...``).
    """
    out = list(lines)
    fence: tuple[str, int] | None = None
    for i, line in enumerate(out):
        if fence:
            close = _FENCE.match(line)
            if close and close.group(2)[0] == fence[0] and len(close.group(2)) >= fence[1] and not close.group(3).strip():
                fence = None
        elif match := _FENCE.match(line):
            fence = (match.group(2)[0], len(match.group(2)))
        elif _CONTAINER_OPENER.match(line):
            body, out[i] = _indent(line), "\n"
            for j in range(i + 1, len(out)):
                if out[j].strip() and _indent(out[j]) < body + 4:
                    break
                out[j] = out[j][:body] + out[j][body + 4 :] if _indent(out[j]) >= body + 4 else out[j].lstrip(" ")
    return out


@functools.lru_cache(maxsize=4096)  # a site's pages, a few times over
def _fences(body: str) -> tuple[tuple[str, str, int, int], ...]:
    """(info, text, first line, last line) of every fence in ``body``, lines 0-based. Cached: a
    build reads each page's blocks in several stages (extract, triage, render)."""
    if "```" not in body and "~~~" not in body:
        return ()  # no fence can open: prose alone needs no parse
    return tuple(
        (token.info, token.content, token.map[0], token.map[1] - 1)
        for token in _PARSER.parse("".join(_open_containers(body.splitlines(keepends=True))))
        if token.type == "fence" and token.map is not None
    )


def find_blocks(text: str) -> list[CodeBlock]:
    """Every fenced code block of a Markdown page (front matter skipped), in document order."""
    body = split_front_matter(text)[1].lstrip("\n")  # blank lines first: the same blocks, lower down
    offset = text[: len(text) - len(body)].count("\n")
    return [
        CodeBlock(n, fence_language(info), content, offset + first + 1, offset + last + 1)
        for n, (info, content, first, last) in enumerate(_fences(body), start=1)
    ]


def content_blocks(posts_dir: Path) -> dict[str, list[CodeBlock]]:
    """Blocks of every post in ``posts_dir`` and every other page of its content folder, keyed by
    page name (a post's is its slug: the file name without ``.md``), posts first, each sorted."""
    return {name: find_blocks(read_text(page)) for name, page in content_pages(posts_dir).items()}


def block_id(slug: str, ordinal: int) -> str:
    """The manifest id of a block: ``<slug>/NN``."""
    return f"{slug}/{ordinal:02d}"
