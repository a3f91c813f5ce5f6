"""The render transform: a status line under every block, tabs with the included module where it differs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import markdown
import pytest
import yaml

from blogtools import badges, evidence, manifest, project, site, triage
from blogtools.annotate import SourceLinks, annotate
from blogtools.blocks import block_id, find_blocks, relabel_fence
from blogtools.extract import extract
from site_html import badges_of

DATA = Path(__file__).parent / "data"
POST = "2025-11-03-durable"
MODULE = '"""Usage:\n\n```\npython durable_task.py\n```\n"""\n\n\ndef main():\n    return "<durable & done>"\n'
TEST_FILE = "import sys\n\n\ndef helper():\n    pass\n\n\ndef test_durable_main():\n    assert True\n"


@pytest.fixture
def curated(tmp_path):
    """Extracted hand-made post; block 01 runnable with a module and notes, 02 illustrative, 03 runnable as is."""
    shutil.copytree(DATA / "extract", tmp_path / "content")
    extract(tmp_path / "content/posts", tmp_path / "snippets")
    (tmp_path / f"snippets/{POST}/durable_task.py").write_text(MODULE)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/test_durable.py").write_text(TEST_FILE)
    doc = manifest.load(tmp_path / "snippets/manifest.toml")
    doc[f"{POST}/01"].update(
        status="runnable", modules=["durable_task.py"], tests=["tests/test_durable.py::test_durable_main"],
        notes=["Python instead of TypeScript", "`ctx.step` is the SDK's `ctx.step(name, fn)`",
               "caches each step in agent-cache/task-<id>-step-<n>.json"],
    )
    doc[f"{POST}/02"]["reason"] = "needs a <b>Linear</b> account & `mcporter` config"
    doc[f"{POST}/03"].update(status="runnable", tests=["tests/test_durable.py::test_durable_main"])
    manifest.save(doc, tmp_path / "snippets/manifest.toml")
    return tmp_path, manifest.read(tmp_path / "snippets")


def render(text: str, root: Path) -> str:
    """The page through Python-Markdown with the extensions the site configures for these constructs."""
    return markdown.markdown(
        text,
        extensions=["admonition", "pymdownx.highlight", "pymdownx.superfences", "pymdownx.tabbed", "pymdownx.details"],
        extension_configs={
            "pymdownx.highlight": {"use_pygments": False},
            "pymdownx.tabbed": {"alternate_style": True},
        },
    )


def test_status_lines_and_tabs(curated):
    root, entries = curated
    page = (root / f"content/posts/{POST}.md").read_text()
    links = SourceLinks(root, "https://github.com/example/essays", "trunk")
    out = annotate(page, POST, entries, links, root / "snippets")
    html = render(out.split("---\n", 2)[2], root)

    assert 'As published (TypeScript)' in html and 'Runnable (Python)' in html
    assert "absurd.registerTask" in html
    # the module is read when the page is rendered, so the page follows every edit of it
    assert "--8<--" not in out
    module = root / f"snippets/{POST}/durable_task.py"
    module.write_text(MODULE.replace("durable & done", "edited"))
    assert 'return "<edited>"' in annotate(page, POST, entries, links, root / "snippets")
    module.write_text(MODULE)
    # the whole module, its own ``` included, inside the Runnable tab
    assert '```\npython durable_task.py\n```\n"""\n\n\ndef main():\n    return "&lt;durable &amp; done&gt;"' in html
    # nothing was run, so nothing is claimed; the module and test links open under the badge
    assert badges_of(html) == [("not-verified", "◌ Not verified yet"),
                               ("illustrative", "¶ Illustrative: needs a <b>Linear</b> account & mcporter config"),
                               ("not-verified", "◌ Not verified yet")]
    folded = html[html.index('<details class="bt-badge bt-grey bt-state-not-verified">') : html.index("</details>")]
    assert "<summary>◌ Not verified yet</summary>" in folded
    assert (f'Modules: <a href="https://github.com/example/essays/blob/trunk/snippets/{POST}/durable_task.py">'
            "<code>durable_task.py</code></a>") in folded
    assert ('<li><a href="https://github.com/example/essays/blob/trunk/tests/test_durable.py#L8">'
            "<code>test_durable_main</code></a></li>") in folded
    assert "<li>Python instead of TypeScript</li>" in folded
    assert "<li><code>ctx.step</code> is the SDK's <code>ctx.step(name, fn)</code></li>" in html
    assert "<li>caches each step in agent-cache/task-&lt;id&gt;-step-&lt;n&gt;.json</li>" in html  # not lost as a tag
    assert (
        '<p class="admonition-title">¶ Illustrative: needs a &lt;b&gt;Linear&lt;/b&gt; account '
        "&amp; <code>mcporter</code> config</p>"
    ) in html
    # each block has its anchor, the badge's, /examples/' and the CLI's link target
    assert [m for m in re.findall(r'<div class="bt-anchor" id="(code-\d+)"></div>', html)] == ["code-01", "code-02", "code-03"]


def test_a_curated_language_names_the_published_block(curated):
    """The feed's markup lost the language (``text``): the page shows the one the author curated."""
    root, entries = curated
    page = (root / f"content/posts/{POST}.md").read_text().replace("```typescript\n", "```text\n", 1)
    out = annotate(page, POST, entries, SourceLinks(root, "https://example.org/r", "main"), root / "snippets")
    assert re.search(r"```typescript\n\s*absurd\.registerTask", out)
    assert not re.search(r"```text\n\s*absurd\.registerTask", out)
    assert "As published (TypeScript)" in out


@pytest.mark.parametrize("opening, relabelled", [
    ("```text", "```typescript"),
    ("````text title=\"x.ts\"", "````typescript title=\"x.ts\""),
    ('``` {.text title="x"}', '``` {.typescript title="x"}'),
    ("~~~", "~~~"),  # names no language: left as it is
])
def test_relabel_fence_names_the_curated_language_in_either_form(opening, relabelled):
    assert relabel_fence(opening, "typescript") == relabelled


def test_status_inside_a_details_block_stays_inside(curated):
    root, entries = curated
    out = annotate((root / f"content/posts/{POST}.md").read_text(), POST, entries, SourceLinks(root), root / "snippets")
    assert ('    ??? bt-badge bt-grey bt-state-not-verified "◌ Not verified yet"\n\n        Tests:\n\n'
            '        - <code>test_durable_main</code>\n') in out
    html = render(out.split("---\n", 2)[2], root)
    details = html[html.index("<details") : html.rindex("</details>")]
    assert "=== step 1 ===" in details and "Not verified yet" in details and "test_durable_main" in details


def test_blocks_without_entry_or_with_drift_say_so(curated):
    root, entries = curated
    page = (root / f"content/posts/{POST}.md").read_text().replace('"iteration"', '"step"')
    del entries[f"{POST}/02"]
    out = annotate(page, POST, entries, SourceLinks(root), root / "snippets")
    assert "(the essay changed this block since; the runnable form may lag behind)" in out
    assert '!!! bt-badge bt-grey bt-state-unchecked "◌ Not checked: no manifest entry yet"' in out


def test_a_block_not_yet_triaged_says_so_and_claims_nothing(curated):
    root, entries = curated
    doc = manifest.load(root / "snippets/manifest.toml")
    doc[f"{POST}/02"]["reason"] = ""  # as extract writes it: nobody has decided this block yet
    manifest.save(doc, root / "snippets/manifest.toml")
    page = (root / f"content/posts/{POST}.md").read_text()
    out = annotate(page, POST, manifest.read(root / "snippets"), SourceLinks(root), root / "snippets")
    assert [state for state, _ in badges_of(render(out.split("---\n", 2)[2], root))] == [
        "not-verified", "not-triaged", "not-verified"]
    assert out.count('"◌ Not triaged yet"') == 1 and out.count('"◌ Not verified yet"') == 2
    assert "Illustrative" not in out


HOSTILE_OUTPUT = "```\n<script>alert(1)</script>\n~~~\n{: onclick=\"alert(2)\" }\n</details>\n-->\n" + "`" * 7 + "\n"


def uncurated_block_02(root: Path):
    doc = manifest.load(root / "snippets/manifest.toml")
    doc[f"{POST}/02"]["reason"] = ""
    manifest.save(doc, root / "snippets/manifest.toml")
    return manifest.read(root / "snippets")


@pytest.mark.parametrize("verdict, label", [
    (triage.Verdict(triage.RUNS, "prints 1 line", output="hi\n"), "Runs: prints 1 line"),
    (triage.Verdict(triage.RUNS, "prints 1 line", output="hi\n", after=1), "Runs after block 1: prints 1 line"),
    (triage.Verdict(triage.DEFINES, "defines parse_args, Token; nothing called", names=("parse_args", "Token")),
     "Defines parse_args, Token; nothing called"),
    (triage.Verdict(triage.MATCHES, "3 prompts checked"), "Output matches the post: 3 prompts checked"),
    (triage.Verdict(triage.DIFFERS, "1 of 1 prompt differs, first at line 1", output="3\n", diff="-2\n+3"),
     "Output differs from the post: 1 of 1 prompt differs, first at line 1"),
    (triage.Verdict(triage.NEEDS_CONTEXT, "ModuleNotFoundError", (triage.Need("module", "numpy"),)), "Needs numpy"),
    (triage.Verdict(triage.NEEDS_CONTEXT, "NameError", (triage.Need("block", "2"),)), "Needs block 2"),
    (triage.Verdict(triage.NEEDS_CONTEXT, "Go", (triage.Need("language", "Go"),)), "Needs a Go toolchain"),
    (triage.Verdict(triage.NEEDS_CONTEXT, "x", (triage.Need("module", "numpy"), triage.Need("network", ""))),
     "Needs numpy and the network"),
    (triage.Verdict(triage.ILLUSTRATIVE, "console session"), "Illustrative (by triage): console session"),
])
def test_a_triaged_block_shows_its_verdict_in_plain_words(curated, verdict, label):
    root, _ = curated
    entries = uncurated_block_02(root)
    found = {f"{POST}/02": evidence.triage_state(verdict)}
    out = annotate((root / f"content/posts/{POST}.md").read_text(), POST, entries, SourceLinks(root), root / "snippets", found)
    icon = badges.badge(evidence.TRIAGED[verdict.verdict]).icon
    assert badges_of(render(out.split("---\n", 2)[2], root))[1] == (evidence.TRIAGED[verdict.verdict], f"{icon} {label}")
    assert ("Output of the run in the sandbox" in out) == (verdict.verdict == triage.RUNS)
    assert ("How the output differs from the post" in out) == (verdict.verdict == triage.DIFFERS)


def test_a_runs_verdicts_output_is_folded_under_its_block_as_text_only(curated):
    """Output is the attacker's: on the page it is the text of one code block, whatever it holds."""
    root, _ = curated
    entries = uncurated_block_02(root)
    found = {f"{POST}/02": evidence.triage_state(triage.Verdict(triage.RUNS, "prints 9 lines", output=HOSTILE_OUTPUT))}
    out = annotate((root / f"content/posts/{POST}.md").read_text(), POST, entries, SourceLinks(root), root / "snippets", found)
    assert "    ````````text\n" in out  # a fence longer than the longest backtick run inside
    html = render(out.split("---\n", 2)[2], root)
    folded = html[html.index('<details class="bt-badge bt-neutral bt-state-triaged-runs">'):]
    assert "<summary>▶ Runs: prints 9 lines</summary>" in folded
    assert "Output of the run in the sandbox:" in folded
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in folded and "<script>" not in html
    assert "onclick" not in re.sub(r"<code[^>]*>.*?</code>", "", html, flags=re.S)  # only as code text
    shown = unescape(re.sub(r"<[^>]+>", "", folded[folded.index("<code"):folded.index("</code>")]))
    assert shown == HOSTILE_OUTPUT.rstrip("\n")  # byte for byte, as one block


def test_words_from_a_triage_run_in_a_status_line_are_text(curated):
    root, _ = curated
    entries = uncurated_block_02(root)
    hostile = "x](javascript:alert(1)) `y` {: onclick=z } <b>"
    found = {f"{POST}/02": evidence.triage_state(
        triage.Verdict(triage.NEEDS_CONTEXT, "FileNotFoundError", (triage.Need("file", hostile),)))}
    out = annotate((root / f"content/posts/{POST}.md").read_text(), POST, entries, SourceLinks(root), root / "snippets", found)
    html = render(out.split("---\n", 2)[2], root)
    line = re.search(r'<details class="bt-badge bt-amber bt-state-triaged-needs-context">|'
                     r'<div class="admonition bt-badge bt-amber bt-state-triaged-needs-context">\s*<p class="admonition-title">(.*?)</p>',
                     html).group(1)
    assert line == "⋯ Needs the file x&#93;(javascript:alert(1)) &#96;y&#96; &#123;: onclick=z &#125; &lt;b&gt;"


def test_links_come_from_mkdocs_yml(tmp_path):
    (tmp_path / "mkdocs.yml").write_text(
        "site_name: x\nsite_url: https://example.org/\nrepo_url: https://github.com/example/essays/\n"
        "edit_uri: edit/develop/content/\n"
        "markdown_extensions:\n  - pymdownx.emoji:\n      emoji_index: !!python/name:material.extensions.emoji.twemoji\n"
    )
    links = site.source_links(project.load(tmp_path / "mkdocs.yml"))
    assert links.url("snippets/a/b.py", 3) == "https://github.com/example/essays/blob/develop/snippets/a/b.py#L3"
    (tmp_path / "mkdocs.yml").write_text("site_name: x\nsite_url: https://example.org/\n")
    assert site.source_links(project.load(tmp_path / "mkdocs.yml")).url("snippets/a/b.py") is None


def test_built_site_shows_status_and_tabs_and_leaves_content_alone(curated, tmp_path):
    """`blogtools build --offline` on a real mkdocs.yml: the page shows the statuses, the module
    is included by pymdownx.snippets, and content/ is byte-identical afterwards."""
    root, _ = curated
    shutil.copy(Path(__file__).parent.parent / "mkdocs.yml", root / "mkdocs.yml")
    before = {path: path.read_bytes() for path in (root / "content").rglob("*") if path.is_file()}

    done = subprocess.run([sys.executable, "-m", "blogtools", "build", "--offline"], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert {path: path.read_bytes() for path in (root / "content").rglob("*") if path.is_file()} == before
    assert_statuses_and_tabs((root / "site/2025/11/03/durable/index.html").read_text())


def test_standalone_entries_show_at_the_end_of_their_post_with_what_they_measured(curated):
    """A runnable module no block shows (``<post>/<name>``) gets its own section: the Markdown its
    script wrote to build/figures/<post>/<name>.md, the files it references, its status line."""
    root, _ = curated
    shutil.copy(Path(__file__).parent.parent / "mkdocs.yml", root / "mkdocs.yml")
    (root / f"snippets/{POST}/cost_figure.py").write_text("def main():\n    pass\n")
    doc = manifest.load(root / "snippets/manifest.toml")
    doc[f"{POST}/cost-figure"] = {
        "post": POST, "status": "runnable", "modules": ["cost_figure.py"],
        "tests": ["tests/test_durable.py::test_durable_main"], "reason": "", "notes": ["Measures `costs` & more."],
    }
    manifest.save(doc, root / "snippets/manifest.toml")
    figures = root / "build/figures" / POST
    figures.mkdir(parents=True)
    (figures / "cost.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>')
    (figures / "cost-figure.md").write_text("## Measured cost\n\n![the cost](cost.svg)\n")

    done = subprocess.run([sys.executable, "-m", "blogtools", "build", "--offline"], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    page = (root / "site/2025/11/03/durable/index.html").read_text()
    assert '<h2 id="measured-cost">Measured cost' in page
    assert 'src="../../../../figures/2025-11-03-durable/cost.svg"' in page
    assert (root / "site/figures/2025-11-03-durable/cost.svg").read_bytes() == (figures / "cost.svg").read_bytes()
    assert len(badges_of(page)) == 4  # three blocks and the companion
    assert 'id="code-cost-figure"' in page
    assert 'href="https://github.com/blogtools/blogtools/blob/main/snippets/2025-11-03-durable/cost_figure.py"' in page
    assert "Measures <code>costs</code> &amp; more." in page
    assert "def main():" in re.sub(r"<[^>]+>", "", page)  # the module itself, included at build time


ZENSICAL = Path(sys.executable).parent / "zensical"


@pytest.mark.skipif(not ZENSICAL.exists(), reason="zensical is not installed (pip install '.[test]')")
def test_zensical_renders_the_statuses_and_tabs_too(curated):
    root, _ = curated
    shutil.copy(Path(__file__).parent.parent / "mkdocs.yml", root / "mkdocs.yml")
    done = subprocess.run([sys.executable, "-m", "blogtools", "build", "--offline"], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    shutil.rmtree(root / "site")
    done = subprocess.run([str(ZENSICAL), "build", "--config-file", "mkdocs.yml"], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_statuses_and_tabs((root / "site/2025/11/03/durable/index.html").read_text())


def assert_statuses_and_tabs(page: str) -> None:
    assert [state for state, _ in badges_of(page)] == ["not-verified", "illustrative", "not-verified"]
    assert '<label for="__tabbed_1_1">As published (TypeScript)</label>' in page
    assert '<label for="__tabbed_1_2">Runnable (Python)</label>' in page
    assert "&lt;durable &amp; done&gt;" in page  # the module's text, included at build time
    assert 'href="https://github.com/blogtools/blogtools/blob/main/snippets/2025-11-03-durable/durable_task.py"' in page
    assert "Illustrative: needs a &lt;b&gt;Linear&lt;/b&gt; account" in page


@pytest.mark.slow
def test_every_block_of_the_real_site_has_its_curated_status(tmp_path):
    """This repository's content/ and snippets/, built: one status line per code block, none
    unchecked; a runnable block's line is its evidence, as `blogtools.evidence` reads it."""
    repo = Path(__file__).parent.parent
    for name in ("content", "snippets"):
        shutil.copytree(repo / name, tmp_path / name)
    shutil.copy(repo / "mkdocs.yml", tmp_path / "mkdocs.yml")
    done = subprocess.run([sys.executable, "-m", "blogtools", "build", "--offline"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    entries = manifest.read(tmp_path / "snippets")
    found = evidence.states(project.load(start=tmp_path), entries)
    counted = 0
    for page in (tmp_path / "content/posts").glob("*.md"):
        blocks = find_blocks(page.read_text())
        slug = page.stem
        url_slug = yaml.safe_load(page.read_text().split("---\n", 2)[1])["slug"]
        html = (tmp_path / f"site/{slug[:4]}/{slug[5:7]}/{slug[8:10]}/{url_slug}/index.html").read_text()
        companions = [e for e in entries.values() if e.post == slug and not e.is_block and e.status == "runnable"]
        shown = badges_of(html)
        assert len(shown) == len(blocks) + len(companions), slug
        for block, (state, words) in zip(blocks, shown):
            entry = entries[block_id(slug, block.ordinal)]
            assert state == found[entry.id].state, (slug, block.ordinal)
            assert words.startswith(badges.headline(state).split(":")[0].split(";")[0]) or state == "verified", words
            if entry.status != "runnable":
                assert entry.reason.split("`")[0].strip() in words, (slug, block.ordinal)
        counted += len(blocks)
    assert "Unchecked" not in "".join(p.read_text() for p in (tmp_path / "site").rglob("*.html"))
    assert counted == len([e for e in entries.values() if e.is_block])
