"""Evidence: the recorded result of each runnable entry's last run, and everything that reads it.

A small site of its own (one post, one Python block, its module and two tests) in a temp folder:
pytest runs there record snippets/results.json, `blogtools test` re-runs only what changed, and
the page, the examples page and `build --require-verified` say what was recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from blogtools import badges, evidence, manifest, project
from blogtools.extract import extract
from browser import CHROMIUM_ARGS, serving
from clirun import invoke

REPO = Path(__file__).resolve().parent.parent
POST = "2025-01-02-demo"
ID = f"{POST}/01"
PAGE = "---\ntitle: Demo\ndate: 2025-01-02\n---\n\nSome prose.\n\n```python\nprint(half(4))\n```\n\nMore prose.\n"
MODULE = "def half(n):\n    return n / 2\n\n\ndef main():\n    print(half(4))\n"
TESTS = """\
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "snippets" / "2025-01-02-demo"))
import demo


def test_half():
    assert demo.half(4) == 2


def test_half_of_the_data():
    value = int((Path(__file__).parent / "data.txt").read_text())
    assert demo.half(value) == value / 2
"""


def today() -> str:
    """The UTC date a record made now carries as its ``since``."""
    return datetime.now(timezone.utc).date().isoformat()


@pytest.fixture
def demo(tmp_path):
    """A site with one runnable block: its module, two tests (one reads tests/data.txt), mkdocs.yml."""
    root = tmp_path / "site"
    (root / "content/posts").mkdir(parents=True)
    (root / f"content/posts/{POST}.md").write_text(PAGE)
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    (root / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    extract(root / "content/posts", root / "snippets")
    (root / f"snippets/{POST}/demo.py").write_text(MODULE)
    (root / "tests").mkdir()
    (root / "tests/test_demo.py").write_text(TESTS)
    (root / "tests/data.txt").write_text("10\n")
    set_entry(root, tests=["tests/test_demo.py::test_half", "tests/test_demo.py::test_half_of_the_data"])
    return root


def set_entry(root: Path, **fields) -> None:
    doc = manifest.load(root / "snippets/manifest.toml")
    doc[ID].update(status="runnable", modules=["demo.py"], **fields)
    manifest.save(doc, root / "snippets/manifest.toml")


def pytest_in(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=root, capture_output=True, text=True)


def results(root: Path) -> dict:
    return json.loads((root / "snippets/results.json").read_text())


def label_of(root: Path, ident: str) -> str:
    """The page's label for an entry's evidence now."""
    return evidence.states(project.load(start=root))[ident].label


@pytest.mark.slow
def test_a_pytest_run_records_what_it_read_and_a_second_leaves_the_file_byte_identical(demo):
    assert pytest_in(demo).returncode == 0
    record = results(demo)[ID]
    assert record["outcome"] == "passed" and record["since"] == today()
    assert set(record["tests"]) == {"tests/test_demo.py::test_half", "tests/test_demo.py::test_half_of_the_data"}
    assert {f"snippets/{POST}/demo.py", "tests/test_demo.py", "tests/data.txt"} <= set(record["inputs"])
    assert record["inputs"]["package-lock.json"] == "" and "requirements.lock" in record["inputs"]  # none here
    assert record["env"]["python"].startswith("3.")
    before = (demo / "snippets/results.json").read_bytes()
    times = json.loads((demo / ".cache/blogtools/evidence-times.json").read_text())
    assert times[ID]["seconds"] >= 0

    assert pytest_in(demo).returncode == 0
    assert (demo / "snippets/results.json").read_bytes() == before
    assert label_of(demo, ID) == f"✓ Verified since {today()} · 2 tests · Python 3.{sys.version_info.minor}"


def test_test_records_and_triage_verdicts_share_the_file_and_a_test_run_replaces_its_entrys_verdict(demo):
    """One file, one loader: a test run keeps every other block's triage verdict byte for byte, and
    its own entry's verdict (given before the author curated it) gives way to the recorded run."""
    other = {"fingerprint": "f" * 64, "triage": {"verdict": "needs-context", "reason": "ModuleNotFoundError",
                                                 "needs": [{"kind": "module", "what": "numpy"}], "output": "", "after": None}}
    mine = {"fingerprint": "0" * 64, "triage": {"verdict": "runs", "reason": "ran to completion", "needs": [],
                                                "output": "2.0\n", "after": None}}
    (demo / "snippets/results.json").write_text(json.dumps({"2025-01-03-other/01": other, ID: mine}))
    loaded = evidence.load(project.load(start=demo))
    assert (set(loaded.records), set(loaded.verdicts)) == (set(), {ID, "2025-01-03-other/01"})
    assert loaded.verdicts["2025-01-03-other/01"].verdict.needs[0].phrase() == "numpy"
    assert pytest_in(demo).returncode == 0
    stored = results(demo)
    assert stored["2025-01-03-other/01"] == other and stored[ID]["outcome"] == "passed" and "triage" not in stored[ID]
    (demo / "snippets/results.json").write_text(json.dumps({ID: {"fingerprint": "0", "triage": {"verdict": "fine", "reason": ""}}}))
    checked = invoke("check", cwd=demo)
    assert checked.exit_code == 1 and "not valid evidence (ValueError: unknown verdict 'fine')" in checked.stdout


@pytest.mark.slow
def test_a_parallel_run_records_the_same_bytes_as_a_serial_one(demo):
    assert pytest_in(demo).returncode == 0
    serial = (demo / "snippets/results.json").read_bytes()
    (demo / "snippets/results.json").unlink()
    assert pytest_in(demo, "-n", "2").returncode == 0  # the two tests on two workers, recorded once by the controller
    assert (demo / "snippets/results.json").read_bytes() == serial
    assert pytest_in(demo, "-n", "2").returncode == 0
    assert (demo / "snippets/results.json").read_bytes() == serial  # nothing changed: the same bytes


@pytest.mark.slow
def test_under_xdist_the_controller_alone_logs_each_test_once(demo, tmp_path):
    log = tmp_path / "log.jsonl"
    env = dict(os.environ, BLOGTOOLS_EVIDENCE_LOG=str(log))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2"],
                          cwd=demo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    tests = {"tests/test_demo.py::test_half", "tests/test_demo.py::test_half_of_the_data"}
    finished = [line["nodeid"] for line in lines if "nodeid" in line]
    assert sorted(finished) == sorted(tests)  # once each, though two workers ran them
    assert sorted(line["start"] for line in lines if "start" in line) == sorted(tests)
    assert set().union(*(line["collected"] for line in lines if "collected" in line)) == tests


def test_a_run_of_only_some_of_an_entrys_tests_records_nothing(demo):
    assert pytest_in(demo, "-k", "test_half_of").returncode == 0
    assert pytest_in(demo, "tests/test_demo.py::test_half").returncode == 0
    assert not (demo / "snippets/results.json").exists()
    assert label_of(demo, ID) == "◌ Not verified yet"


@pytest.mark.slow
def test_blogtools_test_runs_only_what_changed_and_names_the_changed_file(demo):
    first = invoke("test", cwd=demo)
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("test: 1 ran, 0 current, 0 failed in ")
    assert invoke("test", cwd=demo).stdout.startswith("test: 0 ran, 1 current, 0 failed in ")

    (demo / "tests/data.txt").write_text("12\n")
    assert label_of(demo, ID) == "⟳ Out of date: tests/data.txt changed since the last run"
    assert invoke("test", cwd=demo).stdout.startswith("test: 1 ran, 0 current, 0 failed")
    assert invoke("test", "--all", cwd=demo).stdout.startswith("test: 1 ran, 0 current, 0 failed")


@pytest.mark.slow
def test_a_broken_module_is_recorded_failing_and_the_build_refuses_to_publish_it(demo):
    assert invoke("test", cwd=demo).exit_code == 0
    (demo / f"snippets/{POST}/demo.py").write_text(MODULE.replace("n / 2", "n // 3"))
    done = invoke("test", cwd=demo)
    assert done.exit_code == 1
    assert done.stdout.splitlines()[0] == f"failed: {ID}: failed"
    assert results(demo)[ID]["tests"]["tests/test_demo.py::test_half"] == {
        "outcome": "failed", "error": "assert 1 == 2"}
    assert label_of(demo, ID) == f"⚠ Failing since {today()}: test_half: assert 1 == 2"

    refused = invoke("build", "--offline", "--require-verified", cwd=demo)
    assert refused.exit_code == 1
    assert refused.stderr.splitlines()[-1] == (
        f"blogtools: error: --require-verified: 1 runnable block(s) not verified: {ID}: "
        f"⚠ Failing since {today()}: test_half: assert 1 == 2 (run `blogtools test`)")
    assert not (demo / "site").exists()

    built = invoke("build", "--offline", cwd=demo)  # without the flag the page says so
    assert built.exit_code == 0, built.stderr
    page = (demo / "site/2025/01/02/demo/index.html").read_text()
    assert f"⚠ Failing since {today()}: test_half: assert 1 == 2" in page
    assert '<p class="blogtools-block-counts">1 code block · 1 failing</p>' in page


@pytest.mark.slow
def test_an_expected_error_is_a_verified_failure_and_a_pass_then_is_flagged(demo):
    (demo / f"snippets/{POST}/demo.py").write_text(MODULE.replace("n / 2", "n / 0"))
    set_entry(demo, expect_error="ZeroDivisionError")
    assert invoke("test", cwd=demo).exit_code == 0
    assert results(demo)[ID]["outcome"] == "expected-failure"
    assert label_of(demo, ID) == "✗ Fails as published, as expected: ZeroDivisionError: division by zero"
    assert invoke("build", "--offline", "--require-verified", cwd=demo).exit_code == 0

    (demo / f"snippets/{POST}/demo.py").write_text(MODULE)
    assert invoke("test", cwd=demo).exit_code == 1
    assert label_of(demo, ID) == f"⚠ Passes unexpectedly since {today()}: expected an error matching 'ZeroDivisionError'"


def test_plain_pytest_counts_a_foreseen_failure_as_xfailed_and_any_other_as_failed(demo):
    """`make test` stays green on code that fails as published, and only on the failure foreseen."""
    (demo / f"snippets/{POST}/demo.py").write_text(MODULE.replace("n / 2", "n / 0"))
    set_entry(demo, expect_error="ZeroDivisionError")
    done = pytest_in(demo, "-rx")
    assert done.returncode == 0, done.stdout
    assert "2 xfailed" in done.stdout and "fails as expected: ZeroDivisionError: division by zero" in done.stdout
    assert results(demo)[ID]["outcome"] == "expected-failure"
    assert results(demo)[ID]["tests"]["tests/test_demo.py::test_half"] == {
        "outcome": "failed", "error": "ZeroDivisionError: division by zero"}

    (demo / f"snippets/{POST}/demo.py").write_text(MODULE.replace("n / 2", "n.nope"))
    done = pytest_in(demo)
    assert done.returncode == 1 and "2 failed" in done.stdout
    assert results(demo)[ID]["outcome"] == "failed"


def test_a_skipped_run_says_why_and_only_strict_refuses_it(demo):
    (demo / "tests/test_demo.py").write_text(TESTS.replace("def test_half", "@__import__('pytest').mark.skip("
                                                           "reason='needs a GPU')\ndef test_half"))
    assert invoke("test", cwd=demo).exit_code == 0
    assert label_of(demo, ID) == "◌ Not run here: needs a GPU"
    strict = invoke("build", "--offline", "--require-verified=strict", cwd=demo)
    assert strict.exit_code == 1 and f"{ID}: ◌ Not run here: needs a GPU" in strict.stderr


@pytest.mark.slow
def test_a_hanging_test_is_failed_at_the_time_limit_and_earlier_records_stay(demo):
    assert invoke("test", cwd=demo).exit_code == 0
    kept = results(demo)[ID]
    (demo / "tests/test_demo.py").write_text(TESTS + "\n\ndef test_hangs():\n    import time\n    time.sleep(600)\n")
    set_entry(demo, tests=["tests/test_demo.py::test_half", "tests/test_demo.py::test_hangs"])
    done = invoke("test", "--time-limit", "8", cwd=demo)
    assert done.exit_code == 1
    record = results(demo)[ID]
    assert record["tests"]["tests/test_demo.py::test_hangs"] == {
        "outcome": "failed", "error": "did not finish within the time limit of 8 s"}
    assert record["tests"]["tests/test_demo.py::test_half"]["outcome"] == "passed"
    assert record["fingerprint"] != kept["fingerprint"]


@pytest.mark.slow
def test_entries_share_one_session_and_one_past_its_limit_leaves_the_others_recorded(demo):
    """Two entries, one pytest session on two xdist workers: the first hangs past the limit, is cut
    off and recorded as failed; the second, not reached when the session was killed (its tests share
    the module, so the worker), runs in the next and passes."""
    (demo / "tests/test_demo.py").write_text(TESTS + "\n\ndef test_hangs():\n    import time\n    time.sleep(600)\n")
    set_entry(demo, tests=["tests/test_demo.py::test_hangs"])
    doc = manifest.load(demo / "snippets/manifest.toml")
    doc[f"{POST}/halves"] = {"post": POST, "status": "runnable", "modules": ["demo.py"], "reason": "", "notes": [],
                             "tests": ["tests/test_demo.py::test_half", "tests/test_demo.py::test_half_of_the_data"]}
    manifest.save(doc, demo / "snippets/manifest.toml")
    done = invoke("test", "--time-limit", "8", "--workers", "2", cwd=demo)
    assert done.exit_code == 1
    assert "running the tests of 2 entries in one pytest session on 2 workers" in done.stderr
    stored = results(demo)
    assert stored[ID]["tests"]["tests/test_demo.py::test_hangs"] == {
        "outcome": "failed", "error": "did not finish within the time limit of 8 s"}
    assert stored[f"{POST}/halves"]["outcome"] == "passed"


@pytest.mark.slow
def test_a_hand_broken_results_file_is_one_error_line_and_blogtools_test_rebuilds_it(demo):
    (demo / "snippets/results.json").write_text('{"x": ')
    done = invoke("build", "--offline", cwd=demo)
    assert done.exit_code == 1
    assert done.stderr.splitlines()[-1].startswith(
        "blogtools: error: snippets/results.json: not valid evidence (JSONDecodeError: ")
    checked = invoke("check", cwd=demo)
    assert checked.exit_code == 1
    assert checked.stdout.splitlines()[0].startswith("problem: snippets/results.json: not valid evidence (")
    rebuilt = invoke("test", cwd=demo)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "snippets/results.json: not valid evidence" in rebuilt.stderr
    assert results(demo)[ID]["outcome"] == "passed"
    checked = invoke("check", cwd=demo)
    assert checked.exit_code == 0 and "check: evidence: 1 runnable example · 1 verified" in checked.stderr


@pytest.mark.slow
@pytest.mark.browser
def test_chromium_shows_the_examples_page_the_index_counts_and_the_folded_details(demo):
    from playwright.sync_api import sync_playwright

    assert invoke("test", cwd=demo).exit_code == 0
    built = invoke("build", "--offline", "--require-verified", cwd=demo)
    assert built.exit_code == 0, built.stderr
    errors = []
    with serving(demo / "site") as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url, wait_until="networkidle")
        assert page.locator(".blogtools-block-counts").inner_text() == "1 code block · 1 verified"

        page.goto(url + "examples/", wait_until="networkidle")
        assert page.locator("article .blogtools-block-counts").inner_text() == "1 example · 1 verified"
        rows = page.locator("article .bt-rows > li")
        assert rows.count() == 1
        row = rows.first
        assert [row.locator(f".bt-{part}").inner_text() for part in ("block", "language", "label")] == [
            "Block 01", "Python", "✓ Verified · 2 tests"]
        more = row.locator(".bt-more").inner_text().split(" · ")
        assert more[0] == "2 passed" and more[2] == f"since {today()}"
        assert more[1].endswith(" s") and float(more[1][:-2]) >= 0

        row.locator(".bt-block").click()
        page.wait_for_load_state("networkidle")
        assert page.url == url + "2025/01/02/demo/#code-01"
        folded = page.locator(".md-content details.bt-badge")
        assert folded.locator("summary").inner_text() == "✓ Verified · 2 tests"
        assert not folded.locator("li").first.is_visible()
        folded.locator("summary").click()
        assert folded.locator("li").all_inner_texts() == ["✓ test_half", "✓ test_half_of_the_data"]
        assert "Python 3." in folded.inner_text()
        browser.close()
    assert errors == []


@pytest.mark.slow
def test_a_copy_of_this_project_with_one_module_broken_says_failing_and_refuses_to_build(tmp_path):
    """The real site: the Absurd spawn block verified in a copy (as published and its Python port),
    then the port broken (three attempts become two); the page says failing and `build --require-verified` names the block."""
    root = tmp_path / "copy"
    root.mkdir()
    for name in ("content", "snippets", "tests", "feeds"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", evidence.NAME))
    for name in ("mkdocs.yml", "pyproject.toml", "package.json", *evidence.LOCK_FILES):
        if (REPO / name).is_file():
            shutil.copy(REPO / name, root / name)
    (root / "node_modules").symlink_to(REPO / "node_modules")  # the block itself runs too, on the pinned npm packages
    spawn = "2025-11-03-absurd-workflows/02"
    assert invoke("test", spawn, cwd=root).exit_code == 0
    assert invoke("build", "--offline", cwd=root).exit_code == 0
    page = root / "site/2025/11/03/absurd-workflows/index.html"
    node = evidence.environment({})["node"]
    assert (f"✓ Runs as published, with 9 lines around it · since {today()} · 5 tests · Node {node} · "
            f"@ai-sdk/anthropic 2.0.40 · absurd-sdk 0.0.3 · ai 5.0.86 · "
            f"Python port: Python 3.{sys.version_info.minor}, absurd-sdk 0.5.1") in page.read_text()

    module = root / "snippets/2025-11-03-absurd-workflows/spawn_agent.py"
    module.write_text(module.read_text().replace("max_attempts=3", "max_attempts=2"))
    assert label_of(root, spawn) == "⟳ Out of date: snippets/2025-11-03-absurd-workflows/spawn_agent.py changed since the last run"
    assert invoke("test", spawn, cwd=root).exit_code == 1
    assert results(root)[spawn]["outcome"] == "failed"
    assert invoke("build", "--offline", cwd=root).exit_code == 0
    assert f"⚠ Failing since {today()}: test_spawn_records_the_task_with_three_attempts: " in page.read_text()
    refused = invoke("build", "--offline", "--require-verified", cwd=root)
    assert refused.exit_code == 1
    assert f"; {spawn}: ⚠ Failing since {today()}: test_spawn_records_the_task_with_three_attempts: " in refused.stderr


def test_every_evidence_state_has_one_row_of_words_icon_and_tone():
    """The one table: every state reads by its own icon and words (colour is never the only signal);
    an expected failure reads differently from an unexpected one, and nothing that failed or whose
    output differs is green. The states other helpers add (COORD names) have their rows too."""
    coming = ("triaged-defines", "triaged-matches", "triaged-differs", "not-triaged-budget", "not-triaged-self-check")
    for state in (*evidence.STATES, *coming):
        assert state in badges.BADGES, state
    rows = list(badges.BADGES.values())
    assert all(row.tone in badges.TONES and row.icon and row.words and row.counted for row in rows)
    assert len({(row.icon, row.words) for row in rows}) == len(rows)
    assert len({row.counted for row in rows}) == len(rows)
    assert badges.headline(evidence.EXPECTED_FAILURE) != badges.headline(evidence.FAILING)
    for state in (evidence.EXPECTED_FAILURE, evidence.FAILING, evidence.UNEXPECTED_PASS, "triaged-differs"):
        assert badges.badge(state).tone != "green", state
    assert badges.badge(evidence.VERIFIED).tone == "green" and badges.badge(evidence.FAILING).tone == "red"
    assert badges.badge("no-such-state").tone == "grey"  # an unknown state never reads as a success
    assert set(evidence.COUNT_WORDS) == set(badges.BADGES)


def test_the_docs_show_the_table_as_it_is():
    docs = (REPO / "docs/content/guides/badges.md").read_text(encoding="utf-8")
    assert badges.markdown_table() in docs
