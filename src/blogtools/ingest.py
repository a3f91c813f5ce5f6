"""Ingest RSS/Atom feeds into ``content/posts/<slug>.md``: one Markdown page per entry.

Accumulate, never forget: a page stays when its entry leaves the feed; a changed entry rewrites its
page; an unchanged feed writes nothing. Every source is read and converted before the first write,
so a bad source leaves the content folder exactly as it was.

``<content>/.ingest-state.json`` remembers, per source, the fetched bytes' hash and the HTTP
validators (ETag, Last-Modified) for conditional GET, and per entry its page, URL and a hash of
what produced the page, so an unchanged re-ingest neither converts nor writes. It is a cache of
what the pages say: when it is missing or broken it is rebuilt from their front matter.
"""

from __future__ import annotations

import calendar
import email.utils
import hashlib
import html
import json
import re
import tomllib
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import feedparser
import httpx
import nh3

from blogtools import __version__, blocks, codelang, htmlmd
from blogtools.errors import BlogtoolsError
from blogtools.files import write_atomic
from blogtools.project import POSTS

STATE_FILE = ".ingest-state.json"
DEFAULT_TIMEOUT = 30.0
USER_AGENT = f"blogtools/{__version__} (feed ingest)"
# What produced a page: the conversion code and the converter libraries. A change re-renders all.
RENDERER = hashlib.sha256(
    b"".join(Path(m.__file__).read_bytes() for m in (htmlmd, codelang))
    + Path(__file__).read_bytes()
    + f"{version('html-to-markdown')} {version('nh3')} {version('feedparser')}".encode()
).hexdigest()[:16]


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
class Summary:
    """What an ingest did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    written: list[Path] = field(default_factory=list)

    def line(self) -> str:
        """The summary line the CLI prints: ``N added, N updated, N unchanged``."""
        return f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged"


@dataclass
class _Entry:
    key: str
    source: Source
    fields: dict
    body: str
    base: str


def _relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when it lies below it, else absolute."""
    path = path.resolve()
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def load_sources(feeds_toml: Path, root: Path | None = None) -> list[Source]:
    """The ``[[source]]`` tables of a feeds.toml (paths relative to the file, or http(s) URLs); a
    local feed is labelled relative to the site's ``root`` (default: the folder holding feeds/)."""
    root = (feeds_toml.resolve().parent.parent if root is None else Path(root)).resolve()
    try:
        data = tomllib.loads(feeds_toml.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BlogtoolsError(f"{feeds_toml}: cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BlogtoolsError(f"{feeds_toml}: not valid TOML: {exc}") from None
    sources = []
    for n, table in enumerate(data.get("source", []), 1):
        location = table.get("location") if isinstance(table, dict) else None
        if not isinstance(location, str) or not location:
            raise BlogtoolsError(f"{feeds_toml}: [[source]] #{n} has no 'location'")
        attribution = {k: table.get(k) for k in ("author", "site", "rights")}
        bad = [k for k, v in attribution.items() if v is not None and not isinstance(v, str)]
        if bad:
            raise BlogtoolsError(f"{feeds_toml}: [[source]] #{n}: '{bad[0]}' must be a string")
        if "://" in location:
            sources.append(Source(location, location, **attribution))
        else:  # labelled relative to the site's root, whatever the cwd
            path = feeds_toml.resolve().parent / location
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


# ---------------------------------------------------------------------------------------- fetch


def fetch(source: Source, known: dict, timeout: float) -> tuple[bytes | None, dict]:
    """The source's bytes (None when the server answers 304) and the validators to remember."""
    if not source.is_url:
        try:
            return Path(source.location).read_bytes(), {}
        except OSError as exc:
            raise BlogtoolsError(f"{source.label}: cannot read: {exc.strerror}") from None
    if urlsplit(source.location).scheme.lower() not in ("http", "https"):
        raise BlogtoolsError(f"{source.label}: only http and https URLs can be fetched")
    headers = {"User-Agent": USER_AGENT}
    if known.get("etag"):
        headers["If-None-Match"] = known["etag"]
    if known.get("last_modified"):
        headers["If-Modified-Since"] = known["last_modified"]
    try:
        response = httpx.get(source.location, headers=headers, timeout=timeout, follow_redirects=True)
    except httpx.TimeoutException:
        raise BlogtoolsError(f"{source.label}: no answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise BlogtoolsError(f"{source.label}: {exc or type(exc).__name__}") from None
    if response.status_code == 304:
        if not ({"If-None-Match", "If-Modified-Since"} & headers.keys()):  # nothing it could confirm
            raise BlogtoolsError(f"{source.label}: HTTP 304 Not Modified to a request without validators")
        return None, {k: known.get(k) for k in ("etag", "last_modified")}
    if response.status_code >= 400:
        raise BlogtoolsError(f"{source.label}: HTTP {response.status_code} {response.reason_phrase}")
    validators = {"etag": response.headers.get("etag"),
                  "last_modified": response.headers.get("last-modified")}
    return response.content, validators


# ---------------------------------------------------------------------------------------- parse


def parse(source: Source, data: bytes, warn: Callable[[str], None]) -> tuple[dict, list[_Entry]]:
    """The feed's own metadata and its entries; BlogtoolsError when ``data`` is not a feed."""
    feed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    problem = feed.get("bozo_exception")
    if not feed.get("version") and not feed.entries:
        detail = f" ({problem})" if problem is not None else ""
        raise BlogtoolsError(f"{source.label}: not an RSS or Atom feed{detail}")
    if problem is not None:
        warn(f"{source.label}: {problem} (recovered {len(feed.entries)} entries)")
    meta = feed.get("feed", {})
    site = htmlmd.safe_url(source.site or meta.get("link") or "")
    entries = []
    for n, raw in enumerate(feed.entries, 1):
        entry = _entry(source, meta, raw, site)
        if entry is None:
            warn(f"{source.label}: entry {n} ({plain_text(raw.get('title_detail')) or 'untitled'}) "
                 "has no date; skipped")
        elif not entry.key:  # such entries would all share the key "" and collapse into one page
            warn(f"{source.label}: entry {n} has no id, link or title to tell it apart; skipped")
        else:
            entries.append(entry)
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


def _entry(source: Source, meta, raw, site: str | None) -> _Entry | None:
    published = _when(raw, "published") or _when(raw, "updated")
    if published is None:
        return None
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
    fields = {
        "title": plain_text(raw.get("title_detail")) or "Untitled",
        "date": published.isoformat(),
        "updated": updated.isoformat(),
        "authors": list(dict.fromkeys(" ".join(a.split()) for a in authors)),
        "canonical": link,
        "site": site,
        "rights": plain_text(raw.get("rights_detail")) or plain_text(meta.get("rights_detail")) or source.rights,
        "source": source.label,
        "entry_id": entry_id,
        "tags": list(dict.fromkeys(" ".join(t.split()) for t in tags if t and t.strip())),
        "slug": _segment(link or (entry_id if "://" in entry_id else ""), entry_id),
    }
    base = urljoin(link, xml_base) if link and xml_base else (link or htmlmd.safe_url(xml_base) or "")
    return _Entry(entry_id, source, fields, body, base)


def _segment(url: str, fallback: str) -> str:
    """The last path segment of ``url`` made file-name safe (the post's URL slug)."""
    path = unquote(urlsplit(url).path) if url else ""
    segment = path.rstrip("/").rsplit("/", 1)[-1]
    segment = re.sub(r"\.(?:html?|php|aspx?)$", "", segment, flags=re.I)
    if not segment:
        segment = hashlib.sha256(fallback.encode()).hexdigest()[:10]
    segment = re.sub(r"[^a-z0-9._-]+", "-", segment.lower()).strip("-.")
    return segment[:80] or "post"


# --------------------------------------------------------------------------------------- render

_FRONT_ORDER = ("title", "date", "updated", "authors", "canonical", "site", "rights", "source",
                "entry_id", "tags", "slug")


def render_page(fields: dict, body: str) -> str:
    """A page: YAML front matter (string values HTML-escaped, dates bare ISO 8601) and the body."""
    lines = ["---"]
    for key in _FRONT_ORDER:
        value = fields.get(key)
        if value in (None, "", []):
            continue
        if key in ("date", "updated"):
            lines.append(f"{key}: {value}")
        elif isinstance(value, list):
            lines.append(f"{key}:")
            lines.extend(f"  - {_yaml_string(item)}" for item in value)
        else:
            lines.append(f"{key}: {_yaml_string(value)}")
    lines.append("---")
    return "\n".join(lines) + "\n\n" + body


def _yaml_string(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(html.escape(value, quote=True), ensure_ascii=False)


def read_front_matter(text: str, where: str) -> dict:
    """The front matter of a page written by ``render_page``, string values (and strings in lists)
    unescaped; {} when there is none; BlogtoolsError naming ``where`` when it is not a YAML mapping."""
    meta, _ = blocks.read_front_matter(text, where)
    return {k: _unescape(v) for k, v in meta.items()}


def _unescape(value):
    if isinstance(value, str):
        return html.unescape(value)
    if isinstance(value, list):
        return [html.unescape(v) if isinstance(v, str) else v for v in value]
    return value


# --------------------------------------------------------------------------------------- ingest


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_STATE_PAGE = re.compile(rf"{POSTS}/[^/\\]+\.md")


def _load_state(content_dir: Path, warn: Callable[[str], None]) -> dict:
    """The state file, or (with a warning when it exists but is unusable) one rebuilt from the pages."""
    path = content_dir / STATE_FILE
    if not path.exists():
        return _state_from_pages(content_dir)
    if not path.is_file():
        raise BlogtoolsError(f"{path}: not a file")
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: bad JSON or bad UTF-8
        problem = f"unreadable ({exc})"
    else:
        problem = _state_problem(state)
        if problem is None:
            return state
    state = _state_from_pages(content_dir)
    warn(f"{path}: {problem}; rebuilt it from the pages")
    return state


def _state_problem(state) -> str | None:
    """What makes a loaded state unusable (the first thing found), or None when its shape is sound."""
    if not isinstance(state, dict) or state.get("version") != 1:
        return "not a version 1 ingest state"
    for part in ("sources", "entries"):
        if not isinstance(state.get(part), dict):
            return f"'{part}' is not an object"
        for key, record in state[part].items():
            if not isinstance(record, dict):
                return f"{part} {key!r} is not an object"
            for name, value in record.items():
                if (part, name) == ("sources", "entries"):
                    sound = isinstance(value, list) and all(isinstance(item, str) for item in value)
                else:
                    sound = value is None or isinstance(value, str)
                if not sound:
                    return f"{part} {key!r} has a malformed {name!r}"
            if part == "entries" and not _STATE_PAGE.fullmatch(record.get("page") or ""):
                return f"entries {key!r} names no page {POSTS}/<slug>.md"
    return None


def _state_from_pages(content_dir: Path) -> dict:
    """Rebuild the entry index from the pages themselves; BlogtoolsError naming a page that cannot be read."""
    entries = {}
    for page in sorted((content_dir / POSTS).glob("*.md")):
        meta = read_front_matter(blocks.read_page(page), str(page))
        fields = {key: meta.get(key) for key in ("entry_id", "canonical", "source")}
        wrong = [key for key, value in fields.items() if value is not None and not isinstance(value, str)]
        if wrong:
            raise BlogtoolsError(f"{page}: front matter '{wrong[0]}' must be a string")
        if fields["entry_id"]:
            entries[fields["entry_id"]] = {"page": f"{POSTS}/{page.name}", "canonical": fields["canonical"],
                                           "input": "", "source": fields["source"]}
    return {"version": 1, "sources": {}, "entries": entries}


def _page_intact(content_dir: Path, record: dict) -> bool:
    try:
        return _sha((content_dir / record["page"]).read_bytes()) == record.get("sha256")
    except OSError:
        return False


def _refetch(source: Source, record: dict, timeout: float) -> bytes:
    """The full body of a source that answered 304, fetched without validators; ``record`` takes
    its hash and new validators."""
    data, validators = fetch(source, {}, timeout)
    record.update(sha256=_sha(data), **validators)
    return data


def _parse_into(record: dict, source: Source, data: bytes, warn: Callable[[str], None]) -> list[_Entry]:
    """The source's entries; ``record``, its state, remembers which they are."""
    _, entries = parse(source, data, warn)
    record["entries"] = list(dict.fromkeys(e.key for e in entries))
    return entries


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
    state = _load_state(content_dir, warn)
    old_state = json.dumps(state, sort_keys=True)
    summary = Summary()

    # 1. Read every source; parse those whose bytes changed (or whose pages were touched).
    fresh: list[_Entry] = []
    skipped: list[tuple[Source, bytes | None, dict]] = []
    for source in sources:
        known = state["sources"].get(source.label, {})
        data, validators = fetch(source, known, timeout)
        record = {"entries": [], **known, **validators,
                  "sha256": _sha(data) if data is not None else known.get("sha256")}
        ids = record["entries"]
        same = (data is None or record["sha256"] == known.get("sha256")) and known.get("renderer") == RENDERER
        if same and all(i in state["entries"] and _page_intact(content_dir, state["entries"][i]) for i in ids):
            skipped.append((source, data, record))
            continue
        if data is None:  # 304 but pages were touched: fetch the full body again.
            data = _refetch(source, record, timeout)
        fresh.extend(_parse_into(record, source, data, warn))
        record["renderer"] = RENDERER
        state["sources"][source.label] = record

    # 2. Pages: a known entry keeps its page; a new one gets YYYY-MM-DD-<segment>[-N].
    fresh = list({e.key: e for e in fresh}.values())
    taken = {r["page"] for r in state["entries"].values()}
    for entry in fresh:
        record = state["entries"].get(entry.key)
        if record is None:
            stem = f"{entry.fields['date'][:10]}-{entry.fields['slug']}"
            page, n = f"{POSTS}/{stem}.md", 1
            while page in taken or (content_dir / page).exists():
                n += 1
                page = f"{POSTS}/{stem}-{n}.md"
            taken.add(page)
            state["entries"][entry.key] = {"page": page, "input": "", "source": entry.source.label}
        state["entries"][entry.key]["canonical"] = entry.fields["canonical"]

    internal = {htmlmd.normalise_link(r["canonical"]): Path(r["page"]).stem
                for r in state["entries"].values() if r.get("canonical")}
    links = _sha(json.dumps(sorted(internal.items())).encode())

    # Sources skipped above still re-render when the set of posts (internal links) changed.
    for source, data, record in skipped:
        if record.get("links") != links:
            if data is None:  # 304: the feed did not change, but the pages' links must.
                data = _refetch(source, record, timeout)
            fresh.extend(e for e in _parse_into(record, source, data, warn) if e.key in state["entries"])
        else:
            summary.unchanged += len(record["entries"])
        state["sources"][source.label] = record
    for source in sources:
        state["sources"][source.label]["links"] = links

    # 3. Convert everything before writing anything.
    pending: list[tuple[Path, bytes, bool]] = []
    context = progress(fresh) if progress else nullcontext(fresh)
    with context as items:
        for entry in items:
            record = state["entries"][entry.key]
            digest = _sha(json.dumps([entry.fields, entry.body, entry.base, links, RENDERER]).encode())
            if record.get("input") == digest and _page_intact(content_dir, record):
                summary.unchanged += 1
                continue
            slug = Path(record["page"]).stem
            body = htmlmd.to_markdown(entry.body, slug=slug, base=entry.base, internal=internal)
            data = render_page(entry.fields, body).encode("utf-8")
            path = content_dir / record["page"]
            existing = path.read_bytes() if path.exists() else None
            record.update(input=digest, sha256=_sha(data), source=entry.source.label)
            if existing == data:
                summary.unchanged += 1
            else:
                pending.append((path, data, existing is None))

    # 4. Write.
    for path, data, new in pending:
        write_atomic(path, data)
        summary.written.append(path)
        if new:
            summary.added += 1
        else:
            summary.updated += 1
    if json.dumps(state, sort_keys=True) != old_state:
        write_atomic(content_dir / STATE_FILE, (json.dumps(state, indent=1, sort_keys=True) + "\n").encode())
        summary.written.append(content_dir / STATE_FILE)
    return summary
