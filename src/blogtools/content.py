"""The content model: a page of ``content/posts/`` is YAML front matter (a ``FrontMatter`` record)
and a Markdown body.

Front matter values are plain text: escaping is render's job (``blogtools.site``), so a title
whose literal text is ``&lt;`` stays ``&lt;``. Strings are written as YAML double-quoted scalars
with ``<`` and ``>`` as ``\\u003c``/``\\u003e`` escapes, so no markup stands in the file itself.

Pages carry ``format: 2``. Format 1 (blogtools before the field existed: no ``format`` key,
string values HTML-escaped) is read by converting it in memory, and rewritten in place once by
``migrate`` (``blogtools migrate``; ``ingest`` and ``build`` do it too).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

from blogtools import records
from blogtools.errors import BlogtoolsError
from blogtools.files import write_atomic
from blogtools.project import POSTS

FORMAT = 2
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Front matter: a first line ``---``, the YAML, and a closing ``---`` (or ``...``) line.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S | re.M)


@dataclass
class FrontMatter:
    """A page's front matter; ``load`` is its one validator."""

    title: str
    date: datetime
    updated: datetime | None = None
    authors: list[str] = field(default_factory=list, metadata=records.ONE_OR_MANY)
    canonical: str | None = None
    site: str | None = None
    rights: str | None = None
    source: str | None = None
    entry_id: str | None = None
    tags: list[str] = field(default_factory=list, metadata=records.ONE_OR_MANY)
    slug: str | None = None
    format: int = FORMAT

    def __post_init__(self):
        if not self.title.strip():
            raise records.RecordError("'title' is empty")

    @classmethod
    def load(cls, meta: dict, where: str) -> FrontMatter:
        """The record for a parsed front matter mapping; one BlogtoolsError naming ``where``."""
        try:
            return records.load(cls, meta)
        except records.RecordError as exc:
            raise BlogtoolsError(f"{where}: front matter {exc}") from None

    def as_mapping(self) -> dict:
        """The keys a page writes, in page order, without empty ones (``format`` first)."""
        values = {"format": self.format}
        values.update((key, value) for key, value in vars(self).items() if key != "format")
        return {key: value for key, value in values.items() if value not in (None, "", [])}


def split_front_matter(text: str) -> tuple[str | None, str]:
    """A page's YAML front matter text and everything after its closing line.

    The YAML is None when the page has no front matter: its first line is not ``---`` or no
    ``---``/``...`` line closes it (the whole text is then the body).
    """
    match = _FRONT_MATTER.match(text)
    return (match.group(1), text[match.end():]) if match else (None, text)


def parse_front_matter(text: str, where: str) -> tuple[dict | None, str]:
    """A page's front matter as a mapping (None when there is none) and what follows it.

    One BlogtoolsError naming ``where`` when the YAML is broken or not a mapping.
    """
    front, rest = split_front_matter(text)
    if front is None:
        return None, rest
    try:
        meta = yaml.load(front, Loader=_YAML_LOADER)
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an impossible date such as 2025-13-45
        raise BlogtoolsError(f"{where}: bad YAML front matter: {' '.join(str(exc).split())}") from None
    if meta is None:
        return {}, rest
    if not isinstance(meta, dict):
        raise BlogtoolsError(f"{where}: the front matter is a {type(meta).__name__}, not a mapping of keys")
    return meta, rest


def read_page(path: Path) -> tuple[FrontMatter | None, str]:
    """A page's front matter in the current format (an older page is upgraded in memory; ``migrate``
    rewrites it), None when it has none, and its body. One BlogtoolsError naming the page when it
    cannot be read or its front matter is invalid."""
    front, rest, _ = _load(path)
    return front, rest.removeprefix("\n")


def _load(path: Path) -> tuple[FrontMatter | None, str, bool]:
    """The page's front matter as the current format, what follows it, and whether the file is in
    an older format."""
    meta, rest = parse_front_matter(read_text(path), str(path))
    if meta is None:
        return None, rest, False
    version = original = meta.get("format", 1)
    while isinstance(version, int) and version in MIGRATIONS:
        meta = MIGRATIONS[version](meta)
        version = meta["format"]
    if version != FORMAT:
        raise BlogtoolsError(f"{path}: page format {original!r}; this blogtools reads formats 1 to {FORMAT}")
    return FrontMatter.load(meta, str(path)), rest, original != FORMAT


def read_text(path: Path) -> str:
    """A page's text, or one clear error naming the file."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BlogtoolsError(f"{path}: cannot read: {exc}") from exc


def page_text(front: FrontMatter, body: str) -> str:
    """A page: the front matter, a blank line and the body."""
    return front_matter_text(front) + "\n" + body


def front_matter_text(front: FrontMatter) -> str:
    """The front matter block, ``---`` lines included: strings as YAML double-quoted scalars,
    dates bare ISO 8601."""
    lines = ["---"]
    for key, value in front.as_mapping().items():
        if isinstance(value, list):
            lines += [f"{key}:", *(f"  - {_yaml_string(item)}" for item in value)]
        else:
            lines.append(f"{key}: {_yaml_scalar(value)}")
    return "\n".join(lines) + "\n---\n"


def _yaml_scalar(value) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if isinstance(value, int) else _yaml_string(value)


_NOT_YAML = re.compile("[\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _yaml_string(value: str) -> str:
    """A JSON string, which is a valid YAML double-quoted scalar, with no ``<`` or ``>`` in it and
    the characters YAML refuses (C1 controls, surrogates, U+FFFE/FFFF) escaped."""
    text = json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    return _NOT_YAML.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def post_pages(posts_dir: Path) -> list[Path]:
    """The post pages in ``posts_dir`` (content/posts), sorted by name (the slug); an error if there is no such folder."""
    posts = Path(posts_dir)
    if not posts.is_dir():
        raise BlogtoolsError(f"{posts}: no such folder (expected content/posts/<slug>.md pages)")
    return sorted(posts.glob("*.md"))


def other_pages(content_dir: Path) -> dict[str, Path]:
    """The site's pages that are not posts, by name: every other ``.md`` under ``content_dir``
    (a guide, an about page: the author's own, never touched by ingest), named by its path with
    ``-`` for ``/`` (content/guides/curate.md is ``guides-curate``), the name its blocks' ids use."""
    content_dir = Path(content_dir)
    posts = content_dir / POSTS
    found = {}
    for path in sorted(content_dir.rglob("*.md")):
        relative = path.relative_to(content_dir)
        if path.is_relative_to(posts) or any(part.startswith(".") for part in relative.parts):
            continue
        name = "-".join(relative.with_suffix("").parts)
        if name in found:
            raise BlogtoolsError(f"{path}: named {name!r} like {found[name]}: rename one of them")
        found[name] = path
    return found


def content_pages(posts_dir: Path) -> dict[str, Path]:
    """Every page whose code blocks blogtools tracks, by the name their ids use: the posts of
    ``posts_dir`` (content/posts) by slug, then the other pages of its content folder; an error
    when a page is named like a post."""
    posts = {path.stem: path for path in post_pages(posts_dir)}
    others = other_pages(Path(posts_dir).parent)
    for name in others.keys() & posts.keys():
        raise BlogtoolsError(f"{others[name]}: named {name!r} like the post {posts[name]}: rename the page")
    return posts | others


# --- migration ----------------------------------------------------------------------------


def _from_format_1(meta: dict) -> dict:
    """Format 1 front matter as format 2: string values (and strings in lists) unescaped once."""
    def plain(value):
        return html.unescape(value) if isinstance(value, str) else value

    out = {key: [plain(v) for v in value] if isinstance(value, list) else plain(value) for key, value in meta.items()}
    return {**out, "format": 2}


MIGRATIONS: dict[int, Callable[[dict], dict]] = {1: _from_format_1}  # format N -> N + 1
_CURRENT = re.compile(rf"^format:[ \t]*{FORMAT}[ \t]*$", re.M)


def outdated_pages(content_dir: Path) -> list[tuple[Path, bytes]]:
    """Each page of an older format under ``content_dir/posts`` and its text in the current one
    (the front matter rewritten, the rest kept byte for byte). One BlogtoolsError naming the first page that cannot be read or converted."""
    posts = Path(content_dir) / POSTS
    pending = []
    for path in sorted(posts.glob("*.md")) if posts.is_dir() else []:
        front_text, _ = split_front_matter(read_text(path))
        if front_text is None or _CURRENT.search(front_text):
            continue  # the cheap test first: most pages are current
        front, rest, outdated = _load(path)
        if outdated:
            pending.append((path, (front_matter_text(front) + rest).encode("utf-8")))
    return pending


def migrate(content_dir: Path) -> list[Path]:
    """Rewrite every page of an older format in the current one, in place and atomically; return
    the pages rewritten. All are converted before the first is written, so a bad page stops the
    migration with nothing changed."""
    pending = outdated_pages(content_dir)
    for path, data in pending:
        write_atomic(path, data)
    return [path for path, _ in pending]
