"""Ingest RSS/Atom feeds into ``content/posts/<slug>.md``: one Markdown page per entry.

Accumulate, never forget: a page stays when its entry leaves the feed; a changed entry rewrites its
page; an unchanged feed writes nothing. Three steps: **plan** (read every source, decide which
entries need a page and which page), **convert** (each such entry into its page's bytes) and
**commit** (write what changed, atomically). Nothing is written before the last source has been
read and converted, so a bad source leaves the content folder exactly as it was.

The state (``blogtools.ingest_state``) remembers what produced each page, so an unchanged
re-ingest neither converts nor writes. Pages of an older format are migrated in the same commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from blogtools import (
    content,
    feeds,
    htmlmd,
    ingest_state,
    language_guess,
    languages,
    mdwrite,
)
from blogtools.errors import BlogtoolsError
from blogtools.feeds import DEFAULT_TIMEOUT, FeedEntry, Source, Validators
from blogtools.files import write_atomic, write_if_changed
from blogtools.ingest_state import EntryState, IngestState, SourceState

# What produced a page: the conversion code and the converter libraries. A change re-renders all.
RENDERER = hashlib.sha256(
    b"".join(Path(m.__file__).read_bytes() for m in (htmlmd, language_guess, languages, mdwrite, content, feeds))
    + Path(__file__).read_bytes()
    + f"{version('html-to-markdown')} {version('nh3')} {version('feedparser')}".encode()
    + language_guess.guesser().encode()  # with Magika or without, the guesses differ
).hexdigest()[:16]


@dataclass
class Summary:
    """What an ingest did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    written: list[Path] = field(default_factory=list)
    migrated: list[Path] = field(default_factory=list)

    def line(self) -> str:
        """The summary line the CLI prints: ``N added, N updated, N unchanged``."""
        return f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged"


@dataclass
class _Read:
    """One source as fetched: its new state record and its bytes (None after a 304)."""

    source: Source
    record: SourceState
    data: bytes | None


@dataclass
class Plan:
    """What an ingest will convert: the entries, with the state that names their pages, the
    links between posts and the number of entries known to be unchanged already."""

    state: IngestState
    entries: list[FeedEntry]
    internal: dict[str, str]  # normalise_link(post URL) -> page slug
    links: str  # a hash of ``internal``: when it changes, every page is converted again
    unchanged: int = 0


@dataclass
class PageWrite:
    """A page to write: its path, its new bytes and whether it is a new page."""

    path: Path
    data: bytes
    new: bool


def ingest(
    sources: list[Source],
    content_dir: Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    warn: Callable[[str], None] = lambda message: None,
    progress: Callable[[list], object] | None = None,
) -> Summary:
    """Ingest ``sources`` into ``content_dir``; raise BlogtoolsError (nothing written) on bad input.

    ``progress(items)`` may wrap the list of entries to convert in a context manager that yields
    an iterable (click.progressbar does).
    """
    migrations = content.outdated_pages(content_dir)
    state = ingest_state.load(content_dir, warn)
    todo = plan(sources, state, content_dir, timeout, warn)
    summary = Summary(unchanged=todo.unchanged)
    writes = convert(todo, content_dir, summary, progress)
    commit(content_dir, state, writes, migrations, summary)
    return summary


# --- plan -------------------------------------------------------------------------------------


def plan(sources: list[Source], state: IngestState, content_dir: Path, timeout: float,
         warn: Callable[[str], None]) -> Plan:
    """Read every source and decide what to convert; ``state`` is updated to name every page."""
    reads = [_fetch(source, state, timeout) for source in sources]
    entries, skipped = [], []
    for read in reads:
        if _unchanged(read, state, content_dir):
            skipped.append(read)
        else:
            entries += _parse(read, timeout, warn)
            state.sources[read.source.label] = read.record
    entries = list({entry.key: entry for entry in entries}.values())
    _keep_first_dates(entries, state, content_dir)
    _assign_pages(entries, state, content_dir)
    internal = {htmlmd.normalise_link(record.canonical): Path(record.page).stem
                for record in state.entries.values() if record.canonical}
    result = Plan(state, entries, internal, _sha(json.dumps(sorted(internal.items())).encode()))
    for read in skipped:  # unchanged sources still convert again when the links between posts changed
        if read.record.links != result.links:
            result.entries += [e for e in _parse(read, timeout, warn) if e.key in state.entries]
        else:
            result.unchanged += len(read.record.entries)
        state.sources[read.source.label] = read.record
    for read in reads:
        read.record.links = result.links
    return result


def _fetch(source: Source, state: IngestState, timeout: float) -> _Read:
    """The source fetched with the validators of the last time, and its new state record."""
    known = state.sources.get(source.label, SourceState())
    data, validators = feeds.fetch(source, known.validators, timeout)
    record = SourceState(
        entries=list(known.entries), sha256=_sha(data) if data is not None else known.sha256,
        etag=validators.etag, last_modified=validators.last_modified, renderer=known.renderer, links=known.links,
    )
    return _Read(source, record, data)


def _unchanged(read: _Read, state: IngestState, content_dir: Path) -> bool:
    """Whether the source's bytes, the renderer and every page of its entries are as last time."""
    known = state.sources.get(read.source.label, SourceState())
    same = (read.data is None or read.record.sha256 == known.sha256) and known.renderer == RENDERER
    return same and all(key in state.entries and _page_intact(content_dir, state.entries[key])
                        for key in read.record.entries)


def _parse(read: _Read, timeout: float, warn: Callable[[str], None]) -> list[FeedEntry]:
    """The source's entries (fetched again in full after a 304); its record remembers their keys."""
    if read.data is None:
        read.data, validators = feeds.fetch(read.source, Validators(), timeout)
        read.record.sha256 = _sha(read.data)
        read.record.etag, read.record.last_modified = validators.etag, validators.last_modified
    _, entries = feeds.parse(read.source, read.data, warn)
    read.record.entries = list(dict.fromkeys(entry.key for entry in entries))
    read.record.renderer = RENDERER
    return entries


def _keep_first_dates(entries: list[FeedEntry], state: IngestState, content_dir: Path) -> None:
    """An entry with no date of its own keeps the date its page already has: the day it was
    first seen (or the feed's date then) stays, however the feed's date moves."""
    for entry in entries:
        record = state.entries.get(entry.key)
        if not entry.undated or record is None or not (content_dir / record.page).is_file():
            continue
        try:
            front, _ = content.read_page(content_dir / record.page)
        except BlogtoolsError:
            continue  # an unreadable page is written again, with today's answer
        if front is not None:
            entry.front.date = front.date
            entry.front.updated = front.updated or front.date


def _assign_pages(entries: list[FeedEntry], state: IngestState, content_dir: Path) -> None:
    """A known entry keeps its page; a new one gets ``posts/YYYY-MM-DD-<slug>[-N].md``."""
    taken = {record.page for record in state.entries.values()}
    for entry in entries:
        record = state.entries.get(entry.key)
        if record is None:
            stem = f"{entry.front.date.date().isoformat()}-{entry.front.slug}"
            page, n = f"{content.POSTS}/{stem}.md", 1
            while page in taken or (content_dir / page).exists():
                n += 1
                page = f"{content.POSTS}/{stem}-{n}.md"
            taken.add(page)
            record = state.entries[entry.key] = EntryState(page, source=entry.source.label)
        record.canonical = entry.front.canonical


# --- convert ----------------------------------------------------------------------------------


def convert(todo: Plan, content_dir: Path, summary: Summary,
            progress: Callable[[list], object] | None = None) -> list[PageWrite]:
    """The pages whose bytes change; entries whose page is already right count as unchanged."""
    writes = []
    with (progress or nullcontext)(todo.entries) as entries:
        for entry in entries:
            write = _convert(entry, todo, content_dir)
            if write is None:
                summary.unchanged += 1
            else:
                writes.append(write)
    return writes


def _convert(entry: FeedEntry, todo: Plan, content_dir: Path) -> PageWrite | None:
    """The entry's page, or None when the page on disk already is what it would be."""
    record = todo.state.entries[entry.key]
    digest = _sha(json.dumps([content.page_text(entry.front, entry.body), entry.base, entry.languages, todo.links,
                              RENDERER]).encode())
    if record.input == digest and _page_intact(content_dir, record):
        return None
    slug = Path(record.page).stem
    body = htmlmd.to_markdown(entry.body, slug=slug, base=entry.base, internal=todo.internal,
                              feed_languages=entry.languages)
    data = content.page_text(entry.front, body).encode("utf-8")
    path = content_dir / record.page
    existing = path.read_bytes() if path.exists() else None
    record.input, record.sha256, record.source = digest, _sha(data), entry.source.label
    return None if existing == data else PageWrite(path, data, existing is None)


# --- commit -----------------------------------------------------------------------------------


def commit(content_dir: Path, state: IngestState, writes: list[PageWrite], migrations: list[tuple[Path, bytes]],
           summary: Summary) -> None:
    """Write the migrated pages, the converted pages and the state (only when it changed)."""
    converted = {write.path for write in writes}
    for path, data in migrations:
        if path not in converted:
            write_atomic(path, data)
            summary.migrated.append(path)
    for write in writes:
        write_atomic(write.path, write.data)
        summary.written.append(write.path)
        if write.new:
            summary.added += 1
        else:
            summary.updated += 1
    summary.written += summary.migrated
    path = content_dir / ingest_state.FILE
    if write_if_changed(path, ingest_state.dumps(state)):
        summary.written.append(path)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _page_intact(content_dir: Path, record: EntryState) -> bool:
    try:
        return _sha((content_dir / record.page).read_bytes()) == record.sha256
    except OSError:
        return False
