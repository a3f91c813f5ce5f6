"""``<content>/.ingest-state.json``: what the last ingest saw, so an unchanged one does nothing.

Per source: the fetched bytes' hash, the HTTP validators, the renderer and internal-links hashes
that produced its pages, and its entries' keys. Per entry: its page, URL, source, a hash of what
produced the page and the page's own hash. It is a cache of what the pages say: when it is missing
or broken it is rebuilt from their front matter.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from blogtools import records
from blogtools.content import POSTS, read_page
from blogtools.errors import BlogtoolsError
from blogtools.feeds import Validators

FILE = ".ingest-state.json"
VERSION = 1
_PAGE = re.compile(rf"{POSTS}/[^/\\]+\.md")


@dataclass
class SourceState:
    """One source as last ingested."""

    entries: list[str] = field(default_factory=list)
    sha256: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    renderer: str | None = None
    links: str | None = None

    @property
    def validators(self) -> Validators:
        """The HTTP validators to send with the next fetch."""
        return Validators(self.etag, self.last_modified)


@dataclass
class EntryState:
    """One entry's page and what produced it (``input``: a hash of the entry, the links and the
    renderer; ``sha256``: of the page as written)."""

    page: str
    canonical: str | None = None
    input: str = ""
    sha256: str | None = None
    source: str | None = None

    def __post_init__(self):
        if not _PAGE.fullmatch(self.page):
            raise records.RecordError(f"'page' must name a page {POSTS}/<slug>.md, not {self.page!r}")


@dataclass
class IngestState:
    """The whole state file; ``records.load`` is its validator."""

    version: int
    sources: dict[str, SourceState]
    entries: dict[str, EntryState]


def load(content_dir: Path, warn: Callable[[str], None]) -> IngestState:
    """The state file, or (with a warning when it exists but is unusable) one rebuilt from the pages."""
    path = content_dir / FILE
    if not path.exists():
        return from_pages(content_dir)
    if not path.is_file():
        raise BlogtoolsError(f"{path}: not a file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: bad JSON or bad UTF-8
        problem = f"unreadable ({exc})"
    else:
        try:
            if not isinstance(data, dict) or data.get("version") != VERSION:
                raise records.RecordError(f"not a version {VERSION} ingest state")
            return records.load(IngestState, data)
        except records.RecordError as exc:
            problem = str(exc)
    warn(f"{path}: {problem}; rebuilt it from the pages")
    return from_pages(content_dir)


def from_pages(content_dir: Path) -> IngestState:
    """The entry index rebuilt from the pages' front matter; BlogtoolsError naming a page that cannot be read."""
    state = IngestState(VERSION, {}, {})
    for page in sorted((content_dir / POSTS).glob("*.md")):
        front, _ = read_page(page)
        if front is not None and front.entry_id:
            state.entries[front.entry_id] = EntryState(f"{POSTS}/{page.name}", front.canonical, source=front.source)
    return state


def dumps(state: IngestState) -> bytes:
    """The state file's bytes (null values left out, keys sorted, so equal states are equal bytes)."""
    def plain(value):
        if dataclasses.is_dataclass(value):
            return {key: plain(item) for key, item in vars(value).items() if item is not None}
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        return value

    return (json.dumps(plain(state), indent=1, sort_keys=True) + "\n").encode()
