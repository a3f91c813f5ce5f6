"""Feeds: where they are (``feeds/feeds.toml``), fetching them, and their entries as records.

A source is a local file or an http(s) URL; URLs are fetched with the validators of the last
fetch (``If-None-Match``/``If-Modified-Since``). ``parse`` turns a feed into ``FeedEntry`` records:
the page's front matter (a ``blogtools.content.FrontMatter``) and the body's HTML, unconverted.
"""

from __future__ import annotations

import calendar
import email.utils
import hashlib
import html
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import feedparser
import httpx
import nh3

from blogtools import __version__, htmlmd, records
from blogtools.content import FrontMatter
from blogtools.errors import BlogtoolsError

DEFAULT_TIMEOUT = 30.0
USER_AGENT = f"blogtools/{__version__} (feed ingest)"


@dataclass(frozen=True)
class Source:
    """A feed to ingest: where it is, the ``source`` label pages carry, and its attribution."""

    location: str
    label: str
    author: str | None = None
    site: str | None = None
    rights: str | None = None

    @property
    def is_url(self) -> bool:
        """Whether the location is a URL (``scheme://...``) rather than a file path."""
        return "://" in self.location


@dataclass
class SourceConfig:
    """One ``[[source]]`` table of feeds.toml: a path relative to the file or a URL, and the
    attribution pages show when the feed lacks it."""

    location: str
    author: str | None = None
    site: str | None = None
    rights: str | None = None

    def __post_init__(self):
        if not self.location:
            raise records.RecordError("'location' is empty")


@dataclass
class FeedsConfig:
    """feeds.toml: its ``[[source]]`` tables; ``records.load`` is its validator."""

    source: list[SourceConfig] = field(default_factory=list)


@dataclass(frozen=True)
class Validators:
    """What a server said identifies the version it sent (for a conditional GET next time)."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass
class FeedEntry:
    """One entry of a feed: its key (id, else link, else title), front matter, HTML body, the
    base URL its relative links resolve against, the languages its feed's markup names, and
    where the entry has no date of its own, what its date is instead (else "")."""

    key: str
    source: Source
    front: FrontMatter
    body: str
    base: str
    languages: tuple[str, ...] = ()
    undated: str = ""


def _relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when it lies below it, else absolute."""
    path = path.resolve()
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def load_sources(feeds_toml: Path, root: Path | None = None) -> list[Source]:
    """The sources a feeds.toml lists (paths relative to the file, or URLs; a local feed is
    labelled relative to the site's ``root``, default: the folder holding feeds/); one
    BlogtoolsError naming the file and the first problem."""
    try:
        config = records.load(FeedsConfig, tomllib.loads(feeds_toml.read_text(encoding="utf-8")))
    except OSError as exc:
        raise BlogtoolsError(f"{feeds_toml}: cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BlogtoolsError(f"{feeds_toml}: not valid TOML: {exc}") from None
    except records.RecordError as exc:
        raise BlogtoolsError(f"{feeds_toml}: {exc}") from None
    folder = feeds_toml.resolve().parent
    root = (folder.parent if root is None else Path(root)).resolve()
    sources = []
    for table in config.source:
        attribution = {"author": table.author, "site": table.site, "rights": table.rights}
        if "://" in table.location:
            sources.append(Source(table.location, table.location, **attribution))
        else:  # labelled relative to the site's root, whatever the cwd
            path = folder / table.location
            sources.append(Source(str(path), _relative(path, root), **attribution))
    return sources


def source_for(argument: str, configured: Iterable[Source]) -> Source:
    """The source a command-line argument names: its feeds.toml entry if listed, else a bare one."""
    is_url = "://" in argument
    for source in configured:
        if source.location == argument or (
                not is_url and not source.is_url and Path(source.location).resolve() == Path(argument).resolve()):
            return source
    return Source(argument, argument if is_url else _relative(Path(argument), Path.cwd()))


def fetch(source: Source, known: Validators = Validators(), timeout: float = DEFAULT_TIMEOUT
          ) -> tuple[bytes | None, Validators]:
    """The source's bytes (None when the server answers 304 to the ``known`` validators) and the
    validators to remember."""
    if not source.is_url:
        try:
            return Path(source.location).read_bytes(), Validators()
        except OSError as exc:
            raise BlogtoolsError(f"{source.label}: cannot read: {exc.strerror}") from None
    if urlsplit(source.location).scheme.lower() not in ("http", "https"):
        raise BlogtoolsError(f"{source.label}: only http and https URLs can be fetched")
    headers = {"User-Agent": USER_AGENT}
    if known.etag:
        headers["If-None-Match"] = known.etag
    if known.last_modified:
        headers["If-Modified-Since"] = known.last_modified
    try:
        response = httpx.get(source.location, headers=headers, timeout=timeout, follow_redirects=True)
    except httpx.TimeoutException:
        raise BlogtoolsError(f"{source.label}: no answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise BlogtoolsError(f"{source.label}: {exc or type(exc).__name__}") from None
    if response.status_code == 304:
        if not ({"If-None-Match", "If-Modified-Since"} & headers.keys()):  # nothing it could confirm
            raise BlogtoolsError(f"{source.label}: HTTP 304 Not Modified to a request without validators")
        return None, known
    if response.status_code >= 400:
        raise BlogtoolsError(f"{source.label}: HTTP {response.status_code} {response.reason_phrase}")
    return response.content, Validators(response.headers.get("etag"), response.headers.get("last-modified"))


def parse(source: Source, data: bytes, warn: Callable[[str], None], today: datetime | None = None
          ) -> tuple[dict, list[FeedEntry]]:
    """The feed's own metadata and its entries; BlogtoolsError when ``data`` is not a feed.

    An entry with no date of its own is kept, dated by the feed's date, else ``today`` (default:
    now, UTC midnight), with a warning; a feed with no entries is a warning."""
    feed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    problem = feed.get("bozo_exception")
    if not feed.get("version") and not feed.entries:
        detail = f" ({problem})" if problem is not None else ""
        raise BlogtoolsError(f"{source.label}: not an RSS or Atom feed{detail}")
    if problem is not None:
        warn(f"{source.label}: {problem} (recovered {len(feed.entries)} entries)")
    if not feed.entries:
        warn(f"{source.label}: the feed has no entries")
    meta = feed.get("feed", {})
    site = htmlmd.safe_url(source.site or meta.get("link") or "")
    feed_date = _when(meta, "updated") or _when(meta, "published")
    fallback = (feed_date, "the feed's date") if feed_date else (today or _today(), "the day it was first seen")
    entries = []
    for n, raw in enumerate(feed.entries, 1):
        entry = _entry(source, meta, raw, site, fallback)
        if entry.undated:
            warn(f"{source.label}: entry {n} ({entry.front.title}) has no date; dated "
                 f"{entry.front.date.date().isoformat()}, {entry.undated}")
        if not entry.key:  # such entries would all share the key "" and collapse into one page
            warn(f"{source.label}: entry {n} has no id, link or title to tell it apart; skipped")
        else:
            entries.append(entry)
    named = htmlmd.feed_languages(entry.body for entry in entries)
    for entry in entries:
        entry.languages = named
    return meta, entries


def plain_text(detail) -> str:
    """A feed text construct as plain text (markup in html-typed values dropped)."""
    if not detail:
        return ""
    value = detail.get("value", "")
    if "html" in (detail.get("type") or ""):
        value = htmlmd.text_content(nh3.clean(value, tags=set()))
    return " ".join(value.split())


def _when(raw, key: str) -> datetime | None:
    """The entry's ``published``/``updated`` time in UTC; also reads RFC 822 dates without a zone."""
    parsed = dict.get(raw, f"{key}_parsed")  # dict.get: no feedparser fallback from one to the other
    if parsed:
        return datetime.fromtimestamp(calendar.timegm(parsed), timezone.utc)
    text = (dict.get(raw, key) or "").strip()
    for parse in (email.utils.parsedate_to_datetime, datetime.fromisoformat):
        try:
            moment = parse(text)
        except (TypeError, ValueError, IndexError):
            continue
        return moment.replace(tzinfo=moment.tzinfo or timezone.utc).astimezone(timezone.utc)
    return None


def _body(raw) -> tuple[str, str]:
    """The entry's body as HTML, and its xml:base."""
    details = list(raw.get("content", [])) or ([raw["summary_detail"]] if "summary_detail" in raw else [])
    if not details:
        return "", ""
    detail = next((d for d in details if "html" in (d.get("type") or "")), details[0])
    value = detail.get("value", "")
    if "html" not in (detail.get("type") or "html"):
        value = "".join(f"<p>{html.escape(p)}</p>" for p in value.split("\n\n"))
    return value, detail.get("base") or ""


def _today() -> datetime:
    return datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


def _entry(source: Source, meta, raw, site: str | None, fallback: tuple[datetime, str]) -> FeedEntry:
    """The entry as a record; with no date of its own it takes ``fallback`` (a date, and what
    that date is, which ``FeedEntry.undated`` keeps)."""
    published = _when(raw, "published") or _when(raw, "updated")
    undated = "" if published is not None else fallback[1]
    published = published or fallback[0]
    updated = _when(raw, "updated") or published
    link = htmlmd.safe_url(raw.get("link") or "", meta.get("link") or "")
    authors = [a.get("name") for a in raw.get("authors", []) if a.get("name")]
    if not authors:
        authors = [a.get("name") for a in meta.get("authors", []) if a.get("name")]
    if not authors and source.author:
        authors = [source.author]
    tags = [t.get("term") or t.get("label") for t in raw.get("tags", [])]
    body, xml_base = _body(raw)
    entry_id = raw.get("id") or link or plain_text(raw.get("title_detail"))
    front = FrontMatter(
        title=plain_text(raw.get("title_detail")) or "Untitled",
        date=published,
        updated=updated,
        authors=list(dict.fromkeys(" ".join(a.split()) for a in authors)),
        canonical=link,
        site=site,
        rights=plain_text(raw.get("rights_detail")) or plain_text(meta.get("rights_detail")) or source.rights,
        source=source.label,
        entry_id=entry_id,
        tags=list(dict.fromkeys(" ".join(t.split()) for t in tags if t and t.strip())),
        slug=_segment(link or (entry_id if "://" in entry_id else ""), entry_id),
    )
    base = urljoin(link, xml_base) if link and xml_base else (link or htmlmd.safe_url(xml_base) or "")
    return FeedEntry(entry_id, source, front, body, base, undated=undated)


def _segment(url: str, fallback: str) -> str:
    """The last path segment of ``url`` made file-name safe (the post's URL slug)."""
    path = unquote(urlsplit(url).path) if url else ""
    segment = path.rstrip("/").rsplit("/", 1)[-1]
    segment = re.sub(r"\.(?:html?|php|aspx?)$", "", segment, flags=re.I)
    if not segment:
        segment = hashlib.sha256(fallback.encode()).hexdigest()[:10]
    segment = re.sub(r"[^a-z0-9._-]+", "-", segment.lower()).strip("-.")
    return segment[:80] or "post"
