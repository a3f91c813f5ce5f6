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
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Callable, Mapping
from urllib.parse import urlsplit
from xml.sax.saxutils import escape as xml_escape

import yaml

from blogtools import badges, evidence, languages, manifest
from blogtools.annotate import (
    UNCHECKED,
    SourceLinks,
    annotate,
    companions,
    headline,
    label_html,
    link,
    state_of,
)
from blogtools.blocks import block_id, find_blocks
from blogtools.content import (
    FrontMatter,
    other_pages,
    read_page,
    read_text,
    split_front_matter,
)
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
DESCRIPTION_PARTIAL = "partials/blogtools-description.html"  # under overrides: the meta description


def index_page(summary: str) -> str:
    """The home page's text (the blog plugin lists the posts under it, newest first): what the
    evidence shows of the code (``summary``), never a fixed claim."""
    return ("# Latest essays\n\n"
            f"Each post links to its original and credits its author. {html.escape(summary)} "
            f'[Every code block and its evidence](examples.md). The site has an <a href="{FEED_FILE}">Atom feed</a>.\n')


@dataclass
class Post:
    """One post on its way from content/ to build/docs/: front matter and Markdown body."""

    name: str  # content file stem: the slug of the contract, YYYY-MM-DD-<last segment> (a page's name)
    meta: FrontMatter | None  # None for a page that is not a post
    body: str


@dataclass
class SiteInfo:
    """What the transforms and the site-level files need to know about the site."""

    site_url: str
    site_name: str  # plain text (mkdocs.yml holds it as HTML: Material prints it as it is)
    snippets: dict[str, Entry] = field(default_factory=dict)  # snippets/manifest.toml, by id
    evidence: dict[str, Evidence] = field(default_factory=dict)  # each entry's recorded evidence, by id
    snippets_dir: Path = Path("snippets")  # where the entries' modules are read from
    source_links: SourceLinks = field(default_factory=lambda: SourceLinks(Path(".")))
    figures: Path | None = None  # <post>/<name>.md and files, written by snippet scripts (`blogtools run`)
    excerpt_mark: str = EXCERPT_MARK
    blocks: dict[str, list] = field(default_factory=dict)  # each post's code blocks as content has them, by name


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
    parts.append(f"{'first' if authors else 'First'} published on {published}")  # a sentence of its own without authors
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


_EMPTY_LINK = re.compile(r"\[\]\((?:[^()\s]|\([^()\s]*\))+\)")


def drop_empty_links(post: Post, site: SiteInfo) -> Post:
    """Remove links with no text outside code (a feed's heading permalinks, ``[](url#id)``): a
    reader sees nothing to follow, and a screen reader announces a link with no name."""
    lines = post.body.splitlines(keepends=True)
    code = {n for block in find_blocks(post.body) for n in range(block.start - 1, block.end)}
    post.body = "".join(line if n in code else _EMPTY_LINK.sub("", line) for n, line in enumerate(lines))
    return post


def add_block_counts(post: Post, site: SiteInfo) -> Post:
    """Under the title, how many code blocks the post has and what their evidence is, e.g.
    "3 code blocks · 3 verified" (part of the excerpt, so the index shows it too)."""
    blocks = site.blocks[post.name] if post.name in site.blocks else find_blocks(post.body)
    found = [site.evidence.get(block_id(post.name, block.ordinal), evidence.UNRECORDED) for block in blocks]
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

#: What the site's other pages (content/ outside posts/: the author's own, with no feed behind
#: them and no front matter required) go through: their blocks' statuses, no title or attribution.
OTHER_PAGE_TRANSFORMS: list[PageTransform] = [add_block_counts, add_snippet_status, add_companions]

#: The render pipeline, in order: every post goes through each transform.
PAGE_TRANSFORMS: list[PageTransform] = [
    drop_empty_links, add_title, add_block_counts, add_attribution, add_excerpt_mark, add_snippet_status, add_companions,
]


# --- render -----------------------------------------------------------------------------------


def render(project: Project, not_triaged: Mapping[str, str] | None = None) -> int:
    """Write finished Markdown for every post of the project's content into its docs_dir; return the count.

    The content folder's other pages (any ``.md`` outside posts/, at the same path in docs_dir)
    get their blocks' statuses too; a page named like a generated one (index.md, examples.md,
    tags.md) takes its place. docs_dir is regenerated: stale pages from an earlier render are removed. The code blocks'
    statuses come from the snippets manifest (none: every block shows as unchecked) and the
    evidence; ``not_triaged`` says why an uncurated block has no verdict (by id), when it is known.
    """
    docs_dir = project.docs_dir
    site = SiteInfo(site_url=_with_slash(project.site_url), site_name=html.unescape(project.site_name),
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
    site.blocks = blocks = {post.name: find_blocks(post.body) for post in posts}
    for post in posts:
        for transform in PAGE_TRANSFORMS:
            post = transform(post, site)
        _write(docs_dir / POSTS_DIR / f"{post.name}.md", _page_text(post))
    wanted = {docs_dir / POSTS_DIR / f"{p.name}.md" for p in posts}
    listed = [(p.meta.title, f"../{p.meta.date:%Y/%m/%d}/{_url_slug(p)}/", p.name) for p in posts]
    for name, path in other_pages(project.content_dir).items():
        front, body = split_front_matter(read_text(path))
        blocks[name] = find_blocks(body)
        heading = re.search(r"^# (.+)$", body, re.M)
        listed.append((heading.group(1).strip() if heading else name, _page_url(path.relative_to(project.content_dir)), name))
        page = Post(name=name, meta=None, body=body)
        for transform in OTHER_PAGE_TRANSFORMS:
            page = transform(page, site)
        target = docs_dir / path.relative_to(project.content_dir)
        _write(target, f"---\n{front}---\n\n{page.body}" if front is not None else page.body)
        wanted.add(target)
    found = [site.evidence.get(block_id(name, b.ordinal), evidence.UNRECORDED) for _, _, name in listed for b in blocks[name]]
    summary = evidence_summary(found)
    blogs = planet(posts)
    generated = {docs_dir / "index.md": index_page(summary),
                 docs_dir / EXAMPLES_PAGE: examples_page(listed, blocks, site, evidence.load_times(project), blogs)}
    if any(post.meta.tags for post in posts):  # an empty Tags page stays out of the navigation
        generated[docs_dir / "tags.md"] = "# Tags\n\n<!-- material/tags -->\n"
    generated |= {docs_dir / BLOGS_DIR / f"{name}.md": text for name, text in blog_pages(blogs).items()}
    for target, text in generated.items():
        if target not in wanted:  # a page of the site's own takes the generated one's place
            _write(target, text)
            wanted.add(target)
    for stale in [path for path in docs_dir.rglob("*.md") if path not in wanted and not path.is_relative_to(docs_dir / FIGURES_DIR)]:
        stale.unlink()
    for folder in sorted((path for path in docs_dir.rglob("*") if path.is_dir()), key=lambda path: len(path.parts), reverse=True):
        if not any(folder.iterdir()):  # what a stale page leaves (blogs/ of a site that is one blog again)
            folder.rmdir()
    _write(docs_dir / FEED_FILE, atom_feed(posts, site, summary))
    _write_theme(resources.files("blogtools") / "theme", project.overrides_dir)
    description = f"{site.site_name}: {summary}" if site.site_name else summary
    _write(project.overrides_dir / DESCRIPTION_PARTIAL, html.escape(description))
    return len(posts)


def _page_url(page: Path) -> str:
    """A page's address seen from /examples/ (directory URLs): "guides/x.md" is "../guides/x/"."""
    parts = page.with_suffix("").parts
    parts = parts[:-1] if parts[-1] == "index" else parts
    return "../" + "".join(f"{part}/" for part in parts)


def evidence_summary(found: list[Evidence]) -> str:
    """What the evidence shows of a site's code blocks, for the texts that speak of it (home page,
    meta description, feed): "37 of 143 code blocks run; 0 have tests"."""
    ran = sum(item.state in evidence.RAN for item in found)
    tested = sum(item.record is not None for item in found)
    passing = sum(item.state == evidence.VERIFIED for item in found)
    if not found:
        return "No post has a code block yet."
    noun = "code block" if len(found) == 1 else "code blocks"
    verb = "runs" if ran == 1 and len(found) == 1 else "run"
    tests = f"{tested} {'has' if tested == 1 else 'have'} tests" + (f", {passing} of them passing" if tested else "")
    return f"{ran} of {len(found)} {noun} {verb}; {tests}."



def examples_page(listed: list[tuple[str, str, str]], blocks: dict[str, list], site: SiteInfo,
                  times: dict[str, dict], blogs: Mapping[str, tuple[str, list[Post]]] | None = None) -> str:
    """The /examples/ health page: counts by state on top (a bar, a legend, filters by state and
    language that the site's own script turns on), then every block of the site (and runnable
    companion) grouped by post, one row each linking to its block, with its evidence and, only
    where there are some, its tests, the time its last run took and since when.
    ``listed`` are the pages as (title, address from /examples/, name), posts first; ``blocks`` each page's code
    blocks by name, as content has them (before render adds tabs). On a planet (``blogs``, as
    `planet` gives them) the posts are grouped by blog, each blog linked to its index page with
    its examples counted by state; the site's own pages follow."""
    level = 3 if blogs else 2
    posts = {name: _post_section(title, url, name, blocks[name], site, times, level) for title, url, name in listed}
    found = [item for _, its_found, _ in posts.values() for item in its_found]
    languages_seen = {label for _, _, its_languages in posts.values() for label in its_languages}
    if blogs:
        groups = [(blog or "Other posts", _page_url(Path(BLOGS_DIR) / f"{page}.md"), [post.name for post in its_posts])
                  for page, (blog, its_posts) in blogs.items()]
        in_blogs = {name for _, _, names in groups for name in names}
        groups.append(("Pages of this site", None, [name for _, _, name in listed if name not in in_blogs]))
        sections = [_blog_section(heading, url, [posts[name] for name in names]) for heading, url, names in groups]
    else:
        sections = [section for section, _, _ in posts.values()]
    out = ["# Code examples", "", f'<p class="blogtools-block-counts">{html.escape(evidence.counts_phrase(found, "example"))}</p>',
           "", _health(found, sorted(languages_seen)), "",
           "Every code block of the site with the evidence behind it: the recorded result of the last run of its "
           "tests (`blogtools test`), or, for a block nobody has curated, the verdict of running it as published "
           "in the sandbox (`blogtools triage`); not a claim. Each block links to its place in its post.", "",
           *(section for section in sections if section)]
    return "\n".join(out) + "\n"


def _post_section(title: str, url: str, name: str, its_blocks: list, site: SiteInfo, times: dict[str, dict],
                  level: int) -> tuple[str, list[Evidence], set[str]]:
    """One page's part of /examples/ (empty when it has no examples), with the evidence of its
    examples and their languages: a heading of ``level`` linking the page, then a row per example."""
    shown = [(block_id(name, b.ordinal), b.ordinal, b.language) for b in its_blocks]
    shown += [(e.id, e.id.rpartition("/")[2], "python") for e in sorted(site.snippets.values(), key=lambda e: e.id)
              if e.post == name and not e.is_block and e.status == manifest.RUNNABLE]
    rows, found, languages_seen, blocks_by_ordinal = [], [], set(), {b.ordinal: b for b in its_blocks}
    for ident, block_name, language in shown:
        entry = site.snippets.get(ident)
        item = site.evidence.get(ident, evidence.UNRECORDED) if entry else evidence.Evidence(UNCHECKED, "Not checked")
        found.append(item)
        if entry is not None and entry.curated and entry.language:
            language = entry.language  # what the author said, as the post's tab says
        label = languages.label(language) or "Unknown language"
        languages_seen.add(label)
        block = blocks_by_ordinal.get(block_name)
        words = label_html(state_of(entry, item), headline(entry, block, item))
        rows.append(_example_row(url, block_name, label, item, words, times.get(ident, {}).get("seconds")))
    section = (f'<section class="bt-post"><h{level}><a href="{_attr(url)}">{_html_text(title)}</a></h{level}>'
               f'<ul class="bt-rows">{"".join(rows)}</ul></section>') if rows else ""
    return section, found, languages_seen


def _blog_section(heading: str, url: str | None, posts: list[tuple[str, list[Evidence], set[str]]]) -> str:
    """One blog's part of a planet's /examples/ (empty when none of its posts has examples): its
    name (linked to its index page, where it has one), its examples counted by state, its posts'
    sections."""
    found = [item for _, its_found, _ in posts for item in its_found]
    if not found:
        return ""
    title = f'<a href="{_attr(url)}">{_html_text(heading)}</a>' if url else _html_text(heading)
    return (f'<section class="bt-blog"><h2>{title}</h2>'
            f'<p class="bt-blog-counts">{html.escape(evidence.counts_phrase(found, "example"))}</p>'
            + "".join(section for section, _, _ in posts) + "</section>")


def _example_row(url: str, name: str | int, language: str, item: Evidence, words: str, seconds: float | None) -> str:
    """One /examples/ row: the block (linked), its language and evidence, and only the facts it has."""
    record = item.record
    more = [_outcome_counts(record)] if record else []
    more += [f"{seconds:.1f} s"] if record and seconds is not None else []
    more += [f"since {record.since}"] if record else []
    block = f"Block {name:02}" if isinstance(name, int) else name
    tone = badges.badge(item.state).tone
    return (f'<li class="bt-{tone}" data-state="{item.state}" data-language="{_attr(language)}">'
            f'<a class="bt-block" href="{_attr(link(url, name))}">{_html_text(block)}</a>'
            f'<span class="bt-language">{_html_text(language)}</span>{words}'
            + (f'<span class="bt-more">{html.escape(" · ".join(more))}</span>' if more else "") + "</li>")


def _health(found: list[Evidence], languages_seen: list[str]) -> str:
    """The counts by state as a bar (segments sized by count), a legend, and the filters (hidden
    until the site's script shows them: with JavaScript off every row is there to read)."""
    counts = Counter(item.state for item in found)
    states = [state for state in [*badges.BADGES, *sorted(set(counts) - set(badges.BADGES))] if counts[state]]
    words = [f"{counts[state]} {badges.badge(state).counted}" for state in states]
    bar = "".join(f'<span class="bt-{badges.badge(state).tone}" style="flex-grow: {counts[state]}" title="{_attr(word)}"></span>'
                  for state, word in zip(states, words))
    legend = "".join(f'<li><span class="bt-chip bt-{badges.badge(state).tone}"><span aria-hidden="true">'
                     f'{badges.badge(state).icon}</span> {html.escape(word)}</span></li>' for state, word in zip(states, words))
    buttons = "".join(f'<button type="button" class="bt-chip bt-{badges.badge(state).tone}" data-state="{state}" '
                      f'aria-pressed="true"><span aria-hidden="true">{badges.badge(state).icon}</span> {html.escape(word)}</button>'
                      for state, word in zip(states, words))
    options = "".join(f'<option value="{_attr(name)}">{html.escape(name)}</option>' for name in languages_seen)
    return (f'<div class="bt-health"><div class="bt-bar" role="img" aria-label="{_attr(", ".join(words))}">{bar}</div>'
            f'<ul class="bt-legend">{legend}</ul>'
            f'<div class="bt-filters" hidden><span>Show:</span>{buttons}'
            f'<label>Language <select><option value="">all</option>{options}</select></label>'
            f'<span class="bt-shown" aria-live="polite"></span></div></div>')


def blog_of(post: Post) -> str:
    """The blog a post came from, as readers know it: its site's address (host and path), else
    the label of its feed."""
    home = _http_url(post.meta.site)
    return (urlsplit(home).netloc + urlsplit(home).path.rstrip("/")) if home else (post.meta.source or "")


def planet(posts: list[Post]) -> dict[str, tuple[str, list[Post]]]:
    """A planet's blogs, by the name of their index page (blogs/<name>.md), in order of name: each
    as readers know it (`blog_of`) with its posts in the order given. Empty when the posts come
    from one blog (the site is that blog)."""
    by_blog: dict[str, list[Post]] = {}
    for post in posts:
        by_blog.setdefault(blog_of(post), []).append(post)
    if len(by_blog) < 2:
        return {}
    blogs: dict[str, tuple[str, list[Post]]] = {}
    for blog, its_posts in sorted(by_blog.items()):
        name = base = re.sub(r"[^a-z0-9]+", "-", blog.lower()).strip("-") or "blog"
        suffix = 2
        while name in blogs:  # blogs whose addresses slug alike ("a.b", "a.b/_") each keep a page
            name, suffix = f"{base}-{suffix}", suffix + 1
        blogs[name] = (blog, its_posts)
    return blogs


def blog_pages(blogs: Mapping[str, tuple[str, list[Post]]]) -> dict[str, str]:
    """A planet's index page per blog (by file name, as `planet` gives them): its posts, newest
    first, each linked to its page here."""
    pages = {}
    for name, (blog, its_posts) in blogs.items():
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


def atom_feed(posts: list[Post], site: SiteInfo, summary: str = "") -> str:
    """The site's own Atom feed: one entry per post, newest first, linking page and original; its
    subtitle is what the evidence shows of the code (``summary``)."""
    now = max((p.meta.updated or p.meta.date for p in posts),
              default=datetime(1970, 1, 1, tzinfo=timezone.utc))
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"  <id>{xml_escape(site.site_url)}</id>",
        f"  <title>{xml_escape(site.site_name)}</title>",
        *([f"  <subtitle>{xml_escape(summary)}</subtitle>"] if summary else []),
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
    """Run the site's engine (`mkdocs build`, say) over the rendered docs, strict for everything but the feeds' posts, and
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
    with _config_into(project, fresh) as config:
        result = subprocess.run(_engine(project, "build", config, *_site_dir_option(project, fresh)),
                                cwd=project.root, env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
                                capture_output=True, text=True)
    by_post, fatal = _sort_warnings(result.stderr)
    if result.returncode != 0 or fatal:
        shutil.rmtree(fresh)
        detail = "; ".join(fatal[:5]) or (result.stderr.strip() or result.stdout.strip())[-500:]
        raise BlogtoolsError(f"{project.engine} build --strict failed for {project.config_file}: {detail}")
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


def serve(project: Project, dev_addr: str, rebuild: Callable[[set[Path]], None] | None = None,
          interval: float = 0.5) -> int:
    """Run the engine's `serve` (live reload of docs_dir) until it stops; return its exit status.

    While it runs, the project's sources (content/, snippets/ with its manifest, modules and
    results.json, and the feeds folder) are watched: when a file there changes, ``rebuild`` gets
    the changed paths and renders docs_dir again, which mkdocs serve then reloads.
    The server runs in its own process group, so SIGINT, SIGTERM and SIGHUP reach it once, passed
    on by this process; whatever ends this function (a signal, an exception) ends the server too.
    """
    config = project.require_site().config_file.resolve()
    child = subprocess.Popen(_engine(project, "serve", config, "--dev-addr", dev_addr), cwd=project.root,
                             env=dict(os.environ, NO_MKDOCS_2_WARNING="1"), process_group=0)
    previous = {sig: signal.signal(sig, lambda signum, frame: child.send_signal(signum)) for sig in _FORWARDED}
    try:
        seen = sources_snapshot(project)
        while (status := child.poll()) is None:
            time.sleep(interval)
            now = sources_snapshot(project)
            if now != seen and rebuild is not None:
                rebuild({path for path in now.keys() | seen.keys() if now.get(path) != seen.get(path)})
                now = sources_snapshot(project)  # what the rebuild itself wrote (the manifest) is not a change
            seen = now
        return status
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


def sources_snapshot(project: Project) -> dict[Path, tuple[int, int]]:
    """Every file a page is rendered from (content/, snippets/, the feeds folder), with its
    modification time and size: two snapshots differ when a source changed."""
    found = {}
    for folder in {project.content_dir, project.snippets_dir, project.feeds_toml.parent}:
        for path in folder.rglob("*") if folder.is_dir() else ():
            if "__pycache__" in path.parts:
                continue
            try:
                stat = path.stat()
            except OSError:
                continue  # removed while we looked: the next snapshot sees it gone
            if not path.is_dir():
                found[path] = (stat.st_mtime_ns, stat.st_size)
    return found




def _engine(project: Project, command: str, config: Path, *args: str) -> list[str]:
    """The command line of the site's engine (``extra: blogtools: engine:``) for ``command``; an
    error naming what to install when the engine is not installed."""
    if importlib.util.find_spec(project.engine) is None:
        raise BlogtoolsError(f"{project.config_file}: the engine {project.engine} is not installed "
                             f"(pip install {project.engine}), or set extra.blogtools.engine to mkdocs")
    return [sys.executable, "-m", project.engine, command, *args, "--config-file", str(config)]


def _site_dir_option(project: Project, site_dir: Path) -> tuple[str, ...]:
    """The option that builds into ``site_dir``; Zensical has none (its config says where)."""
    return () if project.engine == "zensical" else ("--site-dir", str(site_dir.resolve()))


@contextmanager
def _config_into(project: Project, site_dir: Path):
    """The config file that builds into ``site_dir``: mkdocs.yml itself, or for Zensical (no
    ``--site-dir``) a temporary one beside it that inherits it and sets ``site_dir``."""
    config = project.require_site().config_file.resolve()
    if project.engine != "zensical":
        yield config
        return
    temporary = config.with_name(f".{site_dir.name}.yml")
    temporary.write_text(f"INHERIT: {json.dumps(config.name)}\n"
                         f"site_dir: {json.dumps(os.path.relpath(site_dir.resolve(), config.parent))}\n")
    try:
        yield temporary
    finally:
        temporary.unlink(missing_ok=True)


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
    """Copy the theme overrides shipped in the package (templates, the stylesheet and script) to `target`."""
    for item in source.iterdir():
        if item.is_dir():
            _write_theme(item, target / item.name)
        elif item.name.endswith((".html", ".css", ".js")):
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
