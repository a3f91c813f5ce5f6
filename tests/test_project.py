"""One Project per invocation: every path and setting from the site's mkdocs.yml, wherever the command runs."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import tomlkit
import yaml

from blogtools import project
from clirun import invoke

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
POST = "2025-11-03-durable"
FIGURE_MODULE = '''import os
from pathlib import Path


def main():
    out = Path(os.environ["BLOGTOOLS_FIGURES_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "cost.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>')
    (out / "cost.md").write_text("## Measured cost\\n\\n![the cost](cost.svg)\\n")
'''


def site_config(**blogtools) -> dict:
    """This repository's mkdocs.yml with ``extra.blogtools`` replaced by ``blogtools`` (none: no extra)."""
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    config.pop("extra", None)
    if blogtools:
        config["extra"] = {"blogtools": blogtools}
    return config


def write_site(root: Path, config: dict, content: str = "content") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "mkdocs.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.copytree(DATA / "extract", root / content)
    return root


def test_a_site_without_settings_gets_the_defaults(tmp_path, monkeypatch):
    root = write_site(tmp_path / "site", site_config())
    monkeypatch.chdir(root / "content" / "posts")  # the nearest mkdocs.yml upward
    site = project.load()
    assert site.config_file == root / "mkdocs.yml" and site.root == root
    assert (site.content_dir, site.posts_dir, site.snippets_dir, site.feeds_toml) == (
        root / "content", root / "content/posts", root / "snippets", root / "feeds/feeds.toml")
    assert (site.docs_dir, site.site_dir, site.overrides_dir, site.figures_dir) == (
        root / "build/docs", root / "site", root / "build/overrides", root / "build/figures")
    assert site.excerpt_mark == "<!-- more -->"
    monkeypatch.chdir(root)
    assert project.load().content_dir == Path("content")  # relative where the site is the current folder


def test_the_repositorys_settings_are_the_defaults():
    written = yaml.load((REPO / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)["extra"]["blogtools"]
    defaults = project.Settings()
    assert written == {"content": defaults.content, "snippets": defaults.snippets, "feeds": defaults.feeds,
                       "build": defaults.build, "figures": f"{defaults.build}/figures"}


@pytest.mark.slow
def test_every_command_works_on_the_configured_folders_from_anywhere(tmp_path, monkeypatch):
    """Settings move content, snippets, figures and the excerpt mark; `-f` names the site from
    another folder; `blogtools run` hands the figure script its folder, and render finds it there."""
    # budgets ample, so a loaded machine still triages every block (budgets: test_triage_budget.py)
    config = site_config(content="essays", snippets="code", figures="measured", triage_build_seconds=3600,
                         triage_post_seconds=3600)
    config["plugins"][1]["blog"]["post_excerpt_separator"] = "<!-- cut -->"
    root = write_site(tmp_path / "site", config, content="essays")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config_file = str(root / "mkdocs.yml")

    assert invoke("-f", config_file, "extract").exit_code == 0
    assert sorted(p.name for p in (root / "code" / POST).iterdir()) == [
        "01-absurd-register-task.ts", "02-npx-mcporter-call-linear.sh", "03-step-1.txt"]
    (root / "code" / POST / "cost.py").write_text(FIGURE_MODULE)
    doc = tomlkit.parse((root / "code/manifest.toml").read_text())
    doc[f"{POST}/cost"] = {"post": POST, "status": "runnable", "modules": ["cost.py"],
                           "tests": ["tests/test_cost.py::test_cost"], "reason": "", "notes": []}
    (root / "code/manifest.toml").write_text(tomlkit.dumps(doc))
    result = invoke("-f", config_file, "run", f"{POST}/cost")
    assert result.exit_code == 0, result.output
    assert (root / "measured" / POST / "cost.md").is_file() and "BLOGTOOLS_FIGURES_DIR" not in os.environ

    result = invoke("-f", config_file, "build", "--offline")
    assert result.exit_code == 0, result.output
    page = (root / "build/docs/posts" / f"{POST}.md").read_text()
    assert "<!-- cut -->" in page and "<!-- more -->" not in page  # Material's post_excerpt: required checks it
    assert "## Measured cost" in page and "(../figures/2025-11-03-durable/cost.svg)" in page
    assert (root / "site/figures" / POST / "cost.svg").is_file()
    assert not (elsewhere / "snippets").exists() and not (root / "content").exists()
    assert not (root / "build/figures").exists()
    # build triaged the three uncurated blocks; their verdicts sit beside the evidence in the configured folder
    assert invoke("-f", config_file, "snippets").stdout.splitlines()[-1] == "4 entries: 1 runnable, 0 illustrative, 3 triaged"
    assert len(json.loads((root / "code/results.json").read_text())) == 3


def test_content_and_snippets_options_override_the_settings(tmp_path, monkeypatch):
    root = write_site(tmp_path / "site", site_config())
    shutil.copytree(DATA / "extract", root / "other")
    monkeypatch.chdir(root)
    assert invoke("extract", "--content-dir", "other", "--snippets-dir", "elsewhere").exit_code == 0
    assert (root / "elsewhere/manifest.toml").is_file() and not (root / "snippets").exists()


@pytest.mark.parametrize("settings, reason", [
    ("extra:\n  blogtools:\n    contents: essays\n", "extra.blogtools.contents: unknown setting (known: content, "),
    ("extra:\n  blogtools:\n    content: [a, b]\n", "extra.blogtools.content must be a non-empty string (a path)"),
    ("extra:\n  blogtools: essays\n", "extra.blogtools must be a mapping of settings"),
    ("site_url: [unclosed\n", "cannot read: "),
])
def test_bad_settings_are_one_error_line(tmp_path, monkeypatch, settings, reason):
    (tmp_path / "mkdocs.yml").write_text("site_name: x\nsite_url: https://example.org/\n" + settings)
    shutil.copytree(DATA / "extract", tmp_path / "content")
    monkeypatch.chdir(tmp_path)
    result = invoke("extract")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("blogtools: error: mkdocs.yml: ") and reason in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "snippets").exists()


def test_build_without_a_mkdocs_yml_says_so(tmp_path, monkeypatch):
    shutil.copytree(DATA / "extract", tmp_path / "content")
    monkeypatch.chdir(tmp_path)
    result = invoke("build", "--offline")
    assert result.exit_code == 1
    assert result.stderr == (f"blogtools: error: no mkdocs.yml in {tmp_path} or above: pass -f FILE, "
                             "or start a site with `blogtools new`\n")
    assert invoke("extract").exit_code == 0  # the other stages work from the default folders
    assert (tmp_path / "snippets/manifest.toml").is_file()


def test_ingest_reads_the_configured_feeds_and_labels_them_from_the_site(tmp_path, monkeypatch):
    root = tmp_path / "site"
    root.mkdir()
    (root / "mkdocs.yml").write_text(yaml.safe_dump(site_config(feeds="config/feeds/list.toml")))
    feeds = root / "config/feeds"
    feeds.mkdir(parents=True)
    shutil.copy(DATA / "lucumr-2025-12-13.atom", feeds / "lucumr.atom")
    (feeds / "list.toml").write_text('[[source]]\nlocation = "lucumr.atom"\nauthor = "Armin Ronacher"\n')
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = invoke("-f", str(root / "mkdocs.yml"), "ingest")
    assert (result.exit_code, result.stdout) == (0, "10 added, 0 updated, 0 unchanged\n")
    page = (root / "content/posts/2025-12-13-skills-vs-mcp.md").read_text()
    assert "\nsource: \"config/feeds/lucumr.atom\"\n" in page
