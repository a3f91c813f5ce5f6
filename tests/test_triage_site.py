"""Triage on a site: `blogtools triage`, `build`, `snippets --json` and `check` with the real engine
and the real sandbox, verdicts stored in snippets/results.json, and a site without the sandbox."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from blogtools import evidence, triage
from blogtools.project import load as load_project
from blogtools.sandbox import unavailable_reason
from budgets import mkdocs_yml
from site_html import badges_of

POST = "2025-01-01-numbers"
PAGE = """---
format: 2
title: "Numbers"
date: 2025-01-01T00:00:00+00:00
slug: "numbers"
---
Five blocks a reader might copy, and one the author has already decided.

```python
total = sum(range(10))
print("total", total)
```

```python
print("twice", total * 2)
```

```python
import numpy
print(numpy.arange(3))
```

```go
package main

func main() {}
```

```console
$ ls -l
total 0
```

```text
an author's note, curated
```
"""
CURATED = f"{POST}/06"
SUMMARY = re.compile(r"^triage: (\d+) triaged, (\d+) current, (\d+) skipped \(curated\) in \d+\.\d s$")

pytestmark = [pytest.mark.slow,  # each test starts sandboxes of its own
              pytest.mark.skipif(unavailable_reason() is not None, reason=f"the sandbox cannot run here: {unavailable_reason()}")]


def blogtools(*args: str, cwd: Path, env: dict | None = None, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "blogtools", *args], cwd=cwd, capture_output=True, text=True, env=env)
    assert (done.returncode == 0) == ok, f"blogtools {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def summary(done: subprocess.CompletedProcess) -> tuple[int, int, int]:
    match = SUMMARY.match(done.stdout.strip().splitlines()[-1])
    assert match, done.stdout
    return tuple(int(group) for group in match.groups())


def make_site(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "mkdocs.yml").write_text(mkdocs_yml())  # budgets ample: a loaded machine still reaches every block
    (root / "content/posts").mkdir(parents=True)
    (root / f"content/posts/{POST}.md").write_text(PAGE)
    blogtools("extract", cwd=root)
    manifest = (root / "snippets/manifest.toml").read_text()
    table = f'["{CURATED}"]'
    head, _, rest = manifest.partition(table)
    (root / "snippets/manifest.toml").write_text(head + table + rest.replace('reason = ""', 'reason = "a note to readers"', 1))
    return root


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A site of one post, triaged once with `blogtools triage`."""
    root = make_site(tmp_path_factory.mktemp("triage") / "site")
    done = blogtools("triage", cwd=root)
    return root, done


def listed(root: Path) -> dict[str, dict]:
    return {item["id"]: item for item in json.loads(blogtools("snippets", "--json", cwd=root).stdout)}


def stored_since(root: Path) -> str:
    """The one ``since`` date of the site's verdicts (all given on the same day)."""
    (since,) = {item["since"] for item in json.loads((root / "snippets/results.json").read_text()).values()}
    return since


def test_triage_gives_each_uncurated_block_a_verdict_and_skips_the_curated_one(site):
    root, done = site
    assert summary(done) == (5, 0, 1)
    assert f"triage: {POST}: running 6 block(s) in the sandbox ..." in done.stderr
    items = listed(root)
    verdicts = {ident: (item["triage"] or {}).get("verdict") for ident, item in items.items()}
    assert verdicts == {f"{POST}/01": "runs", f"{POST}/02": "runs", f"{POST}/03": "needs-context",
                        f"{POST}/04": "needs-context", f"{POST}/05": "illustrative", CURATED: None}
    assert items[f"{POST}/01"]["triage"]["output"] == "total 45\n"
    assert (items[f"{POST}/01"]["triage"]["state"], items[f"{POST}/01"]["triage"]["label"]) == (
        "triaged-runs", f"Runs: prints 1 line · since {stored_since(root)}")
    assert (items[f"{POST}/02"]["triage"]["after"], items[f"{POST}/02"]["triage"]["output"]) == (1, "twice 90\n")
    assert items[f"{POST}/03"]["triage"]["needs"] == [{"kind": "module", "what": "numpy"}]
    assert items[f"{POST}/04"]["triage"]["needs"] == [{"kind": "language", "what": "Go"}]
    assert [item["status"] for item in items.values()] == ["", "", "", "", "", "illustrative"]
    stored = json.loads((root / "snippets/results.json").read_text())
    assert sorted(stored) == [f"{POST}/0{n}" for n in range(1, 6)]  # beside the evidence, never for the curated one
    assert stored[f"{POST}/03"]["triage"].items() <= items[f"{POST}/03"]["triage"].items()


def test_an_unchanged_site_is_not_triaged_again_and_its_file_stays_byte_identical(site):
    root, _ = site
    before = (root / "snippets/results.json").read_bytes()
    done = blogtools("triage", cwd=root)
    assert summary(done) == (0, 5, 1) and "running" not in done.stderr
    assert (root / "snippets/results.json").read_bytes() == before
    named = blogtools("triage", f"{POST}/03", CURATED, cwd=root)
    assert summary(named) == (0, 1, 1)
    unknown = blogtools("triage", f"{POST}/99", cwd=root, ok=False)
    assert unknown.stderr.strip() == f"blogtools: error: {POST}/99: no such block in the manifest (`blogtools snippets` lists them)"


def test_build_check_and_require_verified_on_a_triaged_site(site):
    root, _ = site
    built = blogtools("build", "--offline", "--require-verified", cwd=root)
    assert "triage: 0 triaged, 5 current, 1 skipped (curated)" in built.stderr
    page = (root / "site/2025/01/01/numbers/index.html").read_text()
    since = f" · since {stored_since(root)}"
    assert badges_of(page) == [
        ("triaged-runs", "▶ Runs: prints 1 line" + since),
        ("triaged-runs", "▶ Runs after block 1: prints 1 line" + since),
        ("triaged-needs-context", "⋯ Needs numpy" + since),
        ("triaged-needs-context", "⋯ Needs a Go toolchain" + since),
        ("triaged-illustrative", "¶ Illustrative (by triage): console session" + since),
        ("illustrative", "¶ Illustrative: a note to readers"),
    ]
    outputs = re.findall(r'<details class="bt-badge [^"]*">\s*<summary>[^<]*</summary>\s*<p>Output of the run in the sandbox:</p>(.*?)</details>',
                         page, re.S)
    assert [re.sub(r"<[^>]+>", "", output).strip() for output in outputs] == ["total 45", "twice 90"]
    checked = blogtools("check", cwd=root)
    assert checked.stdout.splitlines()[-1] == (
        "check: 6 blocks: 1 curated (0 runnable, 1 illustrative), 5 triaged (1 illustrative, 2 needs-context, 2 runs), "
        "0 problems")
    report = json.loads(blogtools("check", "--json", cwd=root).stdout)
    assert (report["curated"], report["triaged"], report["untriaged"]) == (
        1, {"illustrative": 1, "needs-context": 2, "runs": 2}, 0)


def test_a_changed_block_is_triaged_again_with_the_blocks_after_it(site, tmp_path):
    root = tmp_path / "site"
    shutil.copytree(site[0], root)
    page = root / f"content/posts/{POST}.md"
    page.write_text(page.read_text().replace("package main\n\nfunc main() {}\n", 'print("now Python")\n')
                    .replace("```go", "```python"))
    blogtools("extract", cwd=root)
    before = json.loads((root / "snippets/results.json").read_text())
    done = blogtools("triage", cwd=root)
    assert summary(done) == (3, 2, 1)  # block 4 changed; block 3's output is compared with it, block 5 may use it
    after = json.loads((root / "snippets/results.json").read_text())
    assert after[f"{POST}/04"]["triage"]["output"] == "now Python\n"
    assert all(after[f"{POST}/0{n}"] == before[f"{POST}/0{n}"] for n in (1, 2))  # block 3's next block changed
    assert after[f"{POST}/03"]["triage"] == before[f"{POST}/03"]["triage"]


def test_since_changes_only_when_the_verdict_does(site, tmp_path):
    root = tmp_path / "site"
    shutil.copytree(site[0], root)
    results = root / "snippets/results.json"
    stored = json.loads(results.read_text())
    for item in stored.values():
        item["since"] = "2020-01-01"
    results.write_text(json.dumps(stored))
    page = root / f"content/posts/{POST}.md"
    page.write_text(page.read_text().replace('print("total", total)', 'print("sum", total)')
                    .replace("import numpy\nprint(numpy.arange(3))", "import json\nprint(json.dumps([1]))"))
    blogtools("extract", cwd=root)
    blogtools("triage", cwd=root)
    after = json.loads(results.read_text())
    assert after[f"{POST}/01"]["triage"]["output"] == "sum 45\n"
    assert after[f"{POST}/01"]["since"] == "2020-01-01"  # the text changed, the verdict (runs) did not
    assert after[f"{POST}/03"]["triage"]["verdict"] == "runs" and after[f"{POST}/03"]["since"] != "2020-01-01"


def test_run_on_an_uncurated_block_says_what_the_page_says(site):
    root, _ = site
    done = blogtools("run", f"{POST}/04", cwd=root, ok=False)
    assert done.stderr.strip() == (f"blogtools: error: {POST}/04: not curated, so there is no runnable form to run; "
                                   f"the page says: Needs a Go toolchain · since {stored_since(root)} "
                                   "(make it runnable in manifest.toml to run it here)")


def test_curating_a_block_drops_its_verdict_and_triage_leaves_it_alone(site, tmp_path):
    root = tmp_path / "site"
    shutil.copytree(site[0], root)
    manifest = root / "snippets/manifest.toml"
    head, table, rest = manifest.read_text().partition(f'["{POST}/03"]')
    manifest.write_text(head + table + rest.replace('reason = ""', 'reason = "needs numpy; shown for its API"', 1))
    done = blogtools("triage", cwd=root)
    assert summary(done) == (0, 4, 2)
    assert f"{POST}/03" not in json.loads((root / "snippets/results.json").read_text())
    assert listed(root)[f"{POST}/03"]["triage"] is None


def test_a_verdict_for_other_text_or_another_runtime_is_not_shown(site):
    """Never a status nothing measured: a stored verdict whose fingerprint is not current counts for nothing."""
    root, _ = site
    project = load_project(start=root)
    results = evidence.load(project)
    entries = evidence.manifest.read(project.snippets_dir)
    assert set(evidence.current_verdicts(results, entries)) == {f"{POST}/0{n}" for n in range(1, 6)}
    now = evidence.triage_fingerprints(entries, triage.runtime_version())
    other = evidence.triage_fingerprints(entries, triage.runtime_version() + "-next")
    assert all(now[ident] != other[ident] for ident in now)


# --- without the sandbox ---------------------------------------------------------------------------


def without_the_sandbox(tmp_path: Path) -> dict:
    """An environment whose Python cannot import the sandbox extra's deno package, as without `[sandbox]`."""
    shim = tmp_path / "no-sandbox-extra"
    (shim / "deno").mkdir(parents=True)
    (shim / "deno/__init__.py").write_text('raise ImportError("the sandbox extra is not installed")\n')
    return dict(os.environ, PYTHONPATH=str(shim))


def test_without_the_sandbox_blocks_say_why_check_warns_once_and_the_build_succeeds(tmp_path):
    root = make_site(tmp_path / "site")
    env = without_the_sandbox(tmp_path)
    reason = "sandbox not available (deno not installed (pip install 'blogtools[sandbox]'))"
    built = blogtools("build", "--offline", cwd=root, env=env)
    assert f"blogtools: warning: 5 blocks not triaged: {reason}" in built.stderr.splitlines()
    assert "triage: 0 triaged, 0 current, 1 skipped (curated), 5 not triaged in" in built.stderr
    page = (root / "site/2025/01/01/numbers/index.html").read_text()
    assert badges_of(page).count(("not-triaged", f"◌ Not triaged: {reason}")) == 5
    assert "Ran without error" not in page and "Needs" not in page
    checked = blogtools("check", cwd=root, env=env)
    assert [line for line in checked.stderr.splitlines() if "warning" in line] == [
        f"blogtools: warning: 5 blocks not triaged: {reason}"]
    assert checked.stdout.splitlines()[-1] == (
        "check: 6 blocks: 1 curated (0 runnable, 1 illustrative), 0 triaged, 5 not yet triaged, 0 problems")
    triaged = blogtools("triage", cwd=root, env=env, ok=False)
    assert triaged.returncode == 1 and "5 not triaged" in triaged.stdout
    assert not (root / "snippets/results.json").exists() or "triage" not in (root / "snippets/results.json").read_text()
