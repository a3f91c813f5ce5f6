"""The same site on the three engines blogtools builds with (``extra: blogtools: engine:``): MkDocs
1.6 + Material (the default), ProperDocs + Material and Zensical. Each builds this repository's
essays and a site `blogtools new` made from another blog's feed; each must publish the same pages
with one status line under every code block, since blogtools writes the statuses into the
Markdown itself and needs no engine plugin or hook."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from blogtools import project
from blogtools import site as site_stage
from blogtools.blocks import find_blocks

ROOT = Path(__file__).resolve().parents[1]
CORPUS_FEED = ROOT.parent / "shared" / "corpus" / "other" / "rust-blog_feed.atom.xml"
ENGINES = ("mkdocs", "properdocs", "zensical")
BADGE_MD = re.compile(r"^\s*(?:!!!|\?\?\?) bt-badge ", re.M)  # the badge blogtools writes under a block
BADGE_HTML = re.compile(r'class="[^"]*\bbt-badge\b')  # that badge, as the engine renders it


def blogtools(*args: str, cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "blogtools", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stderr + done.stdout


def set_engine(site: Path, engine: str) -> None:
    """Choose the engine the way a user does: one line under `extra: blogtools:` in mkdocs.yml."""
    config = site / "mkdocs.yml"
    text = config.read_text()
    assert text.count("\n  blogtools:\n") == 1
    config.write_text(text.replace("\n  blogtools:\n", f"\n  blogtools:\n    engine: {engine}\n"))


def seed_site(folder: Path) -> Path:
    for name in ("content", "snippets", "feeds"):
        shutil.copytree(ROOT / name, folder / name)
    shutil.copy(ROOT / "mkdocs.yml", folder / "mkdocs.yml")
    return folder


def corpus_site(folder: Path) -> Path:
    if not CORPUS_FEED.is_file():
        pytest.skip(f"{CORPUS_FEED}: the shared corpus is not beside this checkout")
    blogtools("new", str(folder), "--feed", str(CORPUS_FEED), cwd=folder.parent)
    blogtools("build", cwd=folder)  # ingests the feed and triages its blocks once, for every engine
    return folder


@pytest.fixture(scope="module", params=["seed", "corpus"])
def sites(request, tmp_path_factory) -> dict[str, Path]:
    """The site built by each engine, from copies of one source (so triage runs once)."""
    base = tmp_path_factory.mktemp(request.param)
    source = (seed_site if request.param == "seed" else corpus_site)(base / "source")
    built = {}
    for engine in ENGINES:
        if importlib.util.find_spec(engine) is None:
            pytest.fail(f"{engine} is not installed: pip install -e '.[test]'")
        site = base / engine
        shutil.copytree(source, site, ignore=shutil.ignore_patterns("site", "build"))
        set_engine(site, engine)
        printed = blogtools("build", "--offline", cwd=site)
        assert f"{engine} build (strict but for the feeds' content)" in printed
        built[engine] = site
    return built


def pages(site: Path) -> dict[str, str]:
    """The published pages a reader reaches: posts, the index, the examples page, and the feed."""
    found = {str(p.relative_to(site / "site")): p.read_text() for p in (site / "site").glob("[0-9]*/*/*/*/index.html")}
    for name in ("index.html", "examples/index.html", "feed.xml"):
        found[name] = (site / "site" / name).read_text()
    return found


def test_every_engine_publishes_the_same_pages(sites):
    posts = {path.stem for path in (sites["mkdocs"] / "content" / "posts").glob("*.md")}
    by_engine = {engine: pages(site) for engine, site in sites.items()}
    names = set(by_engine["mkdocs"])
    assert len(names) == len(posts) + 3
    for engine, found in by_engine.items():
        assert set(found) == names, engine
        assert found["feed.xml"] == by_engine["mkdocs"]["feed.xml"], engine  # written by blogtools, not the engine
        assert ("zensical.org" in found["index.html"]) == (engine == "zensical")  # its theme credits it


@pytest.mark.parametrize("engine", ENGINES)
def test_the_setting_picks_the_engine_that_runs(engine, tmp_path):
    """ProperDocs' pages cannot be told from MkDocs' (the same theme), so what runs is checked here:
    the command line build and serve start."""
    site = seed_site(tmp_path)
    set_engine(site, engine)
    chosen = project.load(site / "mkdocs.yml")
    assert chosen.engine == engine
    assert site_stage._engine(chosen, "build", site / "mkdocs.yml")[:4] == [sys.executable, "-m", engine, "build"]


def test_an_unknown_engine_is_one_error_line(tmp_path):
    site = seed_site(tmp_path)
    set_engine(site, "hugo")
    done = subprocess.run([sys.executable, "-m", "blogtools", "build", "--offline"], cwd=site, capture_output=True,
                          text=True)
    assert done.returncode == 1 and not (site / "site").exists()
    assert done.stderr == ("blogtools: error: mkdocs.yml: extra.blogtools.engine: 'hugo' is not one of "
                           "mkdocs, properdocs, zensical\n")


def test_every_engine_shows_one_status_per_code_block(sites):
    """Each code block's status line, written into build/docs/ by blogtools, reaches the page on
    every engine, once (a runnable module that no block shows has a line of its own)."""
    total = 0
    for engine, site in sites.items():
        shown = 0
        for page in sorted((site / "build" / "docs" / "posts").glob("*.md")):
            text = page.read_text()
            blocks = len(find_blocks((site / "content" / "posts" / page.name).read_text()))
            written = len(BADGE_MD.findall(text))
            assert written >= blocks, (engine, page.stem)
            slug = yaml.safe_load(text.split("---\n", 2)[1])["slug"]
            html = site / "site" / page.stem[:4] / page.stem[5:7] / page.stem[8:10] / slug / "index.html"
            assert len(BADGE_HTML.findall(html.read_text())) == written, (engine, page.stem)
            shown += blocks
        assert shown >= 10 and shown == (total or shown), engine
        total = shown
