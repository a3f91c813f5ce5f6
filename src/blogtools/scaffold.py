"""``blogtools new``: a new site folder for someone's feed (or a planet of several blogs' feeds),
ready for ``blogtools build``.

The site configuration comes from the package's ``templates/mkdocs.yml`` (the same settings as
this project's own mkdocs.yml; a test keeps the two in step); only the site's identity lines
(name, description, address, copyright) are filled in from the feed. The GitHub Actions workflow
comes from ``templates/blogtools.yml``, set to install the blogtools release that wrote it.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path

from blogtools import htmlmd, project
from blogtools.errors import BlogtoolsError
from blogtools.extract import extract
from blogtools.feeds import DEFAULT_TIMEOUT, Source, fetch, parse, plain_text
from blogtools.project import CONFIG_NAME

WORKFLOW = Path(".github/workflows/blogtools.yml")
"""Where ``blogtools new`` writes the site's CI workflow, relative to the site folder."""
IDENTITY_KEYS = ("site_name", "site_description", "site_url", "repo_url", "repo_name", "edit_uri",
                 "copyright")


def mkdocs_template() -> str:
    """The mkdocs.yml every blogtools site starts from."""
    return files("blogtools").joinpath("templates/mkdocs.yml").read_text(encoding="utf-8")


def workflow() -> str:
    """The GitHub Actions workflow every blogtools site starts with: it installs the blogtools
    release that runs this (``BLOGTOOLS_PACKAGE``), tests and builds the site, publishes site/."""
    template = files("blogtools").joinpath("templates/blogtools.yml").read_text(encoding="utf-8")
    return template.replace("@VERSION@", version("blogtools"))


def _blog(feed: str, timeout: float) -> dict[str, str | None]:
    """What a feed says of its blog (title, author, site, rights); refuses what is not a feed."""
    source = Source(feed, feed)
    data, _ = fetch(source, timeout=timeout)
    meta, _ = parse(source, data, lambda message: None)
    return {"title": plain_text(meta.get("title_detail")) or "Essays",
            "author": (meta.get("author_detail") or {}).get("name") or meta.get("author"),
            "site": htmlmd.safe_url(meta.get("link") or ""), "rights": plain_text(meta.get("rights_detail"))}


def _named(titles: list[str]) -> str:
    """The site's name: the blog's title, or its blogs' ("A, B and C"; "A, B and 3 more")."""
    if len(titles) <= 3:
        return " and ".join([", ".join(titles[:-1]), titles[-1]] if len(titles) > 1 else titles)
    return f"{titles[0]}, {titles[1]} and {len(titles) - 2} more"


def new_site(folder: Path, feeds: str | list[str], *, site_url: str, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Create ``folder`` with mkdocs.yml, feeds/feeds.toml listing ``feeds`` (one blog's, or several:
    a planet; each local feed file copied beside it), content/, an empty snippets/manifest.toml and
    the CI workflow; return the site's name. Each feed is read once to check it and to attribute
    its posts. A folder that is not empty is refused whole, and nothing is written for a bad feed."""
    feeds = [feeds] if isinstance(feeds, str) else list(feeds)
    if not re.match(r"https?://[^\s\"'<>]+$", site_url):
        raise BlogtoolsError(f"{site_url}: the site URL must be an http(s) URL")
    if folder.exists() and any(folder.iterdir()):
        raise BlogtoolsError(f"{folder}: already exists and is not empty")
    blogs = [_blog(feed, timeout) for feed in dict.fromkeys(feeds)]
    title = _named([blog["title"] for blog in blogs])
    author = blogs[0]["author"] if len(blogs) == 1 else None  # a planet's posts each name their own

    folder.mkdir(parents=True, exist_ok=True)
    # Material prints these unescaped, so they are HTML-escaped here.
    identity = {
        "site_name": html.escape(title),
        "site_description": html.escape(f"Essays from {title}, with every code example extracted and tested."),
        "site_url": site_url,
        "copyright": html.escape(f"Essays © {author or 'their authors'}, shown under "
                                 "each post with a link to the original."),
    }
    (folder / CONFIG_NAME).write_text(configure(mkdocs_template(), identity), encoding="utf-8")
    made = project.load(folder / CONFIG_NAME)  # the folders are where the template's settings put them
    made.posts_dir.mkdir(parents=True)
    made.feeds_toml.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Feeds that `blogtools ingest` reads (see the blogtools README for the keys).", ""]
    for number, (feed, blog) in enumerate(zip(dict.fromkeys(feeds), blogs, strict=True)):
        location = feed
        if "://" not in feed:  # copied beside feeds.toml, renamed if two files share a name
            location = Path(feed).name
            if (made.feeds_toml.parent / location).exists():
                location = f"{number + 1}-{location}"
            shutil.copyfile(feed, made.feeds_toml.parent / location)
        entries = {"location": location, "author": blog["author"], "site": blog["site"], "rights": blog["rights"]}
        lines += ["[[source]]", *(f"{key} = {json.dumps(value, ensure_ascii=False)}"
                                  for key, value in entries.items() if value), ""]
    made.feeds_toml.write_text("\n".join(lines), encoding="utf-8")
    extract(made.posts_dir, made.snippets_dir)  # the manifest `blogtools test` reads, before any build
    (folder / WORKFLOW).parent.mkdir(parents=True)
    (folder / WORKFLOW).write_text(workflow(), encoding="utf-8")
    return title


def configure(template: str, identity: dict[str, str]) -> str:
    """``template`` with its identity keys set to ``identity`` (those not given are dropped)."""
    lines = template.splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    out = ["# Written by `blogtools new` from blogtools' site template: set site_url to where the\n",
           "# site will be published. `blogtools build` renders content/ into build/docs/, then site/.\n"]
    for line in lines:
        key = line.split(":", 1)[0]
        if key in IDENTITY_KEYS:
            if key in identity:
                out.append(f"{key}: {json.dumps(identity[key], ensure_ascii=False)}\n")
            continue
        out.append(line)
    return "".join(out)


def without_identity(config_text: str) -> str:
    """A mkdocs.yml's text less its identity lines and leading comment (to compare two configs)."""
    lines = config_text.splitlines()
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "\n".join(line for line in lines if not re.match(rf"({'|'.join(IDENTITY_KEYS)}):", line))
