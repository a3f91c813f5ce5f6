"""Published forms (blogtools.published): the type-check of every TypeScript published form of the
site at the pytest rootdir (the test ids its manifest entries list), and the mechanism itself:
patches, the line map, check's problems, the drift refusal, and a broken block's compiler message
on its built page.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from blogtools import evidence, manifest, project, published
from blogtools.check import check
from blogtools.errors import BlogtoolsError
from blogtools.harness import forms
from clirun import invoke

REPO = Path(__file__).resolve().parent.parent
ABSURD = "2025-11-03-absurd-workflows"


def typescript_forms(root: Path) -> list:
    """pytest params, one per TypeScript published form of the site at ``root`` (``ID``, and
    ``ID:working`` for a nearest working form)."""
    site = project.load(start=root)
    if not (site.snippets_dir / manifest.NAME).is_file():
        return []
    params = []
    for entry in manifest.read(site.snippets_dir).values():
        if entry.status == manifest.RUNNABLE and entry.is_block and published.is_typescript(entry):
            params.append(pytest.param(entry.id, False, id=entry.id))
            if entry.working_patch:
                params.append(pytest.param(entry.id, True, id=f"{entry.id}:working"))
    return params


def pytest_generate_tests(metafunc):
    if "typescript_form" in metafunc.fixturenames:
        forms = typescript_forms(metafunc.config.rootpath) or [pytest.param(None, False, id="none", marks=pytest.mark.skip(
            reason="the site has no TypeScript published form"))]
        metafunc.parametrize("typescript_form,working", forms)


@pytest.mark.node
def test_published_form_type_checks(typescript_form, working, request):
    site = project.load(start=request.config.rootpath)
    entry = manifest.read(site.snippets_dir)[typescript_form]
    result = forms.typecheck(site, entry, working=working)
    assert result.ok, result.error


# --- the mechanism --------------------------------------------------------------------------------

BLOCK = "const a = 1;\nconst tools = { /* elided */ };\nconsole.log(a, tools);\n"
PATCH = "--- x\n+++ x\n@@ -2 +2,2 @@\n-const tools = { /* elided */ };\n+const tools = {\n+  weather: 1 };\n"


def test_a_patch_fills_the_elision_and_maps_each_line_to_the_block():
    text, lines = published.apply_patch(BLOCK, PATCH, "x.patch")
    assert text == "const a = 1;\nconst tools = {\n  weather: 1 };\nconsole.log(a, tools);\n"
    assert lines == [(1, False), (2, True), (2, True), (3, False)]  # added lines: the line they replace
    _, lines = published.apply_patch(BLOCK, "@@ -1,0 +2 @@\n+// added\n", "x.patch")
    assert lines == [(1, False), (1, True), (2, False), (3, False)]  # a pure insertion: the line it follows


def test_a_patch_whose_context_differs_is_one_error_naming_it():
    with pytest.raises(BlogtoolsError, match=r"x.patch: does not apply: line 2 of the block is not 'const tools = 1;'"):
        published.apply_patch(BLOCK, "@@ -2 +2 @@\n-const tools = 1;\n+const tools = 2;\n", "x.patch")
    with pytest.raises(BlogtoolsError, match="x.patch: not a unified diff"):
        published.apply_patch(BLOCK, "const tools = 2;\n", "x.patch")


def demo_site(tmp_path: Path, **fields) -> tuple[project.Project, manifest.Entry]:
    """A site of one post whose block 01 (JavaScript) has a published form made of ``fields``' files."""
    (tmp_path / "snippets/post").mkdir(parents=True)
    (tmp_path / "snippets/post/01-block.js").write_text(BLOCK)
    names = {}
    for field, text in fields.items():
        names[field] = f"block.{field}"
        (tmp_path / "snippets/post" / names[field]).write_text(text)
    entry = manifest.Entry("post/01", "post", "runnable", (), ("t",), "", (), ordinal=1, language="javascript",
                           file="01-block.js", sha256="0" * 64, lines=(1, 5), **names)
    return project.load(start=tmp_path), entry


def test_assemble_puts_prelude_patched_block_and_epilogue_in_one_module_with_a_line_map(tmp_path):
    site, entry = demo_site(tmp_path, prelude="// harness\n", epilogue="export { a };\n", patch=PATCH)
    form = published.assemble(site, entry)
    assert form.text == "// harness\nconst a = 1;\nconst tools = {\n  weather: 1 };\nconsole.log(a, tools);\nexport { a };\n"
    assert form.origins == ("block.prelude:1", "01-block.js:1", "01-block.js:2 (patched)", "01-block.js:2 (patched)",
                            "01-block.js:3", "block.epilogue:1")
    assert form.around == 4 and form.path == (tmp_path / "build/published/post/01-block.mjs").resolve()
    out = published.locate(f"at file://{form.path}:5:13\n{form.path}(2,7): error\n{form.path}(3,9): error",
                           {form.path: form}, tmp_path)
    assert out == "at 01-block.js:3:13\n01-block.js:1:7: error\n01-block.js:2 (patched): error"


def test_runs_as_published_is_said_only_when_a_test_ran_the_form(tmp_path):
    """A passing record whose tests never read the harness (the form's own test skipped, the Python
    port's passed) is verified, not "Runs as published"."""
    site, entry = demo_site(tmp_path, prelude="// harness\n")
    doc, table = manifest.load(site.snippets_dir / manifest.NAME), manifest.new_table("post", 1, "javascript", entry.file, entry.sha256, (1, 5))
    table.update(status="runnable", tests=["t"], prelude="block.prelude")
    doc["post/01"] = table
    manifest.save(doc, site.snippets_dir / manifest.NAME)
    entry = manifest.read(site.snippets_dir)["post/01"]
    passed = {"t": evidence.TestResult(evidence.PASSED)}
    for inputs, label in (((), "✓ Verified since"), (("snippets/post/block.prelude",), "✓ Runs as published, with 1 line around it")):
        record = evidence.new_record(site, entry, evidence.RunResult(passed, inputs, 1.0), "2025-11-03")
        assert evidence.state(site, entry, record).label.startswith(label)


def test_check_names_a_missing_harness_file_and_a_patch_that_does_not_apply(tmp_path):
    _, entry = demo_site(tmp_path, prelude="// harness\n", patch="@@ -1 +1 @@\n-nothing like it\n+x\n")
    snippets = tmp_path / "snippets"
    assert published.problems(snippets, entry) == ["block.patch: does not apply: line 1 of the block is not 'nothing like it'"]
    (snippets / "post/block.prelude").unlink()
    assert published.problems(snippets, entry) == [f"prelude {snippets / 'post/block.prelude'} does not exist"]
    working = manifest.Entry(**{**entry.__dict__, "working_patch": "block.patch", "prelude": "", "patch": ""})
    assert published.problems(snippets, working) == ["working_patch without a published form: name a prelude or an epilogue"]


def test_the_manifest_refuses_a_harness_file_outside_the_post_folder(tmp_path):
    text = (REPO / "snippets/manifest.toml").read_text().replace(
        'prelude = "spawn.prelude.ts"', 'prelude = "../../etc/passwd"')
    (tmp_path / "manifest.toml").write_text(text)
    with pytest.raises(BlogtoolsError, match=r"\[2025-11-03-absurd-workflows/02\] prelude must be a bare name"):
        manifest.read(tmp_path)


def copy_site(tmp_path: Path) -> Path:
    """A copy of this project (content, snippets, tests) sharing its node_modules, without evidence."""
    root = tmp_path / "copy"
    root.mkdir()
    for name in ("content", "snippets", "tests", "feeds"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", evidence.NAME))
    for name in ("mkdocs.yml", "pyproject.toml", "package.json", *evidence.LOCK_FILES):
        shutil.copy(REPO / name, root / name)
    os.symlink(REPO / "node_modules", root / "node_modules")
    return root


@pytest.mark.node
def test_a_drifted_block_is_refused_before_anything_runs(tmp_path):
    root = copy_site(tmp_path)
    site = project.load(start=root)
    block = root / "snippets" / ABSURD / "06-absurd-emit-event.js"
    block.write_text(block.read_text() + "await import('node:child_process');\n")
    entry = manifest.read(site.snippets_dir)[f"{ABSURD}/06"]
    for action in (forms.run, forms.typecheck):
        with pytest.raises(BlogtoolsError, match=f"{ABSURD}/06: drifted: review with `blogtools review {ABSURD}/06`"):
            action(site, entry)
    assert not (site.build_dir / "published" / ABSURD / "06-absurd-emit-event.mts").exists()


def test_a_block_nobody_made_runnable_is_refused(tmp_path):
    site, entry = demo_site(tmp_path, prelude="// harness\n")
    untriaged = manifest.Entry(**{**entry.__dict__, "status": "illustrative"})
    with pytest.raises(BlogtoolsError, match="post/01: not runnable: only a block an author reviewed"):
        published.write_post(site, untriaged)
    assert not (tmp_path / "build").exists()


@pytest.mark.slow
@pytest.mark.node
@pytest.mark.postgres
def test_a_broken_typescript_block_shows_the_compilers_message_on_its_page(tmp_path):
    """A copy of this project whose block 06 the essay changed to call a method the SDK lacks: once
    accepted, its type-check fails and the built page shows tsc's message at the block's line."""
    root = copy_site(tmp_path)
    ident = f"{ABSURD}/06"
    page = root / f"content/posts/{ABSURD}.md"
    page.write_text(page.read_text().replace("await absurd.emitEvent(eventName,", "await absurd.emitEvnt(eventName,"))
    assert invoke("extract", "--accept", ident, cwd=root).exit_code == 0
    assert "emitEvnt" in (root / "snippets" / ABSURD / "06-absurd-emit-event.js").read_text()
    assert invoke("test", ident, cwd=root).exit_code == 1
    assert invoke("build", "--offline", cwd=root).exit_code == 0
    html = (root / "site/2025/11/03/absurd-workflows/index.html").read_text()
    assert ("06-absurd-emit-event.js:2:14: error TS2551: Property &#x27;emitEvnt&#x27; does not exist on type "
            "&#x27;Absurd&#x27;. Did you mean &#x27;emitEvent&#x27;?") in html
    assert check(root / "content/posts", root / "snippets", root).problems == []


def test_the_page_folds_the_harness_shows_the_working_diff_and_the_python_port_tab():
    from blogtools.annotate import SourceLinks, annotate

    site = project.load(start=REPO)
    page = (site.posts_dir / f"{ABSURD}.md").read_text()
    entries = manifest.read(site.snippets_dir)

    def sleep_block(outcomes: dict[str, str] | None) -> str:
        """Block 04 annotated, its evidence a failure as expected whose tests had ``outcomes`` (None: no evidence)."""
        found = {}
        if outcomes is not None:
            tests = {test: evidence.TestResult(outcome) for test, outcome in outcomes.items()}
            record = evidence.Record("f", evidence.EXPECTED_FAILURE, "2025-11-03", {}, tests)
            found[f"{ABSURD}/04"] = evidence.Evidence(evidence.EXPECTED_FAILURE, "✗ Fails as published", record)
        out = annotate(page, ABSURD, entries, SourceLinks(REPO), site.snippets_dir, found)
        block = out[out.index("await ctx.sleep(60 * 60 * 24 * 7)"):]
        return block[: block.index("Tests:")]

    sleep = sleep_block({"typecheck": evidence.FAILED, "working": evidence.PASSED})
    assert '??? bt-badge bt-red bt-state-expected-failure "✗ Fails as published' in sleep  # one badge, red
    assert "The harness it runs in (9 lines before, 9 lines after):" in sleep
    assert "Before the block (<code>in-a-task.prelude.ts</code>):" in sleep
    # the working form comes first in the badge's disclosure: one click away
    assert sleep.index("Its nearest working form, as a diff of the block (its tests pass):") < sleep.index("The harness")
    assert '+await ctx.sleepFor("sleep", 60 * 60 * 24 * 7); // sleep for 7 days' in sleep
    # That it runs is said only from evidence: none, or a test of it skipped, and the page does not claim it.
    for outcomes in (None, {"typecheck": evidence.FAILED, "working": evidence.SKIPPED}):
        assert "Its nearest working form, as a diff of the block:" in sleep_block(outcomes)
    out = annotate(page, ABSURD, entries, SourceLinks(REPO), site.snippets_dir)
    assert '=== "Python port"' in out and "Runnable (Python)" not in out.split("absurd-sql")[0]
    assert "    -      getWeather: { /* tool definition here */ }" in out  # block 03's patch, folded with its harness
