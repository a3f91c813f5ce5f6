"""Drift: an essay's block no longer matches the text its curated entry was reviewed against.

Block text comes from a feed, so only reviewed text runs on the host. For a curated entry
(``Entry.curated``) ``blogtools extract`` keeps the reviewed text in ``snippets/<post>/NN-name.ext``
and writes the essay's new text beside it as ``NN-name.ext.new``; ``blogtools review ID`` shows
the difference and ``blogtools extract --accept ID`` promotes it. Until then ``ensure_reviewed``
refuses the entry, whatever starts it: ``blogtools run``, or pytest (the plugin fails the tests
a drifted entry lists, through ``refusal_for_test``).
"""

from __future__ import annotations

import difflib
import hashlib
import weakref
from dataclasses import dataclass
from pathlib import Path

from blogtools import manifest, project
from blogtools.blocks import find_blocks
from blogtools.content import other_pages, read_text
from blogtools.errors import BlogtoolsError
from blogtools.manifest import Entry
from blogtools.project import Project

NEW_SUFFIX = ".new"


@dataclass(frozen=True)
class Drift:
    """A curated block whose text differs from the reviewed text: both texts, for the diff."""

    id: str
    reviewed_file: Path
    reviewed: str  # what the reviewed file holds ("" when it is missing)
    current: str | None  # the block's text in the essay now; None when the block is gone

    def diff(self) -> str:
        """A unified diff from the reviewed text to the essay's text now."""
        now = self.current if self.current is not None else ""
        label = "(block gone from the essay)" if self.current is None else "(the essay now)"
        return "".join(difflib.unified_diff(
            self.reviewed.splitlines(keepends=True), now.splitlines(keepends=True),
            f"{self.id} (reviewed: {self.reviewed_file.name})", f"{self.id} {label}",
        ))


def new_file(snippets_dir: Path, entry: Entry) -> Path:
    """Where extract writes a curated block's changed text: beside the reviewed file, ``.new`` added."""
    return Path(snippets_dir) / entry.post / (entry.file + NEW_SUFFIX)


def drift_of(site: Project, entry: Entry, pages: dict[str, str] | None = None) -> Drift | None:
    """The drift of a curated block entry, or None when its block (in the essay and in its
    snippet file) still hashes to the reviewed sha256. ``pages`` caches page texts by post."""
    if not (entry.is_block and entry.curated):
        return None
    pages = {} if pages is None else pages
    if entry.post not in pages:
        page = site.posts_dir / f"{entry.post}.md"
        page = page if page.is_file() else other_pages(site.content_dir).get(entry.post)
        pages[entry.post] = read_text(page) if page else ""
    current = next((b.text for b in find_blocks(pages[entry.post]) if b.ordinal == entry.ordinal), None)
    reviewed_file = site.snippets_dir / entry.post / entry.file
    try:
        reviewed = reviewed_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        reviewed = ""
    hashes = {_sha256(reviewed), _sha256(current) if current is not None else None}
    return None if hashes == {entry.sha256} else Drift(entry.id, reviewed_file, reviewed, current)


def drifted(site: Project, entries: dict[str, Entry] | None = None) -> dict[str, Drift]:
    """Every drifted curated entry of the site's manifest, by id."""
    entries = manifest.read(site.snippets_dir) if entries is None else entries
    pages: dict[str, str] = {}
    found = {ident: drift_of(site, entry, pages) for ident, entry in entries.items()}
    return {ident: drift for ident, drift in found.items() if drift is not None}


def refusal(ident: str) -> str:
    """The one line that refuses to run a drifted entry."""
    return f"{ident}: drifted: review with `blogtools review {ident}`"


def ensure_reviewed(site: Project, entry: Entry) -> None:
    """Raise BlogtoolsError unless the entry's block is still the reviewed text (only that runs on the host)."""
    if drift_of(site, entry) is not None:
        raise BlogtoolsError(refusal(entry.id))


# pytest: a test listed by a drifted entry fails at set-up. Worked out once per pytest session.
_SESSIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def refusal_for_test(config, path: Path, nodeid: str) -> str | None:
    """The refusal for a pytest item (its session ``config``, file ``path`` and ``nodeid``) when a
    drifted entry of the site at pytest's rootdir lists it among its tests, else None. A manifest
    that cannot be read refuses every test: which ones are drifted cannot be told."""
    if config not in _SESSIONS:
        try:
            _SESSIONS[config] = _drifted_tests(Path(config.rootpath))
        except BlogtoolsError as exc:
            _SESSIONS[config] = exc
    if isinstance(_SESSIONS[config], BlogtoolsError):
        return f"blogtools: cannot tell which tests run drifted blocks: {_SESSIONS[config]}"
    root, listed = _SESSIONS[config]
    if not listed:
        return None
    try:
        file = Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return None
    _, sep, rest = nodeid.partition("::")
    item = file + sep + rest
    for test_id, ident in listed.items():
        if item == test_id or item.startswith((f"{test_id}[", f"{test_id}::")):
            return refusal(ident)
    return None


def _drifted_tests(rootpath: Path) -> tuple[Path, dict[str, str]]:
    """The site's root (absolute) and, for each test id a drifted entry lists, that entry's id."""
    site = project.load(start=rootpath)
    if not (site.snippets_dir / manifest.NAME).is_file():
        return site.root.resolve(), {}
    entries = manifest.read(site.snippets_dir)
    listed = {test_id: ident for ident in drifted(site, entries) for test_id in entries[ident].tests}
    return site.root.resolve(), listed


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
