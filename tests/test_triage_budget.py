"""Triage budgets: a hostile feed whose blocks all wait for the sandbox's wall limit cannot make a
build last longer than its budget (+10%); the blocks it left say so on their pages, in `snippets
--json` and `check`, and later builds triage them, oldest post first, without running again what
was done. Settings under `extra: blogtools:` are typed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from blogtools.errors import BlogtoolsError
from blogtools.project import Settings
from blogtools.project import load as load_project
from blogtools.sandbox import unavailable_reason
from blogtools.verdicts import python_spares
from budgets import mkdocs_yml
from site_html import badges_of

BUDGET, POST_BUDGET = 20, 15
WAITS = "await new Promise((resolve) => setTimeout(resolve, 3_600_000));  // {n}\n"
POSTS = ("2025-01-01-first", "2025-02-01-second")
ORDER = [f"{post}/0{n}" for post in POSTS for n in (1, 2)]  # the waiting blocks, oldest post first
CONSOLE = [f"{post}/03" for post in POSTS]  # a console session: its verdict needs no run
LINE = re.compile(r"triage: (\d+) triaged, (\d+) current, (\d+) skipped \(curated\)"
                  r"(?:, (\d+) left for a later build \(budget spent\))? in (\d+\.\d) s$", re.M)
BUILD_LEFT = "◌ Not triaged yet: the build's triage budget was spent"
POST_LEFT = "◌ Not triaged yet: the post's triage budget was spent"


def blogtools(*args: str, cwd: Path, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "blogtools", *args], cwd=cwd, capture_output=True, text=True)
    assert (done.returncode == 0) == ok, f"blogtools {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def page(post: str) -> str:
    day = post[:10]
    blocks = "\n".join(f"```javascript\n{WAITS.format(n=n)}```\n" for n in (1, 2)) + "\n```console\n$ ls\n```\n"
    return f'---\nformat: 2\ntitle: "{post}"\ndate: {day}T00:00:00+00:00\nslug: "{post[11:]}"\n---\nWaits.\n\n{blocks}'


def counts(text: str) -> tuple[int, int, int, int, float]:
    found = LINE.search(text)
    assert found, text
    triaged, current, curated, left, seconds = found.groups()
    return int(triaged), int(current), int(curated), int(left or 0), float(seconds)


def listed(root: Path) -> dict[str, dict]:
    return {item["id"]: item for item in json.loads(blogtools("snippets", "--json", cwd=root).stdout)}


@pytest.mark.slow
@pytest.mark.skipif(unavailable_reason() is not None, reason=f"the sandbox cannot run here: {unavailable_reason()}")
def test_a_hostile_feed_builds_within_budget_and_later_builds_triage_what_was_left(tmp_path):
    root = tmp_path / "site"
    (root / "content/posts").mkdir(parents=True)
    (root / "mkdocs.yml").write_text(mkdocs_yml(build=BUDGET, post=POST_BUDGET))
    for post in POSTS:
        (root / f"content/posts/{post}.md").write_text(page(post))

    built = blogtools("build", "--offline", cwd=root)  # exit 0 whatever the budget left
    given, current, _, left, seconds = counts(built.stderr)
    assert seconds <= 1.1 * BUDGET, built.stderr
    triaged = given - len(CONSOLE)  # the console sessions are judged without a run, budget or not
    assert (triaged + left, current) == (4, 0)
    items = listed(root)
    assert [items[ident]["triage"]["verdict"] for ident in CONSOLE] == ["illustrative"] * 2
    done = [ident for ident in ORDER if items[ident]["triage"]]
    assert done == ORDER[:triaged]  # oldest first
    assert [items[ident].get("not_triaged") for ident in ORDER[triaged:]] == ["not-triaged-budget"] * left
    shown = [words for post in POSTS for _, words in badges_of(
        (root / f"site/{post[:4]}/{post[5:7]}/{post[8:10]}/{post[11:]}/index.html").read_text())]
    # the first post stopped at its own budget, the second at the build's
    assert shown.count(POST_LEFT) == sum(ident.startswith(POSTS[0]) for ident in ORDER[triaged:])
    assert shown.count(BUILD_LEFT) == sum(ident.startswith(POSTS[1]) for ident in ORDER[triaged:])
    report = json.loads(blogtools("check", "--json", cwd=root).stdout)
    assert report["not_triaged"] == dict.fromkeys(ORDER[triaged:], "not-triaged-budget")

    again = blogtools("triage", cwd=root)  # blocks left only for the budget: exit 0, and says how many
    more, current, _, left_now, seconds = counts(again.stdout)
    assert seconds <= 1.1 * BUDGET and current == given and more + left_now == left
    items = listed(root)
    assert [ident for ident in ORDER if items[ident]["triage"]] == ORDER[:triaged + more]

    (root / "mkdocs.yml").write_text(mkdocs_yml())  # a budget ample enough: the rest is triaged now
    last = blogtools("build", "--offline", cwd=root)
    assert counts(last.stderr)[:4] == (left_now, given + more, 0, 0)
    items = listed(root)
    assert {items[ident]["triage"]["verdict"] for ident in ORDER} == {"needs-context"}
    assert all(items[ident]["triage"]["needs"][0]["kind"] == "time" for ident in ORDER)
    assert json.loads(blogtools("check", "--json", cwd=root).stdout)["not_triaged"] == {}


@pytest.mark.parametrize(("settings", "error"), [
    ("triage_build_seconds: soon", "extra.blogtools.triage_build_seconds must be a finite number above 0 (got 'soon')"),
    ("triage_post_seconds: 0", "extra.blogtools.triage_post_seconds must be a finite number above 0 (got 0)"),
    ("triage_post_seconds: .inf", "extra.blogtools.triage_post_seconds must be a finite number above 0 (got inf)"),
    ("triage_memory_mb: 4096.5", "extra.blogtools.triage_memory_mb must be a whole number above 0 (got 4096.5)"),
    ("triage_memory_mb: yes", "extra.blogtools.triage_memory_mb must be a whole number above 0 (got True)"),
    ("content: 5", "extra.blogtools.content must be a non-empty string (a path)"),
])
def test_a_bad_setting_is_one_error_line_naming_the_key(tmp_path, settings, error):
    (tmp_path / "mkdocs.yml").write_text(f"site_name: x\nsite_url: http://x/\nextra:\n  blogtools:\n    {settings}\n")
    with pytest.raises(BlogtoolsError) as raised:
        load_project(start=tmp_path)
    assert str(raised.value) == f"{tmp_path / 'mkdocs.yml'}: {error}"
    done = blogtools("triage", cwd=tmp_path, ok=False)
    assert done.stderr == f"blogtools: error: mkdocs.yml: {error}\n"


def test_budgets_are_read_typed_and_the_memory_bound_sets_the_processes_at_once(tmp_path):
    (tmp_path / "mkdocs.yml").write_text("site_name: x\nextra:\n  blogtools:\n    triage_build_seconds: 90\n"
                                         "    triage_post_seconds: 12.5\n    triage_memory_mb: 8192\n")
    settings = load_project(start=tmp_path).settings
    assert (settings.triage_build_seconds, settings.triage_post_seconds, settings.triage_memory_mb) == (90, 12.5, 8192)
    defaults = Settings()
    assert defaults.triage_build_seconds <= 300 and defaults.triage_post_seconds <= defaults.triage_build_seconds
    # each process is bounded at 512 + 896 MB; a post holds up to three besides the spares
    assert (python_spares(6144), python_spares(8192), python_spares(16384)) == (1, 2, 8)
    with pytest.raises(BlogtoolsError, match=r"^extra.blogtools.triage_memory_mb: 4096 MB is less than the 5632 MB "):
        python_spares(4096)
