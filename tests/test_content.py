"""The content model: plain-text front matter, one validator, pages migrated once from format 1."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from blogtools import content, feeds, ingest_state, project, records, site
from blogtools.content import FrontMatter
from blogtools.errors import BlogtoolsError

# A page exactly as blogtools wrote it before pages had a format: string values HTML-escaped.
FORMAT_1_PAGE = """---
title: "&lt;b&gt;Bold&lt;/b&gt; &amp; &quot;quoted&quot;, literally &amp;lt;"
date: 2025-10-17T00:00:00+00:00
updated: 2025-10-18T00:00:00+00:00
authors:
  - "Armin &amp; Co"
canonical: "https://example.org/2025/10/17/code/?a=1&amp;b=2"
site: "https://example.org/"
source: "feeds/example.atom"
entry_id: "https://example.org/2025/10/17/code/"
tags:
  - "a &amp; b"
slug: "code"
---

The body keeps &lt;its&gt; references and `code` as written.

```text
&amp; stays in code
```
"""


def _posts(tmp_path: Path) -> Path:
    (tmp_path / "posts").mkdir(parents=True)
    return tmp_path / "posts"


def test_a_format_1_page_is_migrated_once_in_place(tmp_path):
    page = _posts(tmp_path) / "2025-10-17-code.md"
    page.write_text(FORMAT_1_PAGE)
    result = subprocess.run([sys.executable, "-m", "blogtools", "migrate", "--content-dir", str(tmp_path)],
                            capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "migrate: 1 pages rewritten as format 2\n")
    text = page.read_text()
    front, rest = text.split("\n---\n", 1)
    assert rest == FORMAT_1_PAGE.split("\n---\n", 1)[1]  # the body, byte for byte
    meta = yaml.safe_load(front[4:])
    assert meta["format"] == 2
    assert meta["title"] == '<b>Bold</b> & "quoted", literally &lt;'
    assert meta["authors"] == ["Armin & Co"] and meta["tags"] == ["a & b"]
    assert meta["canonical"] == "https://example.org/2025/10/17/code/?a=1&b=2"
    assert meta["updated"] == datetime(2025, 10, 18, tzinfo=timezone.utc)
    assert "<" not in front and ">" not in front  # plain text, yet no markup stands in the file
    assert [p.name for p in page.parent.iterdir()] == [page.name]  # no temporary file left
    mtime = page.stat().st_mtime_ns
    assert content.migrate(tmp_path) == []  # once: a current page is not rewritten
    assert page.stat().st_mtime_ns == mtime


def test_a_format_1_page_reads_as_plain_text_before_its_migration(tmp_path):
    page = _posts(tmp_path) / "2025-10-17-code.md"
    page.write_text(FORMAT_1_PAGE)
    front, body = content.read_page(page)
    assert front.title == '<b>Bold</b> & "quoted", literally &lt;'
    assert body.startswith("The body keeps &lt;its&gt;")
    assert page.read_text() == FORMAT_1_PAGE  # reading never writes


def test_a_title_whose_text_is_an_entity_survives_the_round_trip_and_renders_literally(tmp_path):
    posts = _posts(tmp_path / "content")
    front = FrontMatter(title="&lt;", date=datetime(2025, 1, 2, tzinfo=timezone.utc), slug="entity")
    (posts / "2025-01-02-entity.md").write_text(content.page_text(front, "Body.\n"))
    assert content.read_page(posts / "2025-01-02-entity.md") == (front, "Body.\n")
    (tmp_path / "mkdocs.yml").write_text("site_name: X\nsite_url: https://x.example/\ndocs_dir: docs\n")
    site.render(project.load(tmp_path / "mkdocs.yml"))
    page = (tmp_path / "docs/posts/2025-01-02-entity.md").read_text()
    assert yaml.safe_load(page.split("---\n")[1])["title"] == "&amp;lt;"  # Material prints it unescaped: "&lt;"
    assert "# &#38;lt;\n" in page  # the heading shows the four characters & l t ;


@pytest.mark.parametrize("text, problem", [
    ("---\nformat: 3\ntitle: x\ndate: 2025-01-02\n---\n", "page format 3; this blogtools reads formats 1 to 2"),
    ("---\nformat: 2\ndate: 2025-01-02\n---\n", "front matter 'title' is missing"),
    ("---\nformat: 2\ntitle: x\ndate: 2025-01-02\ntitel: y\n---\n", "front matter unknown key 'titel'"),
    ("---\nformat: 2\ntitle: x\ndate: soon\n---\n", "front matter 'date' 'soon' is not ISO 8601"),
    ("---\nformat: 2\ntitle: x\ndate: 2025-01-02\ntags: [[a]]\n---\n", "'tags' item 1 must be a string, not list"),
])
def test_bad_front_matter_is_one_error_naming_the_page_and_a_bad_page_stops_the_migration(tmp_path, text, problem):
    posts = _posts(tmp_path)
    (posts / "2025-01-01-old.md").write_text(FORMAT_1_PAGE)
    (posts / "2025-01-02-bad.md").write_text(text.replace("format: 2\n", "") if "format: 2" in text else text)
    with pytest.raises(BlogtoolsError) as caught:
        content.migrate(tmp_path)
    assert str(caught.value).startswith(f"{posts / '2025-01-02-bad.md'}: ") and problem in str(caught.value)
    assert (posts / "2025-01-01-old.md").read_text() == FORMAT_1_PAGE  # nothing written
    (posts / "2025-01-02-bad.md").write_text(text)
    with pytest.raises(BlogtoolsError, match="2025-01-02-bad.md: "):
        content.read_page(posts / "2025-01-02-bad.md")


def test_a_single_author_or_tag_may_be_a_plain_string():
    front = FrontMatter.load({"title": "t", "date": "2025-01-02", "authors": "Alice", "tags": "essays"}, "page")
    assert (front.authors, front.tags) == (["Alice"], ["essays"])
    assert front.date == datetime(2025, 1, 2, tzinfo=timezone.utc)


@pytest.mark.parametrize("toml, problem", [
    ('[[source]]\nauthor = "A"\n', "'source' item 1: 'location' is missing"),
    ('[[source]]\nlocation = "f.atom"\nrights = 5\n', "'source' item 1: 'rights' must be a string, not int"),
    ('[[source]]\nlocation = ""\n', "'source' item 1: 'location' is empty"),
    ('[[source]]\nlocation = "f.atom"\nsite_url = "x"\n', "unknown key 'site_url'"),
    ('source = "f.atom"\n', "'source' must be a list, not str"),
])
def test_feeds_toml_is_one_typed_record_with_one_error_line(tmp_path, toml, problem):
    path = tmp_path / "feeds.toml"
    path.write_text(toml)
    with pytest.raises(BlogtoolsError) as caught:
        feeds.load_sources(path)
    assert str(caught.value) == f"{path}: {problem}" or (
        str(caught.value).startswith(f"{path}: ") and problem in str(caught.value))


def test_the_ingest_state_round_trips_through_its_record(tmp_path):
    state = ingest_state.IngestState(1, {"feed": ingest_state.SourceState(["a"], sha256="x")},
                                     {"a": ingest_state.EntryState("posts/a.md", "https://a/")})
    data = ingest_state.dumps(state)
    assert b"null" not in data
    (tmp_path / ingest_state.FILE).write_bytes(data)
    assert ingest_state.load(tmp_path, warn=pytest.fail) == state
    with pytest.raises(records.RecordError, match="'page' must name a page posts/<slug>.md"):
        ingest_state.EntryState("../a.md")
