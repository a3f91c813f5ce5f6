"""Extraction into snippets/, the manifest, `blogtools check`, `snippets` and `run`, on hand-made pages."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomlkit

from blogtools import check, manifest
from blogtools.errors import BlogtoolsError
from blogtools.project import load as load_project
from clirun import invoke

DATA = Path(__file__).parent / "data"
POST = "2025-11-03-durable"
PAGE = f"content/posts/{POST}.md"
TS_BLOCK = """absurd.registerTask({name: "my-agent"}, async (params, ctx) => {
  const result = await ctx.step("iteration", async () => singleStep());
});
"""
TRANSCRIPT = "=== step 1 ===\nStop reason: tool_use\n\nTotal steps: 1\n"
MODULE = '''"""Runnable form of the durable-task block."""
from pathlib import Path


def main():
    Path("ran.txt").write_text("main ran")
    return 3
'''
TEST_FILE = """from agent_loop import main


def test_agent_loop_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main() == 3
"""


cli = invoke


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A site folder with one hand-made post of three blocks, as the current directory."""
    shutil.copytree(DATA / "extract", tmp_path / "content")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load_manifest(root: Path):
    return tomlkit.parse((root / "snippets/manifest.toml").read_text())


def save_manifest(root: Path, doc) -> None:
    (root / "snippets/manifest.toml").write_text(tomlkit.dumps(doc))


def curate(root: Path, runnable: bool = False) -> None:
    """Give every entry a reason; with ``runnable``, back block 01 with a real module and test."""
    doc = load_manifest(root)
    for table in doc.values():
        table["reason"] = "needs a `Linear` account & a workspace"
    if runnable:
        (root / f"snippets/{POST}/agent_loop.py").write_text(MODULE)
        (root / "tests").mkdir()
        (root / "tests/conftest.py").write_text(f"import sys\nsys.path.insert(0, {str(root / 'snippets' / POST)!r})\n")
        (root / "tests/test_agent_loop.py").write_text(TEST_FILE)
        first = doc[f"{POST}/01"]
        first["status"] = "runnable"
        first["modules"] = ["agent_loop.py"]
        first["tests"] = ["tests/test_agent_loop.py::test_agent_loop_runs"]
        first["notes"] = ["Python instead of TypeScript", "`ctx.step` keeps its name"]
    save_manifest(root, doc)


def snapshot(root: Path) -> dict[str, int]:
    return {str(path): path.stat().st_mtime_ns for path in sorted((root / "snippets").rglob("*"))}


def test_every_block_is_written_verbatim_with_its_manifest_entry(project):
    result = cli("extract")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "extract: 3 blocks in 1 posts: 3 new, 0 drifted, 0 accepted, 0 orphaned; 4 files written"
    files = sorted(path.name for path in (project / "snippets" / POST).iterdir())
    assert files == ["01-absurd-register-task.ts", "02-npx-mcporter-call-linear.sh", "03-step-1.txt"]
    assert (project / f"snippets/{POST}/01-absurd-register-task.ts").read_text() == TS_BLOCK
    assert (project / f"snippets/{POST}/03-step-1.txt").read_text() == TRANSCRIPT
    doc = load_manifest(project)
    assert list(doc.keys()) == [f"{POST}/01", f"{POST}/02", f"{POST}/03"]
    first = doc[f"{POST}/01"].unwrap()
    assert first == {
        "post": POST, "ordinal": 1, "language": "typescript", "file": "01-absurd-register-task.ts",
        "sha256": hashlib.sha256(TS_BLOCK.encode()).hexdigest(), "lines": [9, 13],
        "status": "illustrative", "modules": [], "tests": [], "reason": "", "notes": [],
    }
    page = (project / PAGE).read_text().splitlines()
    assert page[8] == "```typescript" and page[12] == "```"
    assert doc[f"{POST}/03"]["lines"] == [22, 27] and page[21] == "    ```text"


def test_unchanged_content_writes_zero_files(project):
    cli("extract")
    past = 1_000_000_000_000_000_000
    for path in (project / "snippets").rglob("*"):
        os.utime(path, ns=(past, past))
    before = snapshot(project)
    result = cli("extract")
    assert result.stdout.splitlines()[-1].endswith("; 0 files written")
    assert snapshot(project) == before


def test_curated_fields_and_comments_survive_reextraction(project):
    cli("extract")
    doc = load_manifest(project)
    doc[f"{POST}/02"]["status"] = "runnable"
    doc[f"{POST}/02"]["modules"] = ["mcporter_call.py"]
    doc[f"{POST}/02"]["tests"] = ["tests/test_mcporter.py::test_call"]
    doc[f"{POST}/02"]["notes"] = ["calls the Python MCP SDK"]
    doc[f"{POST}/02"]["reason"] = ""
    doc[f"{POST}/02"].add(tomlkit.comment("reviewed by the author"))
    save_manifest(project, doc)
    curated = load_manifest(project)[f"{POST}/02"].unwrap()
    # the essay gains a paragraph above the blocks: line numbers move, texts do not
    page = project / PAGE
    page.write_text(page.read_text().replace("Some prose", "A new paragraph.\n\nSome prose"))
    assert cli("extract").exit_code == 0
    after = load_manifest(project)
    assert "# reviewed by the author" in (project / "snippets/manifest.toml").read_text()
    moved = after[f"{POST}/02"].unwrap()
    assert moved["lines"] == [19, 21] and curated["lines"] == [17, 19]
    assert {key: moved[key] for key in moved if key != "lines"} == {key: curated[key] for key in curated if key != "lines"}


def test_changed_block_keeps_its_file_name(project):
    cli("extract")
    page = project / PAGE
    page.write_text(page.read_text().replace('"my-agent"', '"other-agent"'))
    cli("extract")
    assert (project / f"snippets/{POST}/01-absurd-register-task.ts").read_text() == TS_BLOCK.replace("my-agent", "other-agent")
    assert len(list((project / "snippets" / POST).iterdir())) == 3


def test_a_curated_language_wins_over_the_feeds_markup_and_the_guess(project):
    """The author decided block 01 is TypeScript; a re-ingest that names it otherwise changes nothing."""
    cli("extract")
    curate(project, runnable=True)
    page = project / PAGE
    page.write_text(page.read_text().replace("```typescript\n", "```text\n", 1))
    cli("extract")
    entry = load_manifest(project)[f"{POST}/01"]
    assert (entry["language"], entry["file"]) == ("typescript", "01-absurd-register-task.ts")
    assert (project / f"snippets/{POST}/01-absurd-register-task.ts").read_text() == TS_BLOCK
    assert not list((project / "snippets" / POST).glob("01-*.txt"))
    # an uncurated block takes the language the page gives it
    doc = load_manifest(project)
    doc[f"{POST}/01"]["status"], doc[f"{POST}/01"]["reason"] = "illustrative", ""
    save_manifest(project, doc)
    cli("extract")
    assert load_manifest(project)[f"{POST}/01"]["language"] == "text"


def test_drift_keeps_the_reviewed_text_beside_the_new_until_accepted(project):
    cli("extract")
    curate(project)
    reviewed = load_manifest(project)[f"{POST}/01"]["sha256"]
    page = project / PAGE
    page.write_text(page.read_text().replace('"iteration"', '"step"'))
    result = cli("extract")
    assert f"drift: {POST}/01 changed since it was reviewed; see it with `blogtools review {POST}/01`" in result.stderr
    entry = load_manifest(project)[f"{POST}/01"]
    changed = TS_BLOCK.replace('"iteration"', '"step"')
    new = hashlib.sha256(changed.encode()).hexdigest()
    assert (entry["sha256"], entry["changed_sha256"]) == (reviewed, new)
    folder = project / "snippets" / POST
    assert (folder / "01-absurd-register-task.ts").read_text() == TS_BLOCK
    assert (folder / "01-absurd-register-task.ts.new").read_text() == changed

    result = cli("check")
    assert result.exit_code == 1
    assert f"problem: {POST}/01 ({PAGE}:9): drift: the text changed since it was reviewed" in result.stdout
    assert result.stdout.splitlines()[-1] == "check: 3 blocks: 3 curated (0 runnable, 3 illustrative), 0 triaged, 1 problems"

    result = cli("review", f"{POST}/01")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"--- {POST}/01 (reviewed: 01-absurd-register-task.ts)",
        f"+++ {POST}/01 (the essay now)",
        "@@ -1,3 +1,3 @@",
        ' absurd.registerTask({name: "my-agent"}, async (params, ctx) => {',
        '-  const result = await ctx.step("iteration", async () => singleStep());',
        '+  const result = await ctx.step("step", async () => singleStep());',
        " });",
        f"review: 1 drifted; accept with `blogtools extract --accept {POST}/01`",
    ]
    assert cli("review").stdout == result.stdout
    assert cli("review", f"{POST}/02").stdout == f"review: {POST}/02 has not drifted: its block is the reviewed text\n"

    result = cli("extract", "--accept", f"{POST}/01")
    assert result.exit_code == 0 and "1 accepted" in result.stdout
    entry = load_manifest(project)[f"{POST}/01"]
    assert entry["sha256"] == new and "changed_sha256" not in entry
    assert sorted(path.name for path in folder.iterdir()) == [
        "01-absurd-register-task.ts", "02-npx-mcporter-call-linear.sh", "03-step-1.txt"]
    assert (folder / "01-absurd-register-task.ts").read_text() == changed
    assert cli("check").exit_code == 0
    assert cli("review").stdout == "review: 0 drifted\n"


def test_a_block_changed_back_to_its_reviewed_text_is_no_longer_drifted(project):
    cli("extract")
    curate(project)
    page = project / PAGE
    original = page.read_text()
    page.write_text(original.replace('"iteration"', '"step"'))
    cli("extract")
    page.write_text(original)
    assert cli("extract").stdout.endswith("0 drifted, 0 accepted, 0 orphaned; 1 files written\n")  # the manifest
    assert "changed_sha256" not in load_manifest(project)[f"{POST}/01"]
    assert not (project / f"snippets/{POST}/01-absurd-register-task.ts.new").exists()
    assert cli("check").exit_code == 0


def test_check_json_gives_each_problem_its_kind_id_path_and_line(project):
    cli("extract")
    curate(project)
    doc = load_manifest(project)
    doc[f"{POST}/02"]["reason"] = ""
    save_manifest(project, doc)
    page = project / PAGE
    page.write_text(page.read_text().replace('"iteration"', '"step"'))
    (project / f"snippets/{POST}/03-step-1.txt").write_text("edited by hand\n")
    result = cli("check", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    # 02 lost its reason: not yet triaged again, counted rather than a problem.
    assert {key: report[key] for key in ("blocks", "runnable", "illustrative", "untriaged")} == {
        "blocks": 3, "runnable": 0, "illustrative": 2, "untriaged": 1}
    assert [(p["kind"], p["id"], p["path"], p["line"]) for p in report["problems"]] == [
        ("drift", f"{POST}/01", PAGE, 9),
        ("stale-file", f"{POST}/01", PAGE, 9),
        ("stale-file", f"{POST}/03", PAGE, 22),
    ]
    assert report["problems"][1]["message"] == (
        f"snippets/{POST}/01-absurd-register-task.ts.new does not hold the block's text; run `blogtools extract`")
    human = cli("check").stdout.splitlines()
    assert human[:-2] == [f"problem: {p['id']} ({p['path']}:{p['line']}): {p['message']}" for p in report["problems"]]
    assert human[-2].startswith("check: not yet triaged: 1 block (run `blogtools triage`, or decide each")
    assert human[-1] == "check: 3 blocks: 2 curated (0 runnable, 2 illustrative), 0 triaged, 1 not yet triaged, 3 problems"


def test_accept_of_an_unknown_id_changes_nothing(project):
    cli("extract")
    before = (project / "snippets/manifest.toml").read_bytes()
    result = cli("extract", "--accept", f"{POST}/09")
    assert result.exit_code == 1
    assert result.stderr == f"blogtools: error: --accept {POST}/09: no such block in content/posts or entry in snippets/manifest.toml\n"
    assert (project / "snippets/manifest.toml").read_bytes() == before


def test_check_passes_with_a_real_module_and_test(project):
    cli("extract")
    curate(project, runnable=True)
    result = cli("check")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "check: 3 blocks: 3 curated (1 runnable, 2 illustrative), 0 triaged, 0 problems"


def test_check_names_each_offender(project):
    cli("extract")
    curate(project, runnable=True)
    doc = load_manifest(project)
    doc[f"{POST}/01"]["modules"] = ["agent_loop.py", "missing_module.py"]
    doc[f"{POST}/01"]["tests"] = ["tests/test_agent_loop.py::test_agent_loop_runs", "tests/test_agent_loop.py::test_nope", "tests/test_gone.py::test_x"]
    doc[f"{POST}/02"]["reason"] = "  "
    doc[f"{POST}/03"]["status"] = "runnable-ish"
    doc["2025-01-01-gone/01"] = doc[f"{POST}/03"].copy()
    del doc[f"{POST}/03"]
    save_manifest(project, doc)
    (project / f"snippets/{POST}/02-npx-mcporter-call-linear.sh").write_text("edited by hand\n")

    result = cli("check")
    assert result.exit_code == 1
    problems = [line for line in result.stdout.splitlines() if line.startswith("problem: ")]
    assert problems == [
        "problem: test file tests/test_gone.py does not exist",
        f"problem: {POST}/01 ({PAGE}:9): module snippets/{POST}/missing_module.py does not exist",
        f"problem: {POST}/01 ({PAGE}:9): test tests/test_agent_loop.py::test_nope is not collected by pytest",
        f"problem: {POST}/01 ({PAGE}:9): test tests/test_gone.py::test_x is not collected by pytest",
        f"problem: {POST}/02 ({PAGE}:17): snippets/{POST}/02-npx-mcporter-call-linear.sh does not hold the block's text; run `blogtools extract`",
        f"problem: {POST}/03 ({PAGE}:22): no manifest entry; run `blogtools extract`",
        "problem: 2025-01-01-gone/01: the manifest has an entry but content has no such block; `blogtools extract --accept 2025-01-01-gone/01` drops it",
    ]
    assert result.stdout.splitlines()[-1] == "check: 3 blocks: 1 curated (1 runnable, 0 illustrative), 0 triaged, 1 not yet triaged, 7 problems"


def test_check_rejects_bad_status_and_runnable_without_tests_or_notes(project):
    cli("extract")
    curate(project)
    doc = load_manifest(project)
    doc[f"{POST}/01"]["status"] = "maybe"
    doc[f"{POST}/02"]["status"] = "runnable"
    (project / f"snippets/{POST}/mcporter_call.py").write_text("def main():\n    pass\n")
    doc[f"{POST}/02"]["modules"] = ["mcporter_call.py"]
    save_manifest(project, doc)
    problems = [line for line in cli("check").stdout.splitlines() if line.startswith("problem: ")]
    assert problems == [
        f"problem: {POST}/01 ({PAGE}:9): status must be 'runnable' or 'illustrative', not 'maybe'",
        f"problem: {POST}/02 ({PAGE}:17): runnable entry lists no tests",
        f"problem: {POST}/02 ({PAGE}:17): the runnable form is Python but the block is shell: notes must say how it differs",
    ]


def test_accepting_an_orphan_drops_its_entry(project):
    cli("extract")
    curate(project)
    page = project / PAGE
    page.write_text(page.read_text().split("??? note")[0])
    result = cli("extract")
    assert f"orphaned: {POST}/03" in result.stderr and "1 orphaned" in result.stdout
    assert f"{POST}/03" in load_manifest(project)
    assert cli("extract", "--accept", f"{POST}/03").exit_code == 0
    assert f"{POST}/03" not in load_manifest(project)
    assert cli("check").exit_code == 0


def test_standalone_entries_are_checked_but_never_orphaned(project):
    """A post's runnable module that no block shows (a figure script) has an entry "<post>/<name>"."""
    cli("extract")
    curate(project, runnable=True)
    doc = load_manifest(project)
    figure = tomlkit.table()
    figure.update({"post": POST, "status": "runnable", "modules": ["agent_loop.py", "figure.py"],
                   "tests": ["tests/test_agent_loop.py::test_figure"], "reason": "", "notes": []})
    doc[f"{POST}/figure"] = figure
    save_manifest(project, doc)
    result = cli("extract")
    assert "0 orphaned" in result.stdout and f"{POST}/figure" in load_manifest(project)
    assert cli("extract", "--accept", f"{POST}/figure").exit_code == 1
    result = cli("check")
    assert [line for line in result.stdout.splitlines() if line.startswith("problem: ")] == [
        f"problem: {POST}/figure: module snippets/{POST}/figure.py does not exist",
        f"problem: {POST}/figure: test tests/test_agent_loop.py::test_figure is not collected by pytest",
    ]
    assert result.stdout.splitlines()[-1] == "check: 3 blocks: 3 curated (1 runnable, 2 illustrative), 0 triaged, 2 problems"


def test_snippets_json_lists_every_entry(project):
    cli("extract")
    curate(project, runnable=True)
    result = cli("snippets", "--json")
    assert result.exit_code == 0
    listed = json.loads(result.stdout)
    assert [item["id"] for item in listed] == [f"{POST}/01", f"{POST}/02", f"{POST}/03"]
    assert {"id", "post", "language", "status", "modules", "tests", "reason"} <= set(listed[0])
    assert listed[0]["modules"] == ["agent_loop.py"] and listed[0]["status"] == "runnable"
    assert listed[0]["tests"] == ["tests/test_agent_loop.py::test_agent_loop_runs"]
    assert listed[2]["language"] == "text" and listed[2]["reason"] == "needs a `Linear` account & a workspace"
    text = cli("snippets").stdout.splitlines()
    assert text[-1] == "3 entries: 1 runnable, 2 illustrative"


def blogtools(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "blogtools", *args], cwd=cwd, capture_output=True, text=True)


def test_run_calls_the_module_main(project):
    cli("extract")
    curate(project, runnable=True)
    done = blogtools("run", f"{POST}/01", cwd=project)
    assert done.returncode == 3, done.stderr
    assert (project / "ran.txt").read_text() == "main ran"


def test_run_passes_extra_arguments_to_main(project):
    cli("extract")
    curate(project, runnable=True)
    done = blogtools("run", f"{POST}/01", "--llm", "anthropic", cwd=project)
    assert (done.returncode, done.stderr) == (
        1, f"blogtools: error: {POST}/01: agent_loop.py's main() takes no arguments, got --llm anthropic\n"
    )
    module = project / f"snippets/{POST}/agent_loop.py"
    module.write_text(
        "from pathlib import Path\n\n\ndef main(argv=None):\n"
        "    Path('ran.txt').write_text(' '.join(argv or []))\n    return 0\n"
    )
    done = blogtools("run", f"{POST}/01", "--llm", "anthropic", cwd=project)
    assert done.returncode == 0, done.stderr
    assert (project / "ran.txt").read_text() == "--llm anthropic"


def test_a_module_named_like_a_standard_one_runs_without_replacing_it(project, monkeypatch):
    cli("extract")
    curate(project, runnable=True)
    (project / f"snippets/{POST}/json.py").write_text("def main():\n    return 5\n")
    doc = load_manifest(project)
    doc[f"{POST}/01"]["modules"] = ["json.py"]
    save_manifest(project, doc)
    monkeypatch.setattr(sys, "path", list(sys.path))  # run_snippet puts snippets/<post> first
    standard = sys.modules["json"]
    try:
        assert check.run_snippet(load_project(start=project), f"{POST}/01") == 5
        assert sys.modules["json"] is standard
    finally:
        sys.modules["json"] = standard
    assert f"problem: {POST}/01 ({PAGE}:9): module snippets/{POST}/json.py is named like the standard library's json, " \
        "which it would hide" in cli("check").stdout.splitlines()


def test_run_refuses_illustrative_entries_and_entries_without_module(project):
    cli("extract")
    curate(project)
    done = blogtools("run", f"{POST}/02", cwd=project)
    assert (done.returncode, done.stderr) == (
        1, f"blogtools: error: {POST}/02: illustrative (needs a `Linear` account & a workspace), so there is nothing to run\n"
    )
    doc = load_manifest(project)
    doc[f"{POST}/02"]["status"] = "runnable"
    doc[f"{POST}/02"]["tests"] = ["tests/test_content_examples.py::test_runnable_python_block"]
    save_manifest(project, doc)
    done = blogtools("run", f"{POST}/02", cwd=project)
    assert done.stderr.startswith(f"blogtools: error: {POST}/02: no module;") and done.returncode == 1
    done = blogtools("run", f"{POST}/07", cwd=project)
    assert done.stderr == f"blogtools: error: {POST}/07: no such entry in snippets/manifest.toml\n"


def test_bad_inputs_give_one_error_line(project):
    result = cli("check")
    assert (result.exit_code, result.stderr) == (1, "blogtools: error: snippets/manifest.toml: no manifest; run `blogtools extract` first\n")
    result = cli("extract", "--content-dir", "nowhere")
    assert result.stderr == "blogtools: error: nowhere/posts: no such folder (expected content/posts/<slug>.md pages)\n"
    cli("extract")
    (project / "snippets/manifest.toml").write_text('["a/01"]\npost = \n')
    result = cli("snippets")
    assert result.exit_code == 1 and result.stderr.startswith("blogtools: error: snippets/manifest.toml: not a readable TOML manifest:")
    (project / "snippets/manifest.toml").write_text('["a/01"]\npost = "a"\nordinal = "one"\n')
    assert cli("snippets").stderr == "blogtools: error: snippets/manifest.toml: [a/01] 'ordinal' must be an integer, not str\n"


def test_runnable_python_blocks_in_an_essay_are_executed(tmp_path):
    """The fixture page holds a Python block that states its output correctly and one whose claim
    is false: marked runnable, the first passes under pytest-examples and the second fails."""
    shutil.copytree(DATA / "examples", tmp_path / "content")
    (tmp_path / "tests").mkdir()
    shutil.copy(Path(__file__).parent / "test_content_examples.py", tmp_path / "tests")
    assert blogtools("extract", cwd=tmp_path).returncode == 0
    doc = load_manifest(tmp_path)
    assert [table["language"] for table in doc.values()] == ["python", "py"]
    for ident, table in doc.items():
        table["status"] = "runnable"
        table["tests"] = [f"tests/test_content_examples.py::test_runnable_python_block[{ident}]"]
    save_manifest(tmp_path, doc)
    check = blogtools("check", cwd=tmp_path)
    assert check.returncode == 0, check.stdout
    assert check.stdout.splitlines()[-1] == "check: 2 blocks: 2 curated (2 runnable, 0 illustrative), 0 triaged, 0 problems"

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--rootdir={tmp_path}", "tests"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert done.returncode == 1, done.stdout
    assert "FAILED tests/test_content_examples.py::test_runnable_python_block[2025-01-02-python-demo/02]" in done.stdout
    assert "the essay's arithmetic is off" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("1 failed, 1 passed")


@pytest.mark.slow
def test_only_reviewed_text_runs_a_drifted_entry_is_refused_by_run_and_pytest(project):
    """Block text comes from a feed: once the essay changes a curated block, neither `blogtools
    run` nor plain pytest runs what its entry lists until the change is accepted."""
    cli("extract")
    curate(project, runnable=True)
    pytest_command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--rootdir={project}", "tests"]
    assert subprocess.run(pytest_command, cwd=project, capture_output=True, text=True).returncode == 0
    page = project / PAGE
    page.write_text(page.read_text().replace('"iteration"', '"step"'))  # not even extracted yet
    refusal = f"{POST}/01: drifted: review with `blogtools review {POST}/01`"

    done = blogtools("run", f"{POST}/01", cwd=project)
    assert (done.returncode, done.stderr) == (1, f"blogtools: error: {refusal}\n")
    assert not (project / "ran.txt").exists()
    done = subprocess.run(pytest_command, cwd=project, capture_output=True, text=True)
    assert done.returncode == 1, done.stdout
    assert "_ ERROR at setup of test_agent_loop_runs _" in done.stdout and f"\n{refusal}\n" in done.stdout
    assert not (project / "ran.txt").exists() and "1 error" in done.stdout.splitlines()[-1]

    assert cli("extract", "--accept", f"{POST}/01").exit_code == 0
    assert blogtools("run", f"{POST}/01", cwd=project).returncode == 3  # main() returns 3
    assert subprocess.run(pytest_command, cwd=project, capture_output=True, text=True).returncode == 0


BLOCK_TABLE = {"post": "p", "ordinal": 1, "language": "python", "file": "01-x.py", "sha256": "0" * 64,
               "lines": [3, 5], "status": "illustrative", "modules": [], "tests": [], "reason": "", "notes": []}
BAD_ENTRIES = {
    "a misspelt curated key": ("p/01", {**BLOCK_TABLE, "module": ["m.py"]}, "[p/01] unknown key 'module'"),
    "lines that are not a pair": ("p/01", {**BLOCK_TABLE, "lines": [3, 4, 5]}, "[p/01] 'lines' must be a list of 2 items, not 3"),
    "a module that is not a string": ("p/01", {**BLOCK_TABLE, "modules": [1]}, "[p/01] 'modules' item 1 must be a string, not int"),
    "a block without its sha256": ("p/01", {k: v for k, v in BLOCK_TABLE.items() if k != "sha256"}, "[p/01] 'sha256' is missing"),
    "a standalone entry with an ordinal": ("p/figure", {**BLOCK_TABLE, "file": "", "ordinal": 2},
                                           "[p/figure] 'ordinal' belongs to a code block's entry"),
}


@pytest.mark.parametrize("case", sorted(BAD_ENTRIES))
def test_a_malformed_manifest_entry_is_one_error_naming_it_and_the_field(case):
    ident, table, message = BAD_ENTRIES[case]
    with pytest.raises(BlogtoolsError) as raised:
        manifest.parse_entries({ident: table}, Path("snippets/manifest.toml"))
    assert str(raised.value).startswith(f"snippets/manifest.toml: {message}")


def test_a_manifest_entry_is_read_as_typed_values():
    (entry,) = manifest.parse_entries({"p/01": BLOCK_TABLE}, Path("manifest.toml")).values()
    assert (entry.id, entry.ordinal, entry.lines, entry.modules, entry.curated) == ("p/01", 1, (3, 5), (), False)
    standalone = {key: BLOCK_TABLE[key] for key in ("post", "status", "modules", "tests", "reason", "notes")}
    (entry,) = manifest.parse_entries({"p/figure": {**standalone, "status": "runnable", "modules": ["f.py"]}},
                                      Path("manifest.toml")).values()
    assert (entry.is_block, entry.modules, entry.curated) == (False, ("f.py",), True)
def test_a_fresh_site_is_green_with_its_blocks_counted_as_not_yet_triaged(project):
    """extract's fresh entries are not problems: one line counts them, the exit status is 0."""
    cli("extract")
    result = cli("check")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "check: not yet triaged: 3 blocks (run `blogtools triage`, or decide each in snippets/manifest.toml: "
        "runnable with tests, or illustrative with a reason)",
        "check: 3 blocks: 0 curated (0 runnable, 0 illustrative), 0 triaged, 3 not yet triaged, 0 problems",
    ]
    assert json.loads(cli("check", "--json").stdout)["untriaged"] == 3
    # A standalone entry has no block to triage: without a reason it is still a problem.
    doc = load_manifest(project)
    doc[f"{POST}/figure"] = {"post": POST, "status": "illustrative", "modules": [], "tests": [], "reason": "", "notes": []}
    save_manifest(project, doc)
    assert cli("check").exit_code == 1
