"""Render stage: content/posts/*.md → finished Markdown in build/docs/ → the site via MkDocs.

`render()` reads each content page, runs it through `PAGE_TRANSFORMS` (a plain list of
functions, applied in order) and writes the result where Material's blog plugin expects posts.
It also writes the blog index, the tags page, the site's own Atom feed (a static file, so
`zensical build` publishes it too) and the theme override that points `<link rel="canonical">`
at the original post. All processing happens here, before MkDocs runs: the Markdown in
build/docs/ needs no hooks or custom plugins.

Front-matter values in content/ are plain text (`blogtools.content`); Material prints them
unescaped, so every value this module writes into a page is escaped here, exactly once.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Callable, Mapping
from urllib.parse import urlsplit
from xml.sax.saxutils import escape as xml_escape

import yaml

from blogtools import evidence, languages, manifest
from blogtools.annotate import SourceLinks, annotate, companions, evidence_html
from blogtools.blocks import block_id, find_blocks
from blogtools.content import FrontMatter, read_page
from blogtools.errors import BlogtoolsError
from blogtools.evidence import Evidence
from blogtools.files import write_if_changed
from blogtools.manifest import Entry
from blogtools.mdwrite import literal_text
from blogtools.project import EXCERPT_MARK, Project

POSTS_DIR = "posts"  # under docs_dir; Material's blog plugin with blog_dir "." reads posts here
FEED_FILE = "feed.xml"
EXAMPLES_PAGE = "examples.md"  # /examples/: every block of the site and its evidence
BLOGS_DIR = "blogs"  # under docs_dir: a planet's index page per blog, blogs/<name>.md
FIGURES_DIR = "figures"  # under docs_dir: copies of what snippet scripts measured, per post
INDEX_PAGE = (  # the blog plugin lists the posts under it, newest first
    "# Latest essays\n\n"
    "Each post links to its original and credits its author; the code in it is extracted and "
    f'tested. The site has an <a href="{FEED_FILE}">Atom feed</a>.\n'
)


@dataclass
class Post:
    """One post on its way from content/ to build/docs/: front matter and Markdown body."""

    name: str  # content file stem: the slug of the contract, YYYY-MM-DD-<last segment>
    meta: FrontMatter
    body: str


@dataclass
class SiteInfo:
    """What the transforms and the site-level files need to know about the site."""

    site_url: str
    site_name: str
    snippets: dict[str, Entry] = field(default_factory=dict)  # snippets/manifest.toml, by id
    evidence: dict[str, Evidence] = field(default_factory=dict)  # each entry's recorded evidence, by id
    snippets_dir: Path = Path("snippets")  # where the entries' modules are read from
    source_links: SourceLinks = field(default_factory=lambda: SourceLinks(Path(".")))
    figures: Path | None = None  # <post>/<name>.md and files, written by snippet scripts (`blogtools run`)
    excerpt_mark: str = EXCERPT_MARK


# --- page transforms: each takes a Post and returns the Post to write -------------------------


def add_title(post: Post, site: SiteInfo) -> Post:
    """Start the body with the title as its h1 (the blog index links it; the toc lists it)."""
    post.body = f"# {literal_text(post.meta.title)}\n\n{post.body.lstrip()}"
    return post


def add_excerpt_mark(post: Post, site: SiteInfo) -> Post:
    """Mark the end of the first paragraph of text as the excerpt shown on the index."""
    lines = post.body.splitlines()
    fence, in_paragraph, cut = None, False, len(lines)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if fence:
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                fence = None
            continue
        if opening := re.match(r"`{3,}|~{3,}", stripped):
            fence = opening.group()
        elif in_paragraph and not stripped:
            cut = i
            break
        elif stripped and not stripped.startswith(("#", "<")):
            in_paragraph = True
    lines[cut:cut] = ["", site.excerpt_mark, ""]
    post.body = "\n".join(lines) + "\n"
    return post


def add_attribution(post: Post, site: SiteInfo) -> Post:
    """Put a visible block after the title heading crediting the author, linking the original.

    Uses the front matter: authors, date, canonical, and `site` and `rights` (ingest copies
    them from the feed or from its feeds.toml entry).
    """
    meta = post.meta
    authors = ", ".join(_html_text(a) for a in meta.authors)
    original = _http_url(meta.canonical)
    published = meta.date.strftime("%-d %B %Y")
    parts = []
    if authors:
        parts.append(f"By <strong>{authors}</strong>,")
    parts.append(f"first published on {published}")
    home = _http_url(meta.site)
    if home:
        parts.append(f'at <a href="{_attr(home)}">{_html_text(urlsplit(home).netloc)}</a>')
    text = " ".join(parts) + "."
    if original:
        text += f' <a class="blogtools-original" href="{_attr(original)}">Read the original</a>.'
    if meta.rights:
        text += f' <span class="blogtools-rights">{_html_text(meta.rights)}</span>'
    block = (
        '<div class="admonition quote blogtools-attribution">\n'
        '<p class="admonition-title">Original post</p>\n'
        f"<p>{text}</p>\n"
        "</div>\n"
    )
    head, sep, rest = post.body.partition("\n\n")
    post.body = f"{head}{sep}{block}\n{rest}"
    return post


def add_block_counts(post: Post, site: SiteInfo) -> Post:
    """Under the title, how many code blocks the post has and what their evidence is, e.g.
    "3 code blocks · 3 verified" (part of the excerpt, so the index shows it too)."""
    found = [site.evidence.get(block_id(post.name, block.ordinal), evidence.UNRECORDED) for block in find_blocks(post.body)]
    if found:
        head, sep, rest = post.body.partition("\n\n")
        line = f'<p class="blogtools-block-counts">{html.escape(evidence.counts_phrase(found))}</p>'
        post.body = f"{head}{sep}{line}\n\n{rest}"
    return post


def add_snippet_status(post: Post, site: SiteInfo) -> Post:
    """Under each code block its status from the manifest: runnable (links, tabs) or illustrative."""
    post.body = annotate(post.body, post.name, site.snippets, site.source_links, site.snippets_dir, site.evidence)
    return post


def add_companions(post: Post, site: SiteInfo) -> Post:
    """At the end of the post, its runnable modules that no block shows, with what they measured."""
    figures = site.figures / post.name if site.figures else None
    extra = companions(post.name, site.snippets, site.source_links, site.snippets_dir, figures, site.evidence)
    if extra:
        post.body = f"{post.body.rstrip()}\n\n{extra}"
    return post


PageTransform = Callable[[Post, SiteInfo], Post]

#: The render pipeline, in order: every post goes through each transform.
PAGE_TRANSFORMS: list[PageTransform] = [
    add_title, add_block_counts, add_attribution, add_excerpt_mark, add_snippet_status, add_companions,
]


# --- render -----------------------------------------------------------------------------------


def render(project: Project, not_triaged: Mapping[str, str] | None = None) -> int:
    """Write finished Markdown for every post of the project's content into its docs_dir; return the count.

    docs_dir is regenerated: stale pages from an earlier render are removed. The code blocks'
    statuses come from the snippets manifest (none: every block shows as unchecked) and the
    evidence; ``not_triaged`` says why an uncurated block has no verdict (by id), when it is known.
    """
    docs_dir = project.docs_dir
    site = SiteInfo(site_url=_with_slash(project.site_url), site_name=project.site_name,
                    source_links=source_links(project), excerpt_mark=project.excerpt_mark)
    if (project.snippets_dir / manifest.NAME).exists():
        site.snippets = manifest.read(project.snippets_dir)
        site.snippets_dir = project.snippets_dir
        site.evidence = evidence.states(project, site.snippets, not_triaged)
    if project.figures_dir.is_dir():
        site.figures = project.figures_dir
    _copy_figures(project.figures_dir, docs_dir / FIGURES_DIR)
    posts = [_read_post(path) for path in sorted(project.posts_dir.glob("*.md"))]
    posts.sort(key=lambda p: (p.meta.date, p.name), reverse=True)
    blocks = {post.name: find_blocks(post.body) for post in posts}
    for post in posts:
        for transform in PAGE_TRANSFORMS:
            post = transform(post, site)
        _write(docs_dir / POSTS_DIR / f"{post.name}.md", _page_text(post))
    wanted = {docs_dir / POSTS_DIR / f"{p.name}.md" for p in posts}
    for stale in (docs_dir / POSTS_DIR).glob("*.md"):
        if stale not in wanted:
            stale.unlink()
    _write(docs_dir / "index.md", INDEX_PAGE)
    shutil.rmtree(docs_dir / BLOGS_DIR, ignore_errors=True)
    for name, text in blog_pages(posts).items():
        _write(docs_dir / BLOGS_DIR / f"{name}.md", text)
    _write(docs_dir / EXAMPLES_PAGE, examples_page(posts, blocks, site, evidence.load_times(project)))
    _write(docs_dir / "tags.md", "# Tags\n\n<!-- material/tags -->\n")
    _write(docs_dir / FEED_FILE, atom_feed(posts, site))
    _write_theme(resources.files("blogtools") / "theme", project.overrides_dir)
    return len(posts)


def examples_page(posts: list[Post], blocks: dict[str, list], site: SiteInfo, times: dict[str, dict]) -> str:
    """The "Code examples" page: every block of the site (and runnable companion) in one table with
    its evidence, since when, its tests and the time its last run here took; counts on top.
    ``blocks`` are each post's code blocks as content has them (before render adds tabs)."""
    rows, found = [], []
    for post in posts:
        title = literal_text(post.meta.title)
        shown = [(block_id(post.name, b.ordinal), f"{b.ordinal:02}", b.language) for b in blocks[post.name]]
        shown += [(e.id, e.id.rpartition("/")[2], "python") for e in sorted(site.snippets.values(), key=lambda e: e.id)
                  if e.post == post.name and not e.is_block and e.status == manifest.RUNNABLE]
        for ident, name, language in shown:
            item = site.evidence.get(ident, evidence.UNRECORDED)
            found.append(item)
            entry = site.snippets.get(ident)
            record = item.record
            tests = _outcome_counts(record) if record else str(len(entry.tests)) if entry and entry.tests else "—"
            seconds = times.get(ident, {}).get("seconds") if record else None
            cells = [f"[{title}]({POSTS_DIR}/{post.name}.md)", name, languages.label(language) or "—",
                     evidence_html(item),
                     record.since if record else "—", tests, f"{seconds:.1f} s" if seconds is not None else "—"]
            rows.append("| " + " | ".join(cell.replace("|", "&#124;") for cell in cells) + " |")
    out = ["# Code examples", "", f'<p class="blogtools-block-counts">{html.escape(evidence.counts_phrase(found, "example"))}</p>', "",
           "Every code block of the site with the evidence behind it: the recorded result of the last run of its "
           "tests (`blogtools test`), or, for a block nobody has curated, the verdict of running it as published "
           "in the sandbox (`blogtools triage`); not a claim.", "",
           "| Post | Block | Language | Evidence | Since | Tests | Time taken |", "|---|---|---|---|---|---|---|", *rows]
    return "\n".join(out) + "\n"


def blog_of(post: Post) -> str:
    """The blog a post came from, as readers know it: its site's address (host and path), else
    the label of its feed."""
    home = _http_url(post.meta.site)
    return (urlsplit(home).netloc + urlsplit(home).path.rstrip("/")) if home else (post.meta.source or "")


def blog_pages(posts: list[Post]) -> dict[str, str]:
    """A planet's index page per blog (by file name): its posts, newest first, each linked to its
    page here. None when the posts come from one blog (the blog index is its index)."""
    by_blog: dict[str, list[Post]] = {}
    for post in posts:
        by_blog.setdefault(blog_of(post), []).append(post)
    if len(by_blog) < 2:
        return {}
    pages = {}
    for blog, its_posts in sorted(by_blog.items()):
        name = re.sub(r"[^a-z0-9]+", "-", blog.lower()).strip("-") or "blog"
        name = name if name not in pages else f"{name}-{len(pages) + 1}"
        lines = [f"# {literal_text(blog) or 'Other posts'}", "",
                 f"{len(its_posts)} post{'s' * (len(its_posts) != 1)} of this blog on the site, newest first.", ""]
        lines += [f"- [{literal_text(post.meta.title)}](../{POSTS_DIR}/{post.name}.md), "
                  f"{post.meta.date.strftime('%-d %B %Y')}" for post in its_posts]
        pages[name] = "\n".join(lines) + "\n"
    return pages


def source_links(project: Project) -> SourceLinks:
    """Where the site's links to modules and tests point: mkdocs.yml's repo_url, on edit_uri's branch."""
    links = SourceLinks.for_repo(project.root, project.repo_url, project.edit_uri)
    return replace(links, snippets=Path(os.path.relpath(project.snippets_dir, project.root)).as_posix())


def _outcome_counts(record: evidence.Record) -> str:
    """A record's tests counted by outcome, e.g. "5 passed · 1 skipped" (passed first)."""
    counts = Counter(result.outcome for result in record.tests.values())
    order = sorted(counts, key=lambda outcome: (outcome != evidence.PASSED, outcome))
    return " · ".join(f"{counts[outcome]} {outcome}" for outcome in order)


def post_url(post: Post, site: SiteInfo) -> str:
    """The post's address on the site (Material blog: post_url_format "{date}/{slug}")."""
    return f"{site.site_url}{post.meta.date:%Y/%m/%d}/{_url_slug(post)}/"


def atom_feed(posts: list[Post], site: SiteInfo) -> str:
    """The site's own Atom feed: one entry per post, newest first, linking page and original."""
    now = max((p.meta.updated or p.meta.date for p in posts),
              default=datetime(1970, 1, 1, tzinfo=timezone.utc))
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"  <id>{xml_escape(site.site_url)}</id>",
        f"  <title>{xml_escape(site.site_name)}</title>",
        f'  <link href="{_xml_attr(site.site_url)}"/>',
        f'  <link rel="self" href="{_xml_attr(site.site_url + FEED_FILE)}"/>',
        f"  <updated>{now.isoformat()}</updated>",
    ]
    for post in posts:
        url = post_url(post, site)
        published = post.meta.date
        updated = post.meta.updated or published
        out += [
            "  <entry>",
            f"    <id>{xml_escape(url)}</id>",
            f'    <title type="html">{xml_escape(_html_text(post.meta.title))}</title>',
            f'    <link href="{_xml_attr(url)}"/>',
        ]
        original = _http_url(post.meta.canonical)
        if original:
            out.append(f'    <link rel="related" href="{_xml_attr(original)}"/>')
        out += [f"    <published>{published.isoformat()}</published>",
                f"    <updated>{updated.isoformat()}</updated>"]
        for author in post.meta.authors:
            out.append(f"    <author><name>{xml_escape(author)}</name></author>")
        for tag in post.meta.tags:
            out.append(f'    <category term="{_xml_attr(tag)}"/>')
        out.append("  </entry>")
    out.append("</feed>")
    return "\n".join(out) + "\n"


# --- mkdocs -----------------------------------------------------------------------------------


def build(project: Project) -> list[str]:
    """Run `mkdocs build` over the rendered docs, strict for everything but the feeds' posts, and
    put the result in site_dir; return one warning line per post whose content MkDocs warned about.

    A feed is someone else's writing: what MkDocs warns about in a post page (a footnote never
    referenced, a missing anchor) is reported, never fatal. Any other warning (the site's own
    pages, templates, configuration) fails the build as `--strict` would. MkDocs builds into a
    fresh folder beside site_dir, which replaces site_dir only when the build passes: a failed
    build is a BlogtoolsError and leaves site_dir as it was.
    """
    site_dir = project.site_dir
    site_dir.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(dir=site_dir.parent, prefix=f".{site_dir.name}."))
    result = subprocess.run(_mkdocs(project, "build", "--site-dir", str(fresh.resolve())),
                            cwd=project.root, env=dict(os.environ, NO_MKDOCS_2_WARNING="1"), capture_output=True, text=True)
    by_post, fatal = _sort_warnings(result.stderr)
    if result.returncode != 0 or fatal:
        shutil.rmtree(fresh)
        detail = "; ".join(fatal[:5]) or result.stderr.strip()[-500:]
        raise BlogtoolsError(f"mkdocs build --strict failed for {project.config_file}: {detail}")
    fresh.chmod(0o755)
    if site_dir.exists():
        old = Path(tempfile.mkdtemp(dir=site_dir.parent, prefix=f".{site_dir.name}."))
        os.replace(site_dir, old / "site")
        os.replace(fresh, site_dir)
        shutil.rmtree(old)
    else:
        os.replace(fresh, site_dir)
    return [f"{post}: {len(found)} MkDocs warning{'s' if len(found) > 1 else ''} in the feed's content, "
            f"shown as published (first: {found[0]})" for post, found in by_post.items()]


_POST_WARNING = re.compile(rf"^WARNING\s+-\s+Doc file '{POSTS_DIR}/([^'/]+)\.md' (.*)$")


def _sort_warnings(stderr: str) -> tuple[dict[str, list[str]], list[str]]:
    """MkDocs' warnings and errors: those about a post page by post name, and all the others."""
    by_post: dict[str, list[str]] = {}
    fatal = []
    for line in stderr.splitlines():
        if match := _POST_WARNING.match(line):
            by_post.setdefault(match.group(1), []).append(match.group(2))
        elif line.startswith(("WARNING", "ERROR")):
            fatal.append(line)
    return by_post, fatal


_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def serve(project: Project, dev_addr: str) -> int:
    """Run `mkdocs serve` (live reload of docs_dir) until it stops; return its exit status.

    The server runs in its own process group, so SIGINT, SIGTERM and SIGHUP reach it once, passed
    on by this process; whatever ends this function (a signal, an exception) ends the server too.
    """
    child = subprocess.Popen(_mkdocs(project, "serve", "--dev-addr", dev_addr), cwd=project.root,
                             env=dict(os.environ, NO_MKDOCS_2_WARNING="1"), process_group=0)
    previous = {sig: signal.signal(sig, lambda signum, frame: child.send_signal(signum)) for sig in _FORWARDED}
    try:
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _mkdocs(project: Project, *args: str) -> list[str]:
    config = project.require_site().config_file.resolve()
    return [sys.executable, "-m", "mkdocs", *args, "--config-file", str(config)]


# --- helpers ----------------------------------------------------------------------------------


def _read_post(path: Path) -> Post:
    meta, body = read_page(path)
    if meta is None:
        raise BlogtoolsError(f"{path}: no front matter (a post needs a title and a date)")
    return Post(name=path.stem, meta=meta, body=body)


def _page_text(post: Post) -> str:
    """Front matter for Material's blog plugin, then the transformed body."""
    meta = post.meta
    created = meta.date
    updated = meta.updated or created
    out = {
        "title": _html_text(meta.title),
        "date": {"created": created, **({"updated": updated} if updated != created else {})},
        "slug": _url_slug(post),
    }
    if meta.tags:
        out["tags"] = [_html_text(t) for t in meta.tags]
    canonical = _http_url(meta.canonical)
    if canonical:
        out["canonical"] = canonical
    front = yaml.safe_dump(out, allow_unicode=True, sort_keys=False)
    return f"---\n{front}---\n\n{post.body}"


def _write_theme(source, target: Path) -> None:
    """Copy the theme overrides shipped in the package (templates only) to `target`."""
    for item in source.iterdir():
        if item.is_dir():
            _write_theme(item, target / item.name)
        elif item.name.endswith(".html"):
            _write(target / item.name, item.read_text("utf-8"))


def _copy_figures(source: Path, target: Path) -> None:
    """Mirror what snippet scripts wrote under build/figures/<post>/ (their .md goes into the page)."""
    wanted = {item.relative_to(source) for item in source.rglob("*") if item.is_file() and item.suffix != ".md"}
    for name in wanted:
        write_if_changed(target / name, (source / name).read_bytes())
    for stale in [item for item in target.rglob("*") if item.is_file() and item.relative_to(target) not in wanted]:
        stale.unlink()


def _url_slug(post: Post) -> str:
    raw = post.meta.slug or post.name[11:] or post.name
    return re.sub(r"[^a-z0-9._-]+", "-", raw.lower()).strip("-") or post.name


def _html_text(value) -> str:
    """A plain-text value as HTML text."""
    return html.escape(str(value), quote=True)


def _http_url(value) -> str | None:
    """`value` as a URL if it is an absolute http(s) URL, else None (nothing else is linked)."""
    if not value:
        return None
    url = str(value).strip()
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def _attr(url: str) -> str:
    return html.escape(url, quote=True)


def _xml_attr(value: str) -> str:
    return xml_escape(value, {'"': "&quot;"})


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _write(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, leaving an unchanged file untouched."""
    write_if_changed(path, text.encode("utf-8"))
