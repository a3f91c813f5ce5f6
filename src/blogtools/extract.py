"""``blogtools extract``: every fenced code block of content/ into snippets/, tracked in the manifest.

Each block is written verbatim to ``snippets/<slug>/NN-<short-name>.<ext>``; its manifest entry keeps
the hash of the text as last reviewed. When an essay changes a curated block, the reviewed file
stays and the new text goes beside it as ``NN-<short-name>.<ext>.new``, its hash recorded as
``changed_sha256`` (drift): ``blogtools check`` fails and nothing runs it until ``--accept ID``
promotes it (``blogtools review ID`` shows the change). An uncurated block is simply rewritten.
Files whose content is already right are not touched, so an unchanged run writes nothing.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from blogtools import languages, manifest, review
from blogtools.blocks import CodeBlock, block_id, find_blocks
from blogtools.content import content_pages, read_text
from blogtools.errors import BlogtoolsError
from blogtools.files import write_if_changed
from blogtools.review import NEW_SUFFIX

_DEFINITION = re.compile(
    r"\b(?:def|function\*?|fn|class|struct|enum|trait|interface|func)\s+([A-Za-z_$][\w$]*)"
)
_CALL = re.compile(r"([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\s*\(")
_NOT_A_CALL = {"if", "for", "while", "switch", "catch", "return", "function", "typeof", "elif", "with", "assert", "not", "and", "or", "in"}
_COMMENT = re.compile(r"^\s*(//|#|--|/\*|\*)")
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_PROMPT = re.compile(r"^\s*([$%>#]\s+)")


def _words(text: str, most: int = 4) -> str:
    words = [word.lower() for word in _WORD.findall(text)][:most]
    return "-".join(words)[:40].strip("-")


def short_name(block: CodeBlock) -> str:
    """A short file-name stem derived from the code: the first definition, else the first call,
    else the first words (always the first words for transcripts and prose); ``block`` if none."""
    lines = [line for line in block.text.splitlines() if line.strip()]
    if languages.is_transcript(block.language):
        first = _PROMPT.sub("", lines[0]) if lines else ""
        return _words(first) or "block"
    code = [line for line in lines if not _COMMENT.match(line)]
    if match := _DEFINITION.search("\n".join(code)):
        return _words(match.group(1)) or "block"
    for line in code:
        for call in _CALL.finditer(line):
            if call.group(1) not in _NOT_A_CALL:
                return _words(call.group(1)) or "block"
    return _words(code[0] if code else "") or "block"


@dataclass
class ExtractSummary:
    """What one extraction found and did."""

    posts: int = 0
    blocks: int = 0
    added: list[str] = field(default_factory=list)
    drifted: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    written: int = 0

    def line(self) -> str:
        """The summary line the CLI prints: blocks, posts, and what changed."""
        return (
            f"{self.blocks} blocks in {self.posts} posts: {len(self.added)} new, {len(self.drifted)} drifted, "
            f"{len(self.accepted)} accepted, {len(self.orphaned)} orphaned; {self.written} files written"
        )


def _set(table, key: str, value) -> None:
    """Assign only when the value differs, so tomlkit keeps the existing formatting."""
    current = table.get(key)
    if current is None or (current.unwrap() if hasattr(current, "unwrap") else current) != value:
        table[key] = value


def _update(table, slug: str, block: CodeBlock, curated: bool, accepting: bool) -> tuple[str, bool]:
    """Refresh an existing entry's machine fields; returns its file name and whether it drifted.

    A curated entry keeps its language and file (the author's decision wins over the feed's markup
    and the guess); when it is not being accepted, a changed block also leaves sha256 as reviewed
    and records the new hash as changed_sha256. An uncurated entry takes the block as it is now.
    """
    _set(table, "post", slug)
    _set(table, "ordinal", block.ordinal)
    _set(table, "lines", [block.start, block.end])
    drifted = curated and not accepting and str(table.get("sha256", "")) != block.sha256
    name = str(table.get("file", ""))
    if not curated:
        _set(table, "language", block.language)
        if not name or Path(name).suffix != f".{languages.extension(block.language)}":
            stem = Path(name).stem if name else f"{block.ordinal:02d}-{short_name(block)}"
            name = f"{stem}.{languages.extension(block.language)}"
            _set(table, "file", name)
    if not drifted:
        _set(table, "sha256", block.sha256)
    if drifted:
        _set(table, "changed_sha256", block.sha256)
    elif "changed_sha256" in table:
        del table["changed_sha256"]
    return name, drifted


def _write_block(folder: Path, name: str, old: str, text: str, drifted: bool) -> int:
    """Write a block's text: beside the reviewed file as ``<name>.new`` when drifted, else to
    ``<name>`` (removing a ``.new`` and a file of an older name). Returns the files written."""
    changed = folder / (name + NEW_SUFFIX) if drifted else folder / name
    written = write_if_changed(changed, text.encode("utf-8"))
    if not drifted:
        (folder / (name + NEW_SUFFIX)).unlink(missing_ok=True)
        if old and old != name:
            (folder / old).unlink(missing_ok=True)
            (folder / (old + NEW_SUFFIX)).unlink(missing_ok=True)
    return written


def extract(
    posts_dir: Path, snippets_dir: Path, accept: Iterable[str] = (), progress: Callable[[list], object] | None = None
) -> ExtractSummary:
    """Extract every block of the posts in ``posts_dir`` (content/posts) and of the content folder's
    other pages into ``snippets_dir`` and update its manifest.

    A curated entry's changed block goes beside its reviewed file as ``NN-name.ext.new`` (drift);
    an uncurated one's replaces it. ``accept`` lists ids whose current text is recorded as reviewed
    (promoting the ``.new``; an orphaned id, whose block is gone from content, has its entry
    dropped). Curated fields are never changed. ``progress(pages)`` may wrap the pages to read in
    a context manager that yields them (click.progressbar does).
    """
    posts_dir, snippets_dir = Path(posts_dir), Path(snippets_dir)
    pages = content_pages(posts_dir)
    with (progress or nullcontext)(list(pages.items())) as reading:
        posts = {name: find_blocks(read_text(page)) for name, page in reading}
    path = snippets_dir / manifest.NAME
    # First on the manifest as plain data (tomllib: several times faster than tomlkit); only when
    # that changed an entry is the same done again on tomlkit's document, which keeps the file's
    # formatting, and the file written.
    plain = manifest.load_plain(path)
    trial = copy.deepcopy(plain)
    summary = _apply(trial, path, posts_dir, posts, set(accept), snippets_dir)
    if trial != plain or not path.exists():
        doc = manifest.load(path)
        _apply(doc, path, posts_dir, posts, set(accept), snippets_dir)
        summary.written += manifest.save(doc, path)
    return summary


def _apply(doc, path: Path, posts_dir: Path, posts: dict[str, list[CodeBlock]], accept: set[str],
           snippets_dir: Path) -> ExtractSummary:
    """Bring the manifest ``doc`` (changed in place) and the block files in line with ``posts``."""
    entries = manifest.parse_entries(doc, path)  # a malformed entry, or a file name outside snippets/, stops it here
    present = {block_id(slug, block.ordinal) for slug, blocks in posts.items() for block in blocks}
    unknown = sorted(accept - present - {key for key in doc.keys() if manifest.is_block_id(key)})
    if unknown:
        raise BlogtoolsError(f"--accept {unknown[0]}: no such block in {posts_dir} or entry in {path}")

    summary = ExtractSummary(posts=len(posts), blocks=len(present))
    for slug, blocks in posts.items():
        for block in blocks:
            ident = block_id(slug, block.ordinal)
            table = doc.get(ident)
            old, drifted = "", False
            if table is None:
                name = f"{block.ordinal:02d}-{short_name(block)}.{languages.extension(block.language)}"
                doc[ident] = manifest.new_table(slug, block.ordinal, block.language, name, block.sha256, (block.start, block.end))
                summary.added.append(ident)
            else:
                old = str(table.get("file", ""))
                name, drifted = _update(table, slug, block, entries[ident].curated, ident in accept)
                if drifted:
                    summary.drifted.append(ident)
            if ident in accept:
                summary.accepted.append(ident)
            summary.written += _write_block(snippets_dir / slug, name, old, block.text, drifted)
    for ident in [key for key in doc.keys() if key not in present and manifest.is_block_id(key)]:
        if ident in accept:
            review.new_file(snippets_dir, entries[ident]).unlink(missing_ok=True)
            del doc[ident]
            summary.accepted.append(ident)
        else:
            summary.orphaned.append(ident)
    return summary
