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

from blogtools import records
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
the published block), expect_error (optional: a pattern the error of a run must match, for code
that fails as published); for a JavaScript/TypeScript block's published form (the block run as
published): prelude and epilogue (harness files around it), patch (a diff filling an elision) and
working_patch (the diff to the nearest working form of a block that fails as published).
`blogtools check` verifies all of it.
An id whose last part is not a number ("<post>/<name>") is a standalone entry: a runnable module
of the post that no block shows (a figure script, say); it has only the curated fields and post."""


def is_block_id(ident: str) -> bool:
    """Whether an id names a code block (``<post>/NN``) rather than a standalone entry."""
    return ident.rpartition("/")[2].isdigit()


@dataclass(frozen=True)
class Entry:
    """One manifest entry, as typed values; the block fields are empty for a standalone entry.

    ``parse_entries`` checks a table against these fields and their types with ``records.load``
    (the one validator for every file blogtools reads), so a field added here is checked there.
    """

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
    expect_error: str = ""  # a pattern: a failing run whose error matches it fails as expected
    # A JavaScript/TypeScript block's published form (blogtools.published): files in snippets/<post>/.
    prelude: str = ""  # harness code before the block
    epilogue: str = ""  # harness code after it
    patch: str = ""  # a unified diff of the block: the smallest edit that fills an elision
    working_patch: str = ""  # for a block that fails as published: the diff to its nearest working form

    @property
    def is_block(self) -> bool:
        """Whether the entry is a code block's (``<post>/NN``) rather than a standalone entry."""
        return self.ordinal is not None

    @property
    def curated(self) -> bool:
        """Whether an author has decided this entry: runnable, or illustrative with a reason.

        A curated block's reviewed text is kept when the essay changes it; an uncurated one's is
        simply replaced."""
        return self.status == RUNNABLE or bool(self.reason.strip())

    @property
    def untriaged(self) -> bool:
        """Whether the entry is a block's that nobody has triaged yet: extract's fresh entry,
        illustrative with no reason. Check counts these; they are not problems."""
        return self.is_block and self.status == ILLUSTRATIVE and not self.reason.strip()

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
            "expect_error": self.expect_error,
            "prelude": self.prelude,
            "epilogue": self.epilogue,
            "patch": self.patch,
            "working_patch": self.working_patch,
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


def load_plain(path: Path) -> dict:
    """The manifest as plain data, parsed by the faster tomllib ({} when the file does not exist)."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BlogtoolsError(f"{path}: not a readable TOML manifest: {exc}") from exc


def save(doc: tomlkit.TOMLDocument, path: Path) -> bool:
    """Write the manifest atomically unless the file already holds exactly this text; True if written."""
    return write_if_changed(Path(path), tomlkit.dumps(doc).encode("utf-8"))


# The fields only a block's entry has (all required but changed_sha256), and those that name a file
# or folder under snippets/ and so must be bare names.
_FORM = ("prelude", "epilogue", "patch", "working_patch")  # only a block's entry has a published form
_BLOCK = ("ordinal", "language", "file", "sha256", "lines", "changed_sha256")
_BARE = ("post", "file", "modules", "prelude", "epilogue", "patch", "working_patch")


def _check_bare_names(entry: Entry) -> None:
    """RecordError unless ``post``, ``file`` and every module are bare names (inside snippets/)."""
    for name in _BARE if entry.is_block else ("post", "modules"):
        value = getattr(entry, name)
        for item in value if isinstance(value, tuple) else (value,):
            if item == "" and name in _FORM:
                continue  # not given
            if item in ("", ".", "..") or any(char in item for char in "/\\\0"):
                raise records.RecordError(f"{name} must be a bare name (no '/', not '..'), not {item!r}")


def _entry(path: Path, ident: str, table) -> Entry:
    """One entry's table as an Entry, validated by ``records.load``; one error naming the entry and field."""
    if not isinstance(table, dict):
        raise BlogtoolsError(f"{path}: {ident} is not a table: every top-level key must be an entry id")
    try:
        if "id" in table:
            raise records.RecordError("unknown key 'id' (an entry's id is its table's name)")
        entry = records.load(Entry, {"id": ident, **table})
        if is_block_id(ident):
            missing = [name for name in _BLOCK[:-1] if name not in table]
            if missing:
                raise records.RecordError(f"{missing[0]!r} is missing")
        else:
            present = [name for name in (*_BLOCK, *_FORM) if name in table]
            if present:
                raise records.RecordError(f"{present[0]!r} belongs to a code block's entry (<post>/NN), not a standalone one")
        _check_bare_names(entry)
        return entry
    except records.RecordError as exc:
        raise BlogtoolsError(f"{path}: [{ident}] {exc}") from None


def parse_entries(doc: Mapping, path: Path) -> dict[str, Entry]:
    """Every entry of a loaded manifest, by id; one clear error naming the entry and field when
    malformed, or when ``post``, ``file`` or a module is not a bare name (it would reach outside snippets/)."""
    return {ident: _entry(path, ident, table) for ident, table in doc.items()}


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
