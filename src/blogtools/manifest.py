"""``snippets/manifest.toml``: one table per code block, keyed by its id ``<post>/<NN>``.

``blogtools extract`` writes the machine fields (post, ordinal, language, file, lines, sha256 and,
after the text changed, changed_sha256); authors curate status, modules, tests, reason and notes.
tomlkit keeps the file as written, comments included, so curation survives every run.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError

from blogtools.errors import BlogtoolsError
from blogtools.files import write_if_changed

NAME = "manifest.toml"
RUNNABLE = "runnable"
ILLUSTRATIVE = "illustrative"
STATUSES = (RUNNABLE, ILLUSTRATIVE)
HEADER = """\
Every fenced code block of content/posts, one table per block, keyed "<post>/<NN>".
Written by `blogtools extract`: post, ordinal, language, file, lines (opening and closing fence
lines in the page), sha256 (of the text as last reviewed) and changed_sha256 (the text changed
since; review the runnable form, then `blogtools extract --accept ID`).
Curated by authors, never overwritten: status ("runnable" or "illustrative"), modules (Python
files in snippets/<post>/, the first one's main() is what `blogtools run ID` calls), tests (pytest
node ids), reason (why a block is illustrative), notes (each way the runnable form differs from
the published block). `blogtools check` verifies all of it.
An id whose last part is not a number ("<post>/<name>") is a standalone entry: a runnable module
of the post that no block shows (a figure script, say); it has only the curated fields and post."""


def is_block_id(ident: str) -> bool:
    """Whether an id names a code block (``<post>/NN``) rather than a standalone entry."""
    return ident.rpartition("/")[2].isdigit()


@dataclass(frozen=True)
class Entry:
    """One manifest entry, as plain values; the block fields are empty for a standalone entry."""

    id: str
    post: str
    status: str
    modules: tuple[str, ...]
    tests: tuple[str, ...]
    reason: str
    notes: tuple[str, ...]
    ordinal: int | None = None
    language: str = ""
    file: str = ""
    sha256: str = ""
    lines: tuple[int, int] | None = None
    changed_sha256: str | None = None

    @property
    def is_block(self) -> bool:
        """Whether the entry is a code block's (``<post>/NN``) rather than a standalone entry."""
        return self.ordinal is not None

    def as_json(self) -> dict:
        """The entry as JSON-ready values (lists for tuples, ``changed_sha256`` null when unchanged)."""
        return {
            "id": self.id,
            "post": self.post,
            "ordinal": self.ordinal,
            "language": self.language,
            "file": self.file,
            "sha256": self.sha256,
            "lines": list(self.lines) if self.lines else None,
            "status": self.status,
            "modules": list(self.modules),
            "tests": list(self.tests),
            "reason": self.reason,
            "notes": list(self.notes),
            "changed_sha256": self.changed_sha256,
        }


def new_table(post: str, ordinal: int, language: str, file: str, sha256: str, lines: tuple[int, int]):
    """A fresh entry for a block nobody has curated yet: illustrative, with the reason still to write."""
    table = tomlkit.table()
    table["post"] = post
    table["ordinal"] = ordinal
    table["language"] = language
    table["file"] = file
    table["sha256"] = sha256
    table["lines"] = list(lines)
    table["status"] = ILLUSTRATIVE
    table["modules"] = []
    table["tests"] = []
    table["reason"] = ""
    table["notes"] = []
    return table


def load(path: Path) -> tomlkit.TOMLDocument:
    """The manifest document (a new one with the explanatory header when the file does not exist)."""
    path = Path(path)
    if not path.exists():
        doc = tomlkit.document()
        for line in HEADER.splitlines():
            doc.add(tomlkit.comment(line))
        return doc
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, TOMLKitError) as exc:
        raise BlogtoolsError(f"{path}: not a readable TOML manifest: {exc}") from exc


def save(doc: tomlkit.TOMLDocument, path: Path) -> bool:
    """Write the manifest atomically unless the file already holds exactly this text; True if written."""
    return write_if_changed(Path(path), tomlkit.dumps(doc).encode("utf-8"))


_KINDS = {str: "a string", int: "an integer", list: "a list of strings"}


def _field(path: Path, block: str, table, name: str, kind: type):
    value = table.get(name)
    if value is None:
        raise BlogtoolsError(f"{path}: [{block}] has no {name}")
    if kind is list:
        ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
    else:
        ok = isinstance(value, kind) and not isinstance(value, bool)
    if not ok:
        raise BlogtoolsError(f"{path}: [{block}] {name} must be {_KINDS[kind]}")
    return tuple(value) if kind is list else value


def _lines(path: Path, block: str, table) -> tuple[int, int]:
    lines = table.get("lines")
    if not (isinstance(lines, list) and len(lines) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) for n in lines)):
        raise BlogtoolsError(f"{path}: [{block}] lines must be [first, last]")
    return int(lines[0]), int(lines[1])


def _bare(path: Path, block: str, name: str, value: str) -> str:
    """``value`` when it is a bare file or folder name, so that ``snippets/<post>/<file>`` stays inside snippets/."""
    if value in ("", ".", "..") or any(char in value for char in "/\\\0"):
        raise BlogtoolsError(f"{path}: [{block}] {name} must be a bare name (no '/', not '..'), not {value!r}")
    return value


def parse_entries(doc: Mapping, path: Path) -> dict[str, Entry]:
    """Every entry of a loaded manifest, by id; one clear error naming the entry and field when
    malformed, or when ``post``, ``file`` or a module is not a bare name (it would reach outside snippets/)."""
    result = {}
    for block, table in doc.items():
        if not isinstance(table, dict):
            raise BlogtoolsError(f"{path}: {block} is not a table: every top-level key must be an entry id")
        fields = {"post": _bare(path, block, "post", _field(path, block, table, "post", str))}
        if is_block_id(block):
            changed = table.get("changed_sha256")
            fields.update(
                ordinal=_field(path, block, table, "ordinal", int),
                language=_field(path, block, table, "language", str),
                file=_bare(path, block, "file", _field(path, block, table, "file", str)),
                sha256=_field(path, block, table, "sha256", str),
                lines=_lines(path, block, table),
                changed_sha256=str(changed) if changed is not None else None,
            )
        result[block] = Entry(
            id=block,
            **fields,
            status=_field(path, block, table, "status", str),
            modules=tuple(_bare(path, block, "modules", name) for name in _field(path, block, table, "modules", list)),
            tests=_field(path, block, table, "tests", list),
            reason=_field(path, block, table, "reason", str),
            notes=_field(path, block, table, "notes", list),
        )
    return result


def read(snippets_dir: Path) -> dict[str, Entry]:
    """The entries of ``snippets_dir/manifest.toml`` (read-only, so the faster tomllib parses it);
    an error if there is no manifest yet."""
    path = Path(snippets_dir) / NAME
    if not path.exists():
        raise BlogtoolsError(f"{path}: no manifest; run `blogtools extract` first")
    try:
        return parse_entries(tomllib.loads(path.read_text(encoding="utf-8")), path)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BlogtoolsError(f"{path}: not a readable TOML manifest: {exc}") from exc
