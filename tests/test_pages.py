"""A site's pages that are not posts: any .md under content/ outside posts/ (a guide, an about
page) is rendered at its own path, its code blocks extracted, checked and shown with their
statuses like a post's; a site with no feeds builds from its pages alone."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from blogtools import content
from blogtools.annotate import SourceLinks
from blogtools.errors import BlogtoolsError
from clirun import invoke
from site_html import badges_of

CONFIG = """\
site_name: Handbook
site_url: https://example.org/handbook/
docs_dir: build/docs
theme:
  name: material
  custom_dir: build/overrides
markdown_extensions:
  - admonition
  - pymdownx.details
  - pymdownx.superfences
  - pymdownx.tabbed
nav:
  - index.md
  - guides/install.md
validation:
  nav:
    omitted_files: info
"""
GUIDE = """\
---
title: Installing
---
# Installing

Run this:

```python
print("hello")
```

Then this:

```console
$ handbook --version
```
"""


@pytest.fixture
def site(tmp_path) -> Path:
    (tmp_path / "mkdocs.yml").write_text(CONFIG)
    (tmp_path / "content" / "posts").mkdir(parents=True)
    (tmp_path / "content" / "guides").mkdir()
    (tmp_path / "content" / "guides" / "install.md").write_text(GUIDE)
    (tmp_path / "content" / "index.md").write_text("# The handbook\n\nSee [installing](guides/install.md).\n")
    return tmp_path


def test_pages_are_named_by_their_path_and_a_post_s_name_is_refused(site):
    assert content.content_pages(site / "content" / "posts") == {
        "guides-install": site / "content/guides/install.md", "index": site / "content/index.md"}
    (site / "content/posts/guides-install.md").write_text("---\ntitle: x\ndate: 2025-01-01\n---\n")
    with pytest.raises(BlogtoolsError, match="named 'guides-install' like the post"):
        content.content_pages(site / "content" / "posts")


def test_a_site_without_the_badges_extensions_is_one_error_line(site):
    config = site / "mkdocs.yml"
    config.write_text(config.read_text().replace("  - admonition\n", "").replace("  - pymdownx.details\n", ""))
    ran = invoke("build", cwd=site)
    assert ran.exit_code == 1 and not (site / "site").exists()
    assert ran.stderr.strip().splitlines()[-1] == ("blogtools: error: mkdocs.yml: markdown_extensions lacks admonition, "
                                                  "pymdownx.details: each code block's badge needs them (add them, "
                                                  "as `blogtools new` writes them)")


@pytest.mark.slow
def test_a_site_of_pages_builds_with_its_blocks_extracted_and_shown(site):
    ran = invoke("build", cwd=site)  # no feeds/feeds.toml: nothing to ingest, not an error
    assert ran.exit_code == 0, ran.output
    assert "ingest: no feeds/feeds.toml" in ran.stderr
    assert ran.stdout.startswith("built 0 posts and 2 pages into site")
    listed = invoke("snippets", cwd=site).stdout
    assert re.search(r"^guides-install/01 +python ", listed, re.M) and re.search(r"^guides-install/02 +console ", listed, re.M)
    html = (site / "site/guides/install/index.html").read_text()
    assert len(badges_of(html)) == 2  # one per block
    assert "<h1" in html and "Installing" in html
    home = (site / "site/index.html").read_text()
    assert "The handbook" in home and "Latest essays" not in home  # the site's own index.md wins
    examples = (site / "build/docs/examples.md").read_text()
    assert '<h2><a href="../guides/install/">Installing</a></h2>' in examples  # its address on the site
    assert invoke("check", cwd=site).exit_code == 0


@pytest.mark.slow
def test_a_page_removed_from_content_leaves_the_rendered_docs(site):
    assert invoke("build", "--offline", cwd=site).exit_code == 0
    (site / "content/guides/install.md").unlink()
    (site / "mkdocs.yml").write_text(CONFIG.replace("  - guides/install.md\n", ""))
    (site / "content/index.md").write_text("# The handbook\n")
    assert invoke("build", "--offline", cwd=site).exit_code == 0
    assert not (site / "build/docs/guides/install.md").exists()


def test_links_to_a_site_s_files_name_its_folder_in_the_repository(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "docs").mkdir()
    links = SourceLinks.for_repo(tmp_path / "docs", "https://github.com/o/r")
    assert links.url("snippets/x/a.py", 3) == "https://github.com/o/r/blob/main/docs/snippets/x/a.py#L3"
    assert SourceLinks.for_repo(tmp_path, "https://github.com/o/r").url("a.py") == "https://github.com/o/r/blob/main/a.py"


@pytest.mark.slow
def test_the_docs_site_checks_clean_when_named_from_the_repository():
    """`blogtools -f docs/mkdocs.yml check` from the repository's folder: the docs' tests are
    collected where they are (a relative site folder once sent pytest to docs/docs)."""
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "blogtools", "-f", "docs/mkdocs.yml", "check"], cwd=repo,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].endswith(", 0 problems"), done.stdout
