"""The built site: every post from the feed as a page, attributed, linked, and nothing executable.

The sites are built the way a user builds them, with the `blogtools` command in a copy of this
repository's site files (mkdocs.yml, feeds/) in a temp dir.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import feedparser
import pytest
import yaml

from blogtools import manifest, sitecheck, triage
from blogtools.sandbox import unavailable_reason as sandbox_unavailable
from browser import CHROMIUM_ARGS, serving
from site_html import badges_of, heading_text, parse, parse_fragment

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
FEED = REPO / "feeds" / "lucumr-2025-12-13.atom"
CONFIG = yaml.safe_load((REPO / "mkdocs.yml").read_text())
SITE_PATH = sitecheck.site_path(CONFIG["site_url"])


def blogtools(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "blogtools", *args], cwd=cwd,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"blogtools {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def new_site(root: Path, with_feeds: bool = True) -> Path:
    """A site directory like this repository's: mkdocs.yml, feeds/, an empty content/."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    if with_feeds:
        shutil.copytree(REPO / "feeds", root / "feeds")
    (root / "content" / "posts").mkdir(parents=True)
    return root


def page_path(site: Path, entry) -> Path:
    """Where the contract puts an entry's page: YYYY/MM/DD/<last segment of its link>/."""
    day = entry.published_parsed
    segment = entry.link.rstrip("/").rsplit("/", 1)[-1]
    return site / f"{day.tm_year:04}/{day.tm_mon:02}/{day.tm_mday:02}/{segment}/index.html"


def pre_texts(root) -> list[str]:
    """The text of every <pre> under a parsed node, as a reader would copy it, but what the badges'
    disclosures hold (the outputs of triage's runs)."""
    outputs = {id(pre) for fold in root.find_all("details", cls="bt-badge") for pre in fold.find_all("pre")}
    return [pre.text().rstrip("\n") for pre in root.find_all("pre") if id(pre) not in outputs]


@pytest.fixture(scope="module")
def feed():
    return feedparser.parse(FEED.read_bytes())


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The repository's site, built with `blogtools build` (ingest → render → mkdocs --strict)."""
    root = new_site(tmp_path_factory.mktemp("lucumr") / "site-root")
    result = blogtools("build", cwd=root)
    return root, result


@pytest.fixture(scope="module")
def site(built):
    return built[0] / "site"


@pytest.fixture(scope="session")
def theme_scripts(tmp_path_factory):
    """The inline scripts Material itself writes: a build of a site with no posts at all (once a
    worker: the tests that read it need not share one, so the built sites' groups stay apart)."""
    root = new_site(tmp_path_factory.mktemp("empty") / "site-root", with_feeds=False)
    blogtools("build", "--offline", cwd=root)
    scripts = sitecheck.inline_scripts(root / "site")
    assert scripts, "Material writes inline scripts; finding none means the parser is broken"
    return scripts


def test_build_prints_a_summary_line(built):
    _, result = built
    assert re.search(r"^built 10 posts into .*site in [\d.]+ s$", result.stdout, re.M)


def test_every_entry_has_a_page_with_its_exact_title_and_date(site, feed):
    assert len(feed.entries) == 10
    for entry in feed.entries:
        page = parse(page_path(site, entry))
        h1 = page.find("h1")
        assert heading_text(h1) == entry.title
        assert page.find("title").text() == f"{entry.title} - {CONFIG['site_name']}"
        day = entry.published_parsed
        assert page.find("time").attrs["datetime"].startswith(f"{day.tm_year:04}-{day.tm_mon:02}-{day.tm_mday:02}")


def test_each_post_credits_the_author_and_links_the_original(site, feed):
    for entry in feed.entries:
        page = parse(page_path(site, entry))
        block = page.find("div", cls="blogtools-attribution")
        assert block is not None, entry.link
        text = " ".join(block.text().split())
        assert "By Armin Ronacher" in text
        assert "lucumr.pocoo.org" in text
        published = entry.published_parsed
        assert f"first published on {published.tm_mday} " in text
        assert block.find("a", cls="blogtools-original").attrs["href"] == entry.link
        canonical = page.find_all("link", rel="canonical")
        assert [c.attrs["href"] for c in canonical] == [entry.link]


def test_code_blocks_on_the_pages_equal_the_feed(site, feed):
    total = 0
    for entry in feed.entries:
        expected = pre_texts(parse_fragment(entry.content[0].value))
        got = pre_texts(parse(page_path(site, entry)))
        assert got == expected, entry.link
        total += len(got)
    assert total == 10


def test_index_lists_the_posts_newest_first_with_archive_and_tags(site, feed):
    index = parse(site / "index.html")
    links = [a.attrs["href"] for h2 in index.find_all("h2") for a in h2.find_all("a", cls="toclink")]
    newest_first = sorted(feed.entries, key=lambda e: e.published_parsed, reverse=True)
    assert links == [str(page_path(Path("."), e).parent) + "/" for e in newest_first]
    assert (site / "archive" / "2025" / "index.html").is_file()
    tagged = any(e.get("tags") for e in feed.entries)  # an empty Tags page is left out, and its link
    assert (site / "tags" / "index.html").is_file() == tagged
    assert ("Tags" in [a.text().strip() for a in index.find_all("a", cls="md-nav__link")]) == tagged
    assert len(index.find_all("input", name="__palette")) == 2  # light and dark
    search = json.loads((site / "search" / "search_index.json").read_text())
    searchable = {html.unescape(doc["title"]) for doc in search["docs"]}
    assert {e.title for e in feed.entries} <= searchable


def test_site_feed_lists_every_post_with_links_to_its_pages(site, feed):
    ours = feedparser.parse((site / "feed.xml").read_bytes())
    assert not ours.bozo, ours.get("bozo_exception")
    assert [e.title for e in ours.entries] == [
        e.title for e in sorted(feed.entries, key=lambda e: e.published_parsed, reverse=True)
    ]
    for entry in ours.entries:
        local = entry.link.removeprefix(CONFIG["site_url"])
        assert local != entry.link and (site / local / "index.html").is_file(), entry.link
    head = parse(site / "index.html").find("link", type="application/atom+xml")
    assert head is not None and (site / head.attrs["href"]).is_file()


def test_no_link_in_the_site_points_at_a_missing_page_or_anchor(site):
    assert sitecheck.broken_links(site, SITE_PATH) == []


def test_link_checker_reports_a_missing_page_and_anchor(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text('<p id="here"><a href="#here">ok</a></p>')
    (tmp_path / "index.html").write_text(
        '<a href="a/">ok</a><a href="a/#here">ok</a><a href="b/">gone</a><a href="a/#gone">gone</a>'
        '<a href="https://example.org/nowhere">external</a><img src="missing.png">'
    )
    problems = sitecheck.broken_links(tmp_path)
    assert len(problems) == 3, problems
    assert any("'b/'" in p for p in problems)
    assert any("'gone'" in p for p in problems)
    assert any("missing.png" in p for p in problems)


def test_the_real_site_has_no_executable_markup_beyond_the_theme(site, theme_scripts):
    assert sitecheck.executable_markup(site, theme_scripts, SITE_PATH) == []


# --- hostile input ------------------------------------------------------------------------------

HOSTILE = DATA / "hostile.atom"  # shared with the ingest tests


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    """A site built from a feed full of scripts, handlers and javascript:/data: URLs."""
    root = new_site(tmp_path_factory.mktemp("hostile") / "site-root", with_feeds=False)
    blogtools("ingest", str(HOSTILE), "--content-dir", str(root / "content"), cwd=root)
    blogtools("build", "--offline", cwd=root)
    return root / "site"


def test_hostile_feed_builds_every_entry_and_nothing_executable(hostile_site, theme_scripts):
    posts = sorted(hostile_site.glob("20*/*/*/*/index.html"))
    assert len(posts) == 3, posts
    assert len(feedparser.parse(HOSTILE.read_bytes()).entries) == 3
    assert sitecheck.executable_markup(hostile_site, theme_scripts, SITE_PATH) == []
    assert sitecheck.broken_links(hostile_site, SITE_PATH) == []


HOSTILE_OUTPUT = DATA / "hostile-output.atom"  # harmless code that prints what attacks a page
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.slow
@pytest.mark.skipif(sandbox_unavailable() is not None, reason=f"the sandbox cannot run here: {sandbox_unavailable()}")
def test_hostile_output_builds_into_a_site_with_nothing_executable(tmp_path, theme_scripts):
    """Triage runs the feed's blocks and shows what they print: <script>, fence breakers,
    attribute lists, </details>, -->, terminal escapes. All of it stays the text of one code
    block under its own; nothing of it executes, and no control character reaches a page."""
    root = new_site(tmp_path / "site-root", with_feeds=False)
    blogtools("ingest", str(HOSTILE_OUTPUT), cwd=root)
    built = blogtools("build", "--offline", cwd=root)
    again = blogtools("triage", "--all", cwd=root)
    site = root / "site"
    assert sitecheck.executable_markup(site, theme_scripts, SITE_PATH) == []
    assert sitecheck.broken_links(site, SITE_PATH) == []
    written = [*site.rglob("*.html"), root / "snippets/results.json"]
    assert [path for path in written if CONTROL.search(path.read_text(encoding="utf-8"))] == []
    for output in (built.stdout + built.stderr, again.stdout + again.stderr):
        assert not CONTROL.search(output.replace("\n", "")), output
    markup = parse(site / "2025/12/01/markup/index.html")
    folds = markup.find_all("details", cls="bt-badge")
    assert len(markup.find_all("pre")) == 4 and len(folds) == 2  # two blocks, each with its output, nothing split
    printed = [fold.find("pre").text().rstrip("\n") for fold in folds]
    assert printed[0].splitlines() == [
        "<script>alert('output')</script>", "<img src=x onerror=alert('img')>",
        "</details></div><script>alert('closed')</script>", "<!-- --> --> <iframe src=javascript:alert('frame')></iframe>"]
    assert printed[1].splitlines()[:4] == ["```", "<script>alert('after a fence')</script>", "`" * 12, "~~~~"]
    assert '{: onclick="alert(1)" }' in printed[1] and '--8<-- "manifest.toml"' in printed[1]
    escapes_html = (site / "2025/12/02/escapes/index.html").read_text()
    escapes = parse_fragment(escapes_html)
    shown = [fold.find("pre").text() for fold in escapes.find_all("details", cls="bt-badge")]
    assert shown[0].splitlines() == ["red  cleared", " a link", "nul bell backspace delete c1", "evil reversed  overwritten"]
    assert shown[1].rstrip("\n").endswith("… truncated") and len(shown[1]) < 4_200
    statuses = [words for _, words in badges_of(escapes_html)]
    assert all(status.startswith("▶ Runs: prints") for status in statuses[:2]), statuses
    assert statuses[2].startswith("⋯ Needs the file"), statuses


INCLUDE_FEED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <id>https://example.org/</id><title>Includes</title><updated>2025-01-02T00:00:00Z</updated>
  <entry><id>https://example.org/a/</id><title>A</title><link href="https://example.org/a/"/>
    <published>2025-01-01T00:00:00Z</published><updated>2025-01-01T00:00:00Z</updated>
    <content type="html"><![CDATA[<pre>```
&lt;img src=x onerror=alert(document.domain)&gt;
```</pre>]]></content></entry>
  <entry><id>https://example.org/b/</id><title>B</title><link href="https://example.org/b/"/>
    <published>2025-01-02T00:00:00Z</published><updated>2025-01-02T00:00:00Z</updated>
    <content type="html"><![CDATA[<pre>--8&lt;-- "manifest.toml"
--8&lt;-- "2025-01-01-a/01-img-src-x-onerror-alert-document-domain.txt"
--8&lt;-- "missing.txt"</pre>]]></content></entry>
</feed>
"""


def test_include_lines_in_a_feeds_code_stay_text(tmp_path, theme_scripts):
    """A feed's code block that looks like a Markdown include (``--8<--``) is shown as it is: no
    file (another post's extracted block, the manifest) is pulled into the page, and a missing one
    does not break the build."""
    root = new_site(tmp_path / "site-root", with_feeds=False)
    (tmp_path / "includes.atom").write_text(INCLUDE_FEED)
    blogtools("ingest", str(tmp_path / "includes.atom"), cwd=root)
    blogtools("build", "--offline", cwd=root)
    assert sitecheck.executable_markup(root / "site", theme_scripts, SITE_PATH) == []
    feed_pres = [entry.content[0].value for entry in feedparser.parse(INCLUDE_FEED).entries]
    for day, segment, raw in (("01", "a", feed_pres[0]), ("02", "b", feed_pres[1])):
        page = parse(root / f"site/2025/01/{day}/{segment}/index.html")
        expected = html.unescape(re.sub(r"</?pre>", "", raw))
        assert pre_texts(page) == [expected]


def test_hostile_plain_text_fields_show_as_text(hostile_site):
    page = parse(hostile_site / "2025" / "12" / "01" / "scripts" / "index.html")
    title = '<script>alert("title")</script> Scripts & "quotes" <b>bold</b>'
    assert heading_text(page.find("h1")) == title
    assert page.find("title").text() == f"{title} - {CONFIG['site_name']}"
    credit = page.find("div", cls="blogtools-attribution")
    assert 'By <img src=x onerror=alert("author")> Mallory,' in " ".join(credit.text().split())
    tags = [t.text() for t in page.find_all("a", cls="md-tag")]
    assert tags == ["<script>alert('tag')</script>", 'xss" onmouseover="alert(1)']


def test_hostile_entry_links_are_not_linked(hostile_site):
    for day in ("02", "03"):  # entry links javascript: and data:
        page = parse(next((hostile_site / "2025" / "12" / day).glob("*/index.html")))
        assert page.find("div", cls="blogtools-attribution").find("a", cls="blogtools-original") is None
        [canonical] = page.find_all("link", rel="canonical")
        assert canonical.attrs["href"].startswith(CONFIG["site_url"])


def test_render_escapes_unescaped_front_matter_once_and_drops_active_urls(tmp_path, theme_scripts):
    """Defence in depth: a content page that is not escaped as the contract says still builds safe."""
    root = new_site(tmp_path / "site-root", with_feeds=False)
    (root / "content" / "posts" / "2025-01-02-raw.md").write_text(
        "---\n"
        "title: '<script>alert(1)</script> & <b>bold</b> [x](y) *z*'\n"
        "date: '2025-01-02T00:00:00+00:00'\n"
        "authors: ['<img src=x onerror=alert(2)>']\n"
        "canonical: 'javascript:alert(3)'\n"
        "tags: ['<svg onload=alert(4)>', 'a &amp; b']\n"
        "slug: raw\n"
        "---\n\nBody text.\n"
    )
    blogtools("build", "--offline", cwd=root)
    page = parse(root / "site" / "2025" / "01" / "02" / "raw" / "index.html")
    title = "<script>alert(1)</script> & <b>bold</b> [x](y) *z*"
    assert heading_text(page.find("h1")) == title
    assert page.find("title").text() == f"{title} - {CONFIG['site_name']}"
    assert "By <img src=x onerror=alert(2)>" in page.find("div", cls="blogtools-attribution").text()
    assert [t.text() for t in page.find_all("a", cls="md-tag")] == ["<svg onload=alert(4)>", "a & b"]
    assert sitecheck.executable_markup(root / "site", theme_scripts, SITE_PATH) == []


def test_a_single_author_or_tag_given_as_a_string_is_one_name(tmp_path):
    root = new_site(tmp_path / "site-root", with_feeds=False)
    (root / "content" / "posts" / "2025-01-03-one.md").write_text(
        "---\ntitle: One\ndate: '2025-01-03T00:00:00+00:00'\nauthors: Alice Example\ntags: essays\n"
        "slug: one\n---\n\nBody text.\n"
    )
    blogtools("build", "--offline", cwd=root)
    page = parse(root / "site" / "2025" / "01" / "03" / "one" / "index.html")
    assert "By Alice Example," in page.find("div", cls="blogtools-attribution").text()
    assert [t.text() for t in page.find_all("a", cls="md-tag")] == ["essays"]


# --- Zensical -----------------------------------------------------------------------------------

ZENSICAL = shutil.which("zensical", path=str(Path(sys.executable).parent)) or shutil.which("zensical")


@pytest.mark.skipif(ZENSICAL is None, reason="zensical is not installed (pip install '.[test]')")
def test_zensical_renders_the_same_posts(built, feed, tmp_path):
    root = tmp_path / "zensical-root"
    shutil.copytree(built[0], root, ignore=shutil.ignore_patterns("site"))
    result = subprocess.run([ZENSICAL, "build", "--config-file", "mkdocs.yml"], cwd=root,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    for entry in feed.entries:
        page = parse(page_path(root / "site", entry))
        assert heading_text(page.find("h1")) == entry.title
        assert pre_texts(page) == pre_texts(parse_fragment(entry.content[0].value))
        assert page.find("div", cls="blogtools-attribution") is not None
        assert [c.attrs["href"] for c in page.find_all("link", rel="canonical")] == [entry.link]
    assert (root / "site" / "feed.xml").read_bytes() == (built[0] / "site" / "feed.xml").read_bytes()


# --- the browser --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(site):
    """site/ over a local HTTP server on 127.0.0.1; yields its base URL."""
    with serving(site) as url:
        yield url


@pytest.mark.browser
def test_chromium_shows_index_and_post_without_console_errors(served, feed, tmp_path):
    from playwright.sync_api import sync_playwright

    absurd = next(e for e in feed.entries if "absurd-workflows" in e.link)
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(served, wait_until="networkidle")
        assert page.title() == CONFIG["site_name"]
        titles = page.locator("article.md-post h2 a.toclink").all_inner_texts()
        assert titles[0] == max(feed.entries, key=lambda e: e.published_parsed).title
        assert len(titles) == 10
        page.get_by_role("link", name=absurd.title).first.click()
        page.wait_for_load_state("networkidle")
        assert page.url == served + str(page_path(Path("."), absurd).parent) + "/"
        assert page.locator("h1").first.inner_text().removesuffix("¶").strip() == absurd.title
        assert page.locator(".md-content pre").count() == 6
        assert page.locator(".md-content pre button.md-code__button, .md-content .md-clipboard").count() >= 6
        credit = page.locator(".blogtools-attribution")
        assert credit.is_visible() and "Armin Ronacher" in credit.inner_text()
        assert credit.locator("a.blogtools-original").get_attribute("href") == absurd.link
        page.screenshot(path=str(tmp_path / "post.png"))
        browser.close()
    assert errors == []


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (read from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _gone(pid: int) -> bool:
    """Whether a process has ended (a zombie waiting for init to reap it counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def test_serve_serves_the_site_and_sigterm_leaves_no_server_behind(built, tmp_path):
    """`blogtools serve` runs `mkdocs serve` as its child: SIGTERM to blogtools stops both and frees the port."""
    root = tmp_path / "serve-root"
    shutil.copytree(built[0], root, ignore=shutil.ignore_patterns("site", "build"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "blogtools", "serve", "-a", f"127.0.0.1:{port}"], cwd=root,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    children: list[int] = []
    try:
        body = None
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{SITE_PATH}", timeout=2) as r:
                    body = r.read().decode()
                break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.5)
        assert body is not None, server.stdout.read() if server.poll() is not None else "no answer"
        assert "Latest essays" in body and "blogtools-attribution" in body
        children = _children(server.pid)
        assert children, "mkdocs serve runs as a child of blogtools serve"

        # an edited manifest.toml reason shows on the served page without a restart
        doc = manifest.load(root / "snippets/manifest.toml")
        ident = next(key for key in doc if manifest.is_block_id(key))
        doc[ident]["reason"] = "edited while serving: needs <your> token"
        manifest.save(doc, root / "snippets/manifest.toml")
        post = doc[ident]["post"]
        slug = yaml.safe_load((root / f"content/posts/{post}.md").read_text().split("---\n", 2)[1])["slug"]
        url = f"http://127.0.0.1:{port}{SITE_PATH}{post[:4]}/{post[5:7]}/{post[8:10]}/{slug}/"
        deadline, shown = time.monotonic() + 180, ""
        while "edited while serving" not in shown and time.monotonic() < deadline:
            time.sleep(1)
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    shown = r.read().decode()
            except OSError:
                pass
        assert "¶ Illustrative: edited while serving: needs &lt;your&gt; token" in shown

        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        deadline = time.monotonic() + 10
        while not all(_gone(child) for child in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(_gone(child) for child in children), f"mkdocs serve outlived blogtools serve: {children}"
        with socket.socket() as again:  # nothing listens on the port any more
            again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            again.bind(("127.0.0.1", port))
    finally:
        for pid in [server.pid, *children]:  # so that a failure here leaves no server running either
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        server.wait(timeout=10)


@pytest.mark.parametrize(
    "page, reason",
    [
        ("---\ndate: '2025-01-02T00:00:00+00:00'\n---\n\nNo title.\n", "front matter 'title' is missing"),
        ("---\ntitle: [unclosed\n---\n\nBody.\n", "bad YAML front matter"),
    ],
)
def test_bad_content_fails_the_build_with_one_error_line(tmp_path, page, reason):
    """A bad page stops the build with one clear line; the site built before stays as it was."""
    root = new_site(tmp_path / "site-root", with_feeds=False)
    blogtools("build", "--offline", cwd=root)
    before = {p: p.read_bytes() for p in (root / "site").rglob("*") if p.is_file()}
    (root / "content" / "posts" / "2025-01-02-bad.md").write_text(page)
    result = subprocess.run([sys.executable, "-m", "blogtools", "build", "--offline"], cwd=root,
                            capture_output=True, text=True)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("blogtools: error:")]
    assert len(errors) == 1 and reason in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    after = {p: p.read_bytes() for p in (root / "site").rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in root.iterdir() if p.name.startswith(".site.")] == []  # no half builds


# ------------------------------------------------------------------------------ no feed fails a build

FEED_WARNINGS = ("---\ntitle: Loose ends\ndate: '2025-01-02T00:00:00+00:00'\n---\n\n"
                 "[gone](nope.md) and a [missing anchor](#nowhere).\n\n[^orphan]: A footnote never referenced.\n")


def test_what_mkdocs_warns_about_in_a_post_is_one_warning_line_and_the_site_builds(tmp_path):
    root = new_site(tmp_path / "site-root", with_feeds=False)
    (root / "content" / "posts" / "2025-01-02-loose-ends.md").write_text(FEED_WARNINGS)
    result = blogtools("build", "--offline", cwd=root)
    warnings = [line for line in result.stderr.splitlines() if line.startswith("blogtools: warning:")]
    assert len(warnings) == 1, result.stderr  # one line for the post, however many warnings
    assert warnings[0].startswith("blogtools: warning: 2025-01-02-loose-ends: 3 MkDocs warnings in the feed's content")
    assert "(1 with warnings from their feed)" in result.stdout
    page = (root / "site" / "2025" / "01" / "02" / "loose-ends" / "index.html").read_text()
    assert "Loose ends" in page and "A footnote never referenced" in page


def test_the_sites_own_warnings_still_fail_the_build(tmp_path):
    """Strict for everything that does not come from a feed: the site's configuration and pages."""
    root = new_site(tmp_path / "site-root", with_feeds=False)
    (root / "content" / "posts" / "2025-01-02-loose-ends.md").write_text(FEED_WARNINGS)
    blogtools("build", "--offline", cwd=root)
    before = {p: p.read_bytes() for p in (root / "site").rglob("*") if p.is_file()}
    with (root / "mkdocs.yml").open("a") as config:
        config.write("\nnav:\n  - Home: index.md\n  - Gone: gone.md\n")  # the site's configuration
    result = subprocess.run([sys.executable, "-m", "blogtools", "build", "--offline"], cwd=root,
                            capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("blogtools: error:")]
    assert len(errors) == 1 and "mkdocs build --strict failed" in errors[0] and "gone.md" in errors[0], result.stderr
    assert {p: p.read_bytes() for p in (root / "site").rglob("*") if p.is_file()} == before


# ------------------------------------------------------------------------------ a new site is green

CORPUS = sorted((DATA / "corpus").glob("*.xml"))  # real feeds of other blogs and engines, ORIGIN.tsv beside them


@pytest.mark.slow
@pytest.mark.parametrize("feed", CORPUS, ids=[path.stem for path in CORPUS])
def test_a_new_site_for_a_real_feed_builds_triaged_and_checks_green(tmp_path, feed):
    """`blogtools new` and `build` (which triages every block, in the sandbox) on a real feed: each
    block has a verdict in snippets --json and on its page, and check counts them all as accounted for."""
    root = tmp_path / "site"
    assert blogtools("new", str(root), "--feed", str(feed), cwd=tmp_path).returncode == 0
    built = blogtools("build", cwd=root)
    assert built.stdout.startswith("built "), built.stdout
    assert (root / "site" / "index.html").is_file()
    checked = blogtools("check", cwd=root)
    summary = checked.stdout.splitlines()[-1]
    blocks = int(summary.split()[1])
    listed = json.loads(blogtools("snippets", "--json", cwd=root).stdout)
    assert blocks > 0 and len(listed) == blocks
    if sandbox_unavailable() is not None:  # the other half of the contract: said, not hidden
        assert summary.endswith(f"0 triaged, {blocks} not yet triaged, 0 problems"), checked.stdout
        assert "not triaged: sandbox not available" in checked.stderr
        return
    assert re.search(rf": 0 curated \(0 runnable, 0 illustrative\), {blocks} triaged \([^)]*\), 0 problems$", summary), summary
    assert all(item["status"] == "" and item["triage"]["verdict"] in triage.VERDICTS for item in listed)
    pages = list((root / "site").glob("[0-9]*/*/*/*/index.html"))
    shown = sum(state.startswith("triaged-") for page in pages for state, _ in badges_of(page.read_text()))
    assert shown == blocks  # every block, on its post's page


def test_a_new_sites_texts_escape_its_name_once_and_claim_only_what_the_evidence_shows(tmp_path):
    """A feed titled "Armin Ronacher's …": the meta description and the site's feed read the
    apostrophe, not `&#x27;`; no page claims code is tested."""
    root = tmp_path / "site"
    blogtools("new", str(root), "--feed", str(DATA / "lucumr-2025-12-13.rss"), cwd=tmp_path)
    blogtools("build", "--offline", cwd=root)
    name = "Armin Ronacher's Thoughts and Writings"
    index = parse(root / "site/index.html")
    description = index.find("meta", name="description").attrs["content"]
    assert description == f"{name}: No post has a code block yet."
    assert feedparser.parse((root / "site/feed.xml").read_bytes()).feed.title == name
    assert index.find("link", rel="alternate").attrs["title"] == name
    pages = [page.read_text() for page in (root / "site").rglob("*.html")]
    assert not any("tested" in page for page in pages)
    assert "No post has a code block yet." in index.text()
    assert not (root / "site/tags").exists()  # no post has tags: no empty Tags page in the navigation


def test_the_home_page_and_feed_say_what_the_evidence_counts(site):
    """The seed site: "N of M code blocks run; K have tests" from the evidence, the same in the home
    page, the meta description and the feed's subtitle."""
    index = parse(site / "index.html")
    said = re.search(r"\d+ of \d+ code blocks run; \d+ ha(?:s|ve) tests[^.]*\.", index.text()).group(0)
    assert said in index.find("meta", name="description").attrs["content"]
    assert feedparser.parse((site / "feed.xml").read_bytes()).feed.subtitle == said


def test_links_with_no_text_are_dropped_outside_code():
    """A feed's heading permalinks (``[](url#id)``) give a link with no name; code keeps its text."""
    from blogtools.site import Post, drop_empty_links

    body = "## [](https://e.org/a.html#x)Heading\n\nSee [](https://e.org/(b)) and [this](https://e.org/c).\n\n```md\n[](kept)\n```\n"
    out = drop_empty_links(Post("2025-01-01-a", None, body), None).body
    assert out == "## Heading\n\nSee  and [this](https://e.org/c).\n\n```md\n[](kept)\n```\n"


def _post(root: Path, slug: str, title: str, day: str, site: str, blocks: int = 0) -> None:
    code = "".join(f"\n```python\nprint({n})\n```\n" for n in range(blocks))
    (root / "content" / "posts" / f"{day}-{slug}.md").write_text(
        f'---\nformat: 2\ntitle: "{title}"\ndate: {day}T00:00:00+00:00\nslug: "{slug}"\nsite: "{site}"\n---\n'
        f"A paragraph of the post.\n{code}")


def test_a_planet_gets_an_index_page_per_blog_its_examples_grouped_by_blog_and_a_single_blog_neither(tmp_path):
    """Three blogs (one with no code) and a page of the site's own: an index page per blog in the
    navigation, and /examples/ a section per blog with code, in order, each with its own posts'
    blocks only and their count; the site's page after them. One blog again: none of it."""
    from blogtools import site as site_stage
    from blogtools.project import load

    root = new_site(tmp_path / "planet", with_feeds=False)
    _post(root, "one", "First *star*", "2025-01-01", "https://a.example/blog/", blocks=2)
    _post(root, "two", "Second", "2025-02-01", "https://a.example/blog/")
    _post(root, "four", "Fourth", "2025-04-01", "https://a.example/blog/", blocks=1)
    _post(root, "three", "Third", "2025-03-01", "https://b.example/", blocks=3)
    _post(root, "five", "Fifth", "2025-05-01", "https://c.example/")
    (root / "content" / "about.md").write_text("# About\n\nThe site.\n\n```python\nprint('about')\n```\n")
    project = load(root / "mkdocs.yml")
    assert site_stage.render(project) == 5
    blogs = project.docs_dir / site_stage.BLOGS_DIR
    assert sorted(page.name for page in blogs.iterdir()) == ["a-example-blog.md", "b-example.md", "c-example.md"]
    assert (blogs / "a-example-blog.md").read_text() == (
        "# a&#46;example/blog\n\n3 posts of this blog on the site, newest first.\n\n"
        "- [Fourth](../posts/2025-04-01-four.md), 1 April 2025\n"
        "- [Second](../posts/2025-02-01-two.md), 1 February 2025\n"
        "- [First &#42;star&#42;](../posts/2025-01-01-one.md), 1 January 2025\n")
    assert site_stage.build(project) == []
    nav = {a.attrs.get("href") for a in parse(project.site_dir / "index.html").find("nav", cls="md-nav--primary").find_all("a")}
    assert {"blogs/a-example-blog/", "blogs/b-example/", "blogs/c-example/", "examples/"} <= nav
    attribution = parse(project.site_dir / "2025/03/01/three/index.html").find("div", cls="blogtools-attribution")
    assert " ".join(attribution.find_all("p")[1].text().split()) == "First published on 1 March 2025 at b.example."
    article = parse(project.site_dir / "examples/index.html").find("article")
    sections = article.find_all("section", cls="bt-blog")
    assert [heading_text(section.find("h2")) for section in sections] == ["a.example/blog", "b.example", "Pages of this site"]
    assert [(section.find("h2").find("a") or section).attrs.get("href") for section in sections] == [
        "../blogs/a-example-blog/", "../blogs/b-example/", None]
    posts = [[(heading_text(post.find("h3")), [row.find("a").attrs["href"] for row in post.find_all("li")])
              for post in section.find_all("section", cls="bt-post")] for section in sections]
    assert posts == [
        [("Fourth", ["../2025/04/01/four/#code-01"]),
         ("First *star*", ["../2025/01/01/one/#code-01", "../2025/01/01/one/#code-02"])],
        [("Third", [f"../2025/03/01/three/#code-{n:02}" for n in (1, 2, 3)])],
        [("About", ["../about/#code-01"])]]
    assert [section.find("p", cls="bt-blog-counts").text() for section in sections] == [
        f"{n} example{'s' * (n != 1)} · {n} without a manifest entry" for n in (3, 3, 1)]
    assert article.find("p", cls="blogtools-block-counts").text() == "7 examples · 7 without a manifest entry"
    assert sitecheck.broken_links(project.site_dir, SITE_PATH) == []  # the blogs' pages and blocks it links are there
    for name in ("2025-02-01-two", "2025-03-01-three", "2025-05-01-five"):
        (root / "content" / "posts" / f"{name}.md").unlink()
    (root / "content" / "about.md").unlink()
    site_stage.render(project)
    assert not blogs.exists()  # one blog: its index is the site's, and the stale pages are gone
    examples = (project.docs_dir / site_stage.EXAMPLES_PAGE).read_text()
    assert "bt-blog" not in examples and examples.count('<section class="bt-post"><h2>') == 2  # grouped by post, as ever


def test_blogs_whose_addresses_slug_alike_each_keep_their_own_page(tmp_path):
    """Blogs whose addresses slug alike ("a-b-3", "a.b", "a.b/_") each keep a page of their own."""
    from blogtools import site as site_stage
    from blogtools.project import load

    root = new_site(tmp_path / "planet", with_feeds=False)
    for slug, home in (("one", "https://a-b-3/"), ("two", "https://a.b/"), ("three", "https://a.b/_")):
        _post(root, slug, slug.title(), "2025-01-01", home, blocks=1)
    project = load(root / "mkdocs.yml")
    site_stage.render(project)
    pages = {page.stem: page.read_text() for page in (project.docs_dir / site_stage.BLOGS_DIR).iterdir()}
    assert len(pages) == 3
    assert sorted(next(line for line in text.splitlines() if line.startswith("- [")) for text in pages.values()) == [
        "- [One](../posts/2025-01-01-one.md), 1 January 2025",
        "- [Three](../posts/2025-01-01-three.md), 1 January 2025",
        "- [Two](../posts/2025-01-01-two.md), 1 January 2025"]
