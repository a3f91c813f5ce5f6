"""`blogtools ingest`: feeds in, one faithful and safe Markdown page per entry out."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import markdown
import pytest
import tomlkit
import yaml
from markdown_it import MarkdownIt

from blogtools import htmlmd, languages, mdwrite
from blogtools.content import read_page
from blogtools.errors import BlogtoolsError
from blogtools.feeds import Source
from blogtools.ingest import ingest
from clirun import invoke

DATA = Path(__file__).parent / "data"
ATOM = DATA / "lucumr-2025-12-13.atom"
RSS = DATA / "lucumr-2025-12-13.rss"
CORPUS = DATA / "lucumr-atom.xml"
HOSTILE = DATA / "hostile.atom"
A = "{http://www.w3.org/2005/Atom}"


run = invoke


def snapshot(folder: Path) -> dict:
    """Every file under ``folder``: its bytes and mtime."""
    return {p.relative_to(folder): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def pages(content: Path) -> dict[str, tuple[dict, str]]:
    """slug → (front matter, body) for every page."""
    out = {}
    for page in sorted((content / "posts").glob("*.md")):
        front, _ = read_page(page)
        out[page.stem] = (front.as_mapping(), page.read_text(encoding="utf-8").split("\n---\n", 1)[1])
    return out


def fences(body: str) -> list[tuple[str, str]]:
    """(language, text) of every fenced block, as a CommonMark parser sees them."""
    return [(t.info.strip(), t.content) for t in MarkdownIt().parse(body) if t.type == "fence"]


class _Text(HTMLParser):
    """textContent of each <pre> in an HTML fragment, the way a browser computes it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks, self.depth = [], 0

    def handle_starttag(self, tag, attrs):
        if tag == "pre":
            self.depth += 1
            self.blocks.append("")

    def handle_endtag(self, tag):
        if tag == "pre":
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.blocks[-1] += data


def pre_texts(fragment: str) -> list[str]:
    parser = _Text()
    parser.feed(fragment)
    return parser.blocks


@pytest.fixture(scope="module")
def lucumr(tmp_path_factory) -> Path:
    content = tmp_path_factory.mktemp("lucumr") / "content"
    summary = ingest([Source(str(ATOM), "feeds/lucumr-2025-12-13.atom", author="Armin Ronacher")], content)
    assert summary.line() == "10 added, 0 updated, 0 unchanged"
    return content


# ------------------------------------------------------------------------------ the shared feed


def test_every_entry_becomes_a_page_with_its_exact_title_and_dates(lucumr):
    got = pages(lucumr)
    root = ET.parse(ATOM).getroot()
    expected = {}
    for entry in root.iter(f"{A}entry"):
        link = entry.find(f"{A}link").get("href")
        year, month, day, segment = link.rstrip("/").split("/")[-4:]
        slug = f"{int(year):04d}-{int(month):02d}-{int(day):02d}-{segment}"
        expected[slug] = (entry.findtext(f"{A}title"), entry.findtext(f"{A}published"), link)
    assert set(got) == set(expected)
    assert {"2025-11-03-absurd-workflows", "2025-10-17-code", "2025-12-13-skills-vs-mcp",
            "2025-11-22-llm-apis"} <= set(got)
    for slug, (title, published, link) in expected.items():
        meta, _ = got[slug]
        assert meta["title"] == title
        assert meta["date"].isoformat() == published  # YAML reads the bare ISO date as a datetime
        assert meta["updated"].isoformat() == published
        assert meta["canonical"] == meta["entry_id"] == link
        assert meta["authors"] == ["Armin Ronacher"]
        assert meta["source"] == "feeds/lucumr-2025-12-13.atom"
        assert meta["slug"] == link.rstrip("/").rsplit("/", 1)[1]


def test_every_code_block_is_byte_exact_and_has_a_language(lucumr):
    root = ET.parse(ATOM).getroot()
    got = pages(lucumr)
    total = 0
    for entry in root.iter(f"{A}entry"):
        segment = entry.find(f"{A}link").get("href").rstrip("/").rsplit("/", 1)[1]
        (slug,) = [s for s in got if s.endswith("-" + segment)]
        expected = pre_texts(entry.findtext(f"{A}content"))
        blocks = fences(got[slug][1])
        assert [text.rstrip("\n") for _, text in blocks] == [t.rstrip("\n") for t in expected], slug
        assert all(language for language, _ in blocks)
        total += len(blocks)
    assert total == 10
    languages = {slug: [lang for lang, _ in fences(body)] for slug, (_, body) in got.items()}
    assert languages["2025-12-13-skills-vs-mcp"] == ["shell"]
    # The feed lost the posts' "typescript": without type annotations the code reads as JavaScript;
    # a one-line call the guesser is unsure of stays text, never another language.
    assert set(languages["2025-11-03-absurd-workflows"]) <= {"typescript", "javascript", "text"}
    assert languages["2025-11-03-absurd-workflows"].count("text") <= 1
    assert len(languages["2025-11-03-absurd-workflows"]) == 6
    assert languages["2025-10-17-code"] == ["javascript", "javascript", "text"]


def test_code_of_a_27_post_feed_matches_the_authors_markdown_source(tmp_path):
    expected = json.loads((DATA / "lucumr-expected-codeblocks.json").read_text())
    ingest([Source(str(CORPUS), "corpus")], tmp_path)
    by_link = {meta["canonical"]: body for meta, body in pages(tmp_path).values()}
    assert len(by_link) == len(expected) == 27
    family = {"typescript": "javascript", "console": "shell"}
    verdicts = Counter()
    for post in expected:
        blocks = fences(by_link[post["link"]])
        assert len(blocks) == len(post["code_blocks"]), post["title"]
        for (language, text), block in zip(blocks, post["code_blocks"], strict=True):
            assert text.rstrip("\n") == block["code"].rstrip("\n"), post["title"]
            known = languages.lookup(block["lang"]) if block["lang"] else None
            if known is None:  # untagged, or a name the registry lacks ("phpinline")
                continue
            truth = known.name
            verdicts["right" if family.get(language, language) == family.get(truth, truth) else
                     "text" if language == "text" else "wrong"] += 1
    assert sum(verdicts.values()) == 89
    # Languages are guessed (the feed has none), precision first: a wrong name is rarer than one
    # block in twenty, and most blocks are named right.
    assert verdicts["wrong"] <= 0.05 * 89, verdicts
    assert verdicts["right"] >= 0.8 * 89, verdicts


def test_atom_and_rss_variants_give_identical_pages(tmp_path):
    for name, feed in (("atom", ATOM), ("rss", RSS)):
        ingest([Source(str(feed), "feed", author="Armin Ronacher")], tmp_path / name)
    atom, rss = snapshot(tmp_path / "atom/posts"), snapshot(tmp_path / "rss/posts")
    assert len(atom) == 10
    assert {k: v[0] for k, v in atom.items()} == {k: v[0] for k, v in rss.items()}


def test_footnotes_resolve_and_their_ids_are_unique_across_posts(lucumr):
    seen = set()
    for slug, (_, body) in pages(lucumr).items():
        refs = set(re.findall(r"\[\^([^\]]+)\](?!:)", body))
        definitions = re.findall(r"^\[\^([^\]]+)\]:", body, flags=re.M)
        assert refs == set(definitions), slug
        assert all(ident.startswith(slug + "-") for ident in definitions)
        assert not seen & set(definitions)
        seen |= set(definitions)
        rendered = markdown.markdown(body, extensions=["footnotes"])
        for target in re.findall(r'href="#(fn:[^"]+)"', rendered):
            assert f'id="{target}"' in rendered, (slug, target)
    assert len(seen) == 2  # 11-03 and 12-13 each have one footnote


def test_links_are_absolute_or_point_at_pages_of_the_site(lucumr):
    got = pages(lucumr)
    internal = 0
    for slug, (_, body) in got.items():
        for token in MarkdownIt().parse(body):
            for child in token.children or []:
                if child.type == "link_open":
                    href = child.attrs["href"]
                    if href.endswith(".md"):
                        internal += 1
                        assert href[:-3] in got, (slug, href)
                    else:
                        assert re.match(r"(https?|mailto):", href), (slug, href)
    assert internal >= 4
    assert "[I am not](2025-09-04-996.md)" in got["2025-10-21-eu-resigation"][1]


def test_details_stay_collapsible_around_their_code(lucumr):
    body = pages(lucumr)["2025-10-17-code"][1]
    transcript = re.search(r'^<details markdown="1">\n<summary>What an agent run looks like</summary>\n\n'
                           r'(.*?)\n\n</details>$', body, re.S | re.M)
    assert transcript and [lang for lang, _ in fences(transcript.group(1))] == ["text"]
    assert transcript.group(1).startswith("```text\nPrompt: Figure out the current ip address")
    assert '<summary>Single step function</summary>' in pages(lucumr)["2025-11-03-absurd-workflows"][1]


# ----------------------------------------------------------------------------- hostile input

FORBIDDEN_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "form", "input", "style",
                  "meta", "base", "link", "frame", "template", "button", "textarea", "select"}


class _Audit(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []

    def handle_starttag(self, tag, attrs):
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name in ("style", "srcdoc", "formaction"):
                self.problems.append(f"{tag} {name}=")
            if name in ("href", "src", "xlink:href", "action", "data", "poster", "background"):
                if re.match(r"\s*[a-z][a-z0-9+.-]*:", value or "", re.I) and not re.match(
                        r"(https?|mailto):", value):
                    self.problems.append(f"{tag} {name}={value}")


def test_a_hostile_feed_yields_no_executable_markup(tmp_path):
    summary = ingest([Source(str(HOSTILE), "hostile")], tmp_path)
    assert summary.added == 3
    got = pages(tmp_path)
    for slug, (meta, body) in got.items():
        # Render the way a Material site would, risky extensions included.
        rendered = markdown.markdown(body, extensions=[
            "attr_list", "md_in_html", "footnotes", "tables", "toc", "admonition", "def_list",
            "pymdownx.details", "pymdownx.superfences", "pymdownx.inlinehilite",
            "pymdownx.tabbed", "pymdownx.snippets"],
            extension_configs={"pymdownx.snippets": {"base_path": [str(tmp_path)],
                                                     "restrict_base_path": False}})
        audit = _Audit()
        audit.feed(rendered)
        assert audit.problems == [], (slug, audit.problems)
        # Text cannot open an admonition, a collapsible block or a tab; only the feed's own
        # <details> are collapsible.
        assert 'class="admonition' not in rendered and 'class="tabbed-set' not in rendered, slug
        assert rendered.count("<details") == (2 if slug == "2025-12-01-scripts" else 0), slug
        raw = (tmp_path / "posts" / f"{slug}.md").read_text()
        front = raw.split("\n---\n", 1)[0]
        assert "<" not in front and ">" not in front, slug
        assert all(re.match(r"https?://", meta[k]) for k in ("canonical", "site") if k in meta)
    scripts = got["2025-12-01-scripts"]
    assert scripts[0]["title"] == '<script>alert("title")</script> Scripts & "quotes" <b>bold</b>'
    assert scripts[0]["tags"][0] == "<script>alert('tag')</script>"
    assert "canonical" not in got["2025-12-02-link"][0]  # javascript: entry link dropped
    assert "canonical" not in got["2025-12-03-data"][0]  # data: entry link dropped
    # Code keeps its text exactly, hostile or not, inside a fence longer than its own ```.
    blocks = fences(scripts[1])
    assert ('</code></pre><script>alert("code")</script>\n```\nfence inside code\n```\n'
            in [text for _, text in blocks])
    assert "[fine](https://ok.example/path?a=1&b=2)" in scripts[1]


# --------------------------------------------------------------------------------- bad input


class FeedServer:
    """A local HTTP server: /feed (ETag + Last-Modified, answers 304), /slow, /missing, /page."""

    def __init__(self, feed: bytes):
        self.feed = feed
        self.etag = '"v1"'
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
                if self.path == "/slow":
                    time.sleep(3)
                if self.path == "/missing":
                    self.send_error(404, "Not Found")
                    return
                if self.path == "/page":
                    self._send(b"<!doctype html><html><body><p>Just a moment...</p></body></html>", "text/html")
                    return
                if self.headers.get("If-None-Match") == server.etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self._send(server.feed, "application/atom+xml")

            def handle_one_request(self):
                try:
                    super().handle_one_request()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout test)

            def _send(self, body, kind):
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("ETag", server.etag)
                self.send_header("Last-Modified", "Sat, 13 Dec 2025 12:53:23 GMT")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    feed_server = FeedServer(ATOM.read_bytes())
    yield feed_server
    feed_server.close()


def test_conditional_get_writes_nothing_on_304(tmp_path, server):
    first = run("ingest", f"{server.url}/feed", "--content-dir", str(tmp_path))
    assert first.exit_code == 0 and first.stdout == "10 added, 0 updated, 0 unchanged\n"
    before = snapshot(tmp_path)
    second = run("ingest", f"{server.url}/feed", "--content-dir", str(tmp_path))
    assert second.stdout == "0 added, 0 updated, 10 unchanged\n"
    assert server.requests[-1]["if-none-match"] == '"v1"'
    assert server.requests[-1]["if-modified-since"] == "Sat, 13 Dec 2025 12:53:23 GMT"
    assert snapshot(tmp_path) == before
    meta, _ = pages(tmp_path)["2025-12-13-skills-vs-mcp"]
    assert meta["source"] == f"{server.url}/feed"


BAD_INPUTS = {
    "missing file": (lambda tmp, url: str(tmp / "nope.atom"), "cannot read: No such file or directory"),
    "a folder": (lambda tmp, url: str(tmp), "cannot read: Is a directory"),
    "an HTML page": (lambda tmp, url: _write(tmp / "page.html", b"<!doctype html><p>hello</p>"),
                     "not an RSS or Atom feed"),
    "binary garbage": (lambda tmp, url: _write(tmp / "junk.xml", bytes(range(256)) * 4),
                       "not an RSS or Atom feed (<unknown>:2:0: not well-formed (invalid token))"),
    "an empty file": (lambda tmp, url: _write(tmp / "empty.xml", b""), "not an RSS or Atom feed"),
    "HTTP 404": (lambda tmp, url: f"{url}/missing", "HTTP 404 Not Found"),
    "an HTML page over HTTP": (lambda tmp, url: f"{url}/page", "not an RSS or Atom feed"),
    "a refused connection": (lambda tmp, url: "http://127.0.0.1:9/feed", "connect"),
    "a timeout": (lambda tmp, url: f"{url}/slow", "no answer within 0.5 s"),
    "an unsupported scheme": (lambda tmp, url: "ftp://127.0.0.1/feed.xml", "only http and https"),
}


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_error_line_and_leaves_content_untouched(case, tmp_path, server):
    content = tmp_path / "content"
    ingest([Source(str(ATOM), "feed")], content)
    before = snapshot(content)
    make, reason = BAD_INPUTS[case]
    source = make(tmp_path, server.url)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "blogtools", "ingest", str(ATOM), source, "--content-dir", str(content),
         "--timeout", "0.5"], capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"blogtools: error: {source}: ")
    assert reason.lower() in lines[0].lower()
    assert snapshot(content) == before
    assert time.monotonic() - started < 20


def test_a_recoverable_feed_is_a_warning_and_its_entries_are_kept(tmp_path):
    text = ATOM.read_text()
    truncated = text[: text.index("<entry>", text.index("<entry>") + 1) + 200]  # cut inside entry 2
    feed = Path(_write(tmp_path / "cut.atom", truncated.encode()))
    result = run("ingest", str(feed), "--content-dir", str(tmp_path / "content"))
    assert result.exit_code == 0
    assert result.stderr.startswith(f"blogtools: warning: {feed}: ")
    assert "recovered" in result.stderr
    assert result.stdout.startswith("1 added") or result.stdout.startswith("2 added")
    assert (tmp_path / "content/posts/2025-12-13-skills-vs-mcp.md").exists()


# ---------------------------------------------------------------------- accumulate, never forget


def test_ingesting_an_unchanged_feed_writes_nothing(tmp_path):
    run("ingest", str(ATOM), "--content-dir", str(tmp_path))
    before = snapshot(tmp_path)
    time.sleep(0.01)
    result = run("ingest", str(ATOM), "--content-dir", str(tmp_path))
    assert result.stdout == "0 added, 0 updated, 10 unchanged\n"
    assert snapshot(tmp_path) == before


def _without_entry(text: str, n: int) -> str:
    starts = [m.start() for m in re.finditer(r"<entry>", text)]
    end = text.index("</entry>", starts[n]) + len("</entry>")
    return text[: starts[n]] + text[end:]


def test_a_post_that_left_the_feed_keeps_its_page(tmp_path):
    feed = tmp_path / "feed.atom"
    feed.write_text(ATOM.read_text())
    content = tmp_path / "content"
    run("ingest", str(feed), "--content-dir", str(content))
    page = content / "posts/2025-12-13-skills-vs-mcp.md"
    kept = page.read_bytes()
    feed.write_text(_without_entry(ATOM.read_text(), 0))
    result = run("ingest", str(feed), "--content-dir", str(content))
    assert result.stdout == "0 added, 0 updated, 9 unchanged\n"
    assert page.read_bytes() == kept
    assert len(list((content / "posts").glob("*.md"))) == 10


def test_a_changed_entry_updates_its_page_and_only_it(tmp_path):
    feed = tmp_path / "feed.atom"
    feed.write_text(ATOM.read_text())
    content = tmp_path / "content"
    run("ingest", str(feed), "--content-dir", str(content))
    before = snapshot(content / "posts")
    feed.write_text(ATOM.read_text().replace("moving all my MCPs to skills", "moving every MCP to skills", 1))
    result = run("ingest", str(feed), "--content-dir", str(content))
    assert result.stdout == "0 added, 1 updated, 9 unchanged\n"
    after = snapshot(content / "posts")
    changed = [name for name in after if after[name] != before[name]]
    assert changed == [Path("2025-12-13-skills-vs-mcp.md")]
    assert "moving every MCP to skills" in after[changed[0]][0].decode()


def test_a_post_added_later_turns_links_to_it_into_internal_links(tmp_path):
    feed = tmp_path / "feed.atom"
    feed.write_text(_without_entry(ATOM.read_text(), 9))  # without 2025-09-04-996
    content = tmp_path / "content"
    run("ingest", str(feed), "--content-dir", str(content))
    linking = content / "posts/2025-10-21-eu-resigation.md"
    assert "(https://lucumr.pocoo.org/2025/9/4/996/)" in linking.read_text()
    feed.write_text(ATOM.read_text())
    result = run("ingest", str(feed), "--content-dir", str(content))
    assert result.stdout.startswith("1 added, ")
    assert "(2025-09-04-996.md)" in linking.read_text()


def _only_entry(text: str, n: int) -> str:
    starts = [m.start() for m in re.finditer(r"<entry>", text)]
    end = text.index("</entry>", starts[n]) + len("</entry>")
    return text[: starts[0]] + text[starts[n]:end] + "\n</feed>\n"


def test_a_source_answering_304_still_gets_links_to_posts_another_source_added(tmp_path):
    feed_server = FeedServer(_without_entry(ATOM.read_text(), 9).encode())  # without 2025-09-04-996
    try:
        url, content = f"{feed_server.url}/feed", tmp_path / "content"
        assert run("ingest", url, "--content-dir", str(content)).stdout == "9 added, 0 updated, 0 unchanged\n"
        linking = content / "posts/2025-10-21-eu-resigation.md"
        assert "(https://lucumr.pocoo.org/2025/9/4/996/)" in linking.read_text()
        other = tmp_path / "996.atom"
        other.write_text(_only_entry(ATOM.read_text(), 9))
        result = run("ingest", url, str(other), "--content-dir", str(content))
        assert result.stdout == "1 added, 1 updated, 8 unchanged\n"
        # The conditional GET was answered 304; the links changed, so the body was fetched again.
        assert feed_server.requests[-2]["if-none-match"] == '"v1"'
        assert "if-none-match" not in feed_server.requests[-1]
        assert "(2025-09-04-996.md)" in linking.read_text()
        before = snapshot(content)
        again = run("ingest", url, str(other), "--content-dir", str(content))
        assert again.stdout == "0 added, 0 updated, 10 unchanged\n"
        assert snapshot(content) == before
    finally:
        feed_server.close()


def test_entries_with_no_id_link_or_title_are_skipped_with_a_warning(tmp_path):
    feed = tmp_path / "anonymous.atom"
    entry = '<entry>{}<published>2025-03-0{}T00:00:00Z</published><content type="html">&lt;p&gt;{}&lt;/p&gt;</content></entry>'
    feed.write_text('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Anonymous</title>'
                    + entry.format("", 1, "first") + entry.format("", 2, "second")
                    + entry.format("<id>tag:x.example,2025:3</id><title>Named</title>", 3, "third") + "</feed>")
    result = run("ingest", str(feed), "--content-dir", str(tmp_path / "content"))
    assert result.exit_code == 0 and result.stdout == "1 added, 0 updated, 0 unchanged\n"
    assert result.stderr.splitlines() == [
        f"blogtools: warning: {feed}: entry {n} has no id, link or title to tell it apart; skipped" for n in (1, 2)]
    ((meta, body),) = pages(tmp_path / "content").values()
    assert meta["entry_id"] == "tag:x.example,2025:3" and "third" in body


def test_a_page_without_a_closing_front_matter_line_has_no_front_matter(tmp_path):
    content = tmp_path / "content"
    ingest([Source(str(ATOM), "feed")], content)
    (content / ".ingest-state.json").unlink()  # the state is rebuilt from the pages' front matter
    notes = content / "posts/notes.md"
    notes.write_text('---\nentry_id: "https://lucumr.pocoo.org/2025/12/13/skills-vs-mcp/"\ntitle: My notes\n')
    before = snapshot(content / "posts")
    assert ingest([Source(str(ATOM), "feed")], content).line() == "0 added, 0 updated, 10 unchanged"
    assert snapshot(content / "posts") == before  # notes.md was not taken for the entry's page


def test_the_default_sources_come_from_feeds_toml(tmp_path):
    (tmp_path / "feeds").mkdir()
    shutil.copy(RSS, tmp_path / "feeds/blog.rss")
    (tmp_path / "feeds/feeds.toml").write_text(
        '[[source]]\nlocation = "blog.rss"\nauthor = "Armin Ronacher"\n'
        'site = "https://lucumr.pocoo.org/"\nrights = "© Armin Ronacher"\n')
    result = run("ingest", cwd=tmp_path)
    assert result.stdout == "10 added, 0 updated, 0 unchanged\n"
    meta, _ = pages(tmp_path / "content")["2025-11-22-llm-apis"]
    assert meta["authors"] == ["Armin Ronacher"]  # the RSS items name no author: feeds.toml does
    assert meta["rights"] == "© Armin Ronacher"
    assert meta["source"] == "feeds/blog.rss"


def test_a_long_run_shows_progress_on_stderr(tmp_path):
    text = CORPUS.read_text()
    many = tmp_path / "many.atom"
    entries = re.findall(r"<entry>.*?</entry>", text, flags=re.S)
    copies = [e.replace("/</id>", f"/copy-{n}/</id>").replace('/" />', f'/copy-{n}/" />')
              for n in range(2) for e in entries]
    many.write_text(text[: text.index("<entry>")] + "".join(copies) + "</feed>\n")
    result = run("ingest", str(many), "--content-dir", str(tmp_path / "content"))
    assert result.stdout == "54 added, 0 updated, 0 unchanged\n"
    assert "Converting entries" in result.stderr


# ------------------------------------------------------------------- robustness on other feeds


@pytest.mark.parametrize("feed", sorted((DATA / "feeds").rglob("*.xml")),
                         ids=lambda p: str(p.relative_to(DATA / "feeds")))
def test_other_feeds_never_crash(feed, tmp_path):
    try:
        ingest([Source(str(feed), feed.name)], tmp_path)
    except BlogtoolsError as exc:
        assert str(exc).startswith(f"{feed.name}: ") and "\n" not in str(exc)
        assert not tmp_path.exists() or not any(tmp_path.iterdir())
        return
    for page in (tmp_path / "posts").glob("*.md"):
        meta = yaml.safe_load(page.read_text().split("\n---\n", 1)[0][4:])
        assert meta["title"] and meta["date"]


# ----------------------------------------------------------------------------------- units


def test_a_fence_outlasts_the_backticks_in_its_code():
    code = "before\n````\ninside\n````\n"
    block = mdwrite.fence(code, "text")
    assert block.startswith("`````text\n") and block.endswith("\n`````")
    assert fences(block) == [("text", code)]


@pytest.mark.parametrize("markup, language", [
    ('<div class="highlight"><pre>SELECT id FROM t;</pre></div>', "sql"),  # names none: a guess
    ('<pre class="language-ts">x</pre>', "typescript"),
    ('<pre class="code python">x</pre>', "python"),
    ('<pre data-lang="rs">x</pre>', "rust"),
    ('<pre><code class="rb">x</code></pre>', "ruby"),  # an alias alone, through the registry
    ('<figure class="highlight objc"><pre>x</pre></figure>', "objc"),
    ('<pre class="language-x&quot;onclick">SELECT id FROM t;</pre>', "sql"),  # not a name: a guess
])
def test_language_from_markup_wins_over_guessing(markup, language):
    assert [lang for lang, _ in fences(htmlmd.to_markdown(markup, slug="s", base="", internal={}))] == [language]


def test_plain_text_escaping_leaves_nothing_markdown_would_act_on():
    assert mdwrite.escape_text("<b>[x](y) {: a} `c` &amp;") == \
        "&lt;b>&#91;x&#93;(y) &#123;: a&#125; &#96;c&#96; &amp;amp;"
    assert html.unescape(mdwrite.escape_text("<b>[x](y) {: a} `c` &amp;")) == "<b>[x](y) {: a} `c` &amp;"


# ------------------------------------------------------------------------------ blogtools new


def test_new_starts_a_site_ready_to_ingest_and_build(tmp_path):
    site = tmp_path / "essays"
    result = run("new", str(site), "--feed", str(RSS), "--site-url", "https://essays.example/")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.relative_to(site).as_posix() for p in site.rglob("*")) == [
        ".github", ".github/workflows", ".github/workflows/blogtools.yml", "content", "content/posts", "feeds",
        "feeds/feeds.toml", "feeds/lucumr-2025-12-13.rss", "mkdocs.yml", "snippets", "snippets/manifest.toml"]
    config = yaml.load((site / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    assert config["site_name"] == "Armin Ronacher&#x27;s Thoughts and Writings"  # Material prints it raw
    assert config["site_url"] == "https://essays.example/"
    assert (config["docs_dir"], config["site_dir"]) == ("build/docs", "site")
    assert "repo_url" not in config  # blogtools' own repository is not the new site's
    assert run("ingest", cwd=site).stdout == "10 added, 0 updated, 0 unchanged\n"
    meta, _ = pages(site / "content")["2025-12-13-skills-vs-mcp"]
    assert meta["site"] == "https://lucumr.pocoo.org/"
    assert meta["source"] == "feeds/lucumr-2025-12-13.rss"


def test_new_refuses_a_bad_feed_and_a_folder_in_use(tmp_path):
    result = run("new", str(tmp_path / "a"), "--feed", str(tmp_path / "missing.xml"))
    assert result.exit_code == 1 and "cannot read" in result.stderr
    assert not (tmp_path / "a").exists()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("mine")
    result = run("new", str(tmp_path / "b"), "--feed", str(ATOM))
    assert result.exit_code == 1 and "not empty" in result.stderr
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["notes.txt"]


PROJECT_CONFIG = Path(__file__).parents[1] / "mkdocs.yml"


def test_the_site_template_has_the_projects_own_settings():
    from blogtools import scaffold

    assert scaffold.without_identity(scaffold.mkdocs_template()) == \
        scaffold.without_identity(PROJECT_CONFIG.read_text())


def test_a_site_started_from_a_hostile_feed_builds_with_nothing_executable(tmp_path):
    from blogtools import sitecheck

    def build(folder: Path, feed: Path, *flags: str) -> Path:
        assert run("new", str(folder), "--feed", str(feed)).exit_code == 0
        proc = subprocess.run([sys.executable, "-m", "blogtools", "build", *flags], cwd=folder,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return folder / "site"

    empty = tmp_path / "empty.atom"
    empty.write_text(HOSTILE.read_text().split("<entry>")[0] + "</feed>\n")
    theme_scripts = sitecheck.inline_scripts(build(tmp_path / "empty", empty, "--offline"))
    site = build(tmp_path / "hostile", HOSTILE)
    assert len(list(site.glob("2025/12/*/*/index.html"))) == 3
    assert sitecheck.executable_markup(site, theme_scripts, "/") == []
    assert "&lt;script&gt;alert(&quot;feed title&quot;)" in (site / "index.html").read_text()


def test_feed_level_rights_and_odd_code_markup(tmp_path):
    feed = tmp_path / "small.atom"
    feed.write_text(
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Small</title>'
        '<link href="https://small.example/blog/"/><rights>CC BY 4.0</rights><updated>2025-01-02T00:00:00Z</updated>'
        '<entry><id>tag:small.example,2025:1</id><title>One</title><link href="https://small.example/blog/one.html"/>'
        '<published>2025-01-02T10:00:00+02:00</published><category term="rust"/><category term="rust"/>'
        '<content type="html">&lt;pre&gt;a&lt;br&gt;b&amp;amp;&lt;/pre&gt;'
        '&lt;pre class="highlight"&gt;&lt;code class="language-rs" data-lang="rust"&gt;fn x() {}&lt;/code&gt;&lt;/pre&gt;'
        '&lt;p&gt;See &lt;a href="two.html#part"&gt;two&lt;/a&gt; and &lt;a href="#top"&gt;top&lt;/a&gt;.&lt;/p&gt;'
        '</content></entry></feed>')
    ingest([Source(str(feed), "small")], tmp_path / "content")
    ((slug, (meta, body)),) = pages(tmp_path / "content").items()
    assert slug == "2025-01-02-one"  # published 08:00 UTC that day; ".html" leaves the slug
    assert meta["rights"] == "CC BY 4.0" and meta["tags"] == ["rust"]
    assert meta["date"].isoformat() == "2025-01-02T08:00:00+00:00"
    assert fences(body) == [("text", "a\nb&\n"), ("rust", "fn x() {}\n")]
    assert "[two](https://small.example/blog/two.html#part)" in body
    assert "[top](https://small.example/blog/one.html#top)" in body


def test_new_with_a_feed_url_lists_the_url(tmp_path, server):
    site = tmp_path / "remote"
    assert run("new", str(site), "--feed", f"{server.url}/feed").exit_code == 0
    assert not list((site / "feeds").glob("*.atom"))  # nothing copied: the URL is the source
    assert f'location = "{server.url}/feed"' in (site / "feeds/feeds.toml").read_text()
    assert run("ingest", cwd=site).stdout == "10 added, 0 updated, 0 unchanged\n"
    assert run("new", str(tmp_path / "x"), "--feed", str(ATOM), "--site-url", "javascript:alert(1)").exit_code == 1


def test_new_with_several_feeds_starts_a_planet_each_post_attributed_to_its_blog(tmp_path):
    site = tmp_path / "planet"
    feeds = [RSS, Path(__file__).resolve().parents[2] / "shared/corpus/other/rust-blog_inside-rust_feed.atom.xml"]
    result = run("new", str(site), *(arg for feed in feeds for arg in ("--feed", str(feed))))
    assert result.exit_code == 0, result.stderr
    config = yaml.load((site / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    assert config["site_name"] == "Armin Ronacher&#x27;s Thoughts and Writings and Inside Rust Blog"
    assert "their authors" in config["copyright"]
    listed = tomlkit.parse((site / "feeds/feeds.toml").read_text())["source"]
    assert [(item["location"], item.get("site")) for item in listed] == [
        ("lucumr-2025-12-13.rss", "https://lucumr.pocoo.org/"),
        ("rust-blog_inside-rust_feed.atom.xml", "https://blog.rust-lang.org/inside-rust/")]
    assert run("ingest", cwd=site).exit_code == 0
    sites = {meta["source"]: meta["site"] for meta, _ in pages(site / "content").values()}
    assert sites == {"feeds/lucumr-2025-12-13.rss": "https://lucumr.pocoo.org/",
                     "feeds/rust-blog_inside-rust_feed.atom.xml": "https://blog.rust-lang.org/inside-rust/"}
