"""`blogtools curate`: one entry of manifest.toml decided from the command line, every other byte
kept, bad input refused before anything is written, `check` run after."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest

from clirun import invoke

FEED = Path(__file__).parent / "data" / "lucumr-2025-12-13.atom"
POST = "2025-11-03-absurd-workflows"
ID = f"{POST}/02"
COMMENT = "# kept: a curator's comment between two entries\n"


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """A site `blogtools new` made from the test feed, ingested and extracted, with a comment of
    the author's in its manifest."""
    site = tmp_path_factory.mktemp("curate") / "essays"
    assert invoke("new", str(site), "--feed", str(FEED)).exit_code == 0
    for command in (("ingest",), ("extract",)):
        ran = invoke(*command, cwd=site)
        assert ran.exit_code == 0, ran.output
    manifest = site / "snippets" / "manifest.toml"
    text = manifest.read_text()
    second = text.index(f'["{POST}/03"]')
    manifest.write_text(text[:second] + COMMENT + text[second:])
    return site


@pytest.fixture
def site(made, tmp_path) -> Path:
    shutil.copytree(made, tmp_path / "essays")
    return tmp_path / "essays"


def manifest_of(site: Path) -> str:
    return (site / "snippets" / "manifest.toml").read_text()


def outside(text: str, ident: str) -> tuple[str, str]:
    """The manifest's text before entry ``ident``'s table and after it (from the next table on)."""
    start = text.index(f'["{ident}"]')
    following = re.compile(r'^\["', re.M).search(text, start + 1)
    return text[:start], text[following.start():] if following else ""


def entry(site: Path, ident: str = ID) -> dict:
    return tomllib.loads(manifest_of(site))[ident]


def curate(site: Path, *args: str):
    return invoke("curate", *args, cwd=site)


def test_illustrative_sets_the_reason_and_keeps_every_other_byte(site):
    before = manifest_of(site)
    ran = curate(site, ID, "--illustrative", "Shows the API's shape; needs a running Absurd queue")
    assert ran.exit_code == 0, ran.output
    assert entry(site)["status"] == "illustrative"
    assert entry(site)["reason"] == "Shows the API's shape; needs a running Absurd queue"
    assert outside(manifest_of(site), ID) == outside(before, ID)
    assert COMMENT in manifest_of(site)
    assert ran.stdout.splitlines()[0].startswith(f"curate: {ID} is illustrative")
    assert re.search(r"^check: \d+ blocks: 1 curated \(0 runnable, 1 illustrative\).*, 0 problems$", ran.stdout, re.M)


def test_runnable_names_the_module_and_tests_that_check_then_accepts(site):
    folder = site / "snippets" / POST
    (folder / "spawn.py").write_text("def spawn(name):\n    return {'task': name}\n\n\ndef main():\n    print(spawn('x'))\n")
    (folder / "test_spawn.py").write_text("from spawn import spawn\n\n\ndef test_spawn():\n    assert spawn('a') == {'task': 'a'}\n")
    before = manifest_of(site)
    ran = curate(site, ID, "--runnable", "spawn.py", "--tests", f"snippets/{POST}/test_spawn.py::test_spawn",
                 "--note", "Python where the block is TypeScript; the queue is a dict")
    assert ran.exit_code == 0, ran.output
    got = entry(site)
    assert (got["status"], got["modules"], got["tests"]) == (
        "runnable", ["spawn.py"], [f"snippets/{POST}/test_spawn.py::test_spawn"])
    assert got["notes"] == ["Python where the block is TypeScript; the queue is a dict"]
    assert outside(manifest_of(site), ID) == outside(before, ID)
    assert "1 curated (1 runnable, 0 illustrative)" in ran.stdout and ", 0 problems" in ran.stdout
    assert invoke("run", ID, cwd=site).stdout == "{'task': 'x'}\n"  # what `run` calls is the named module


def test_language_relabels_a_curated_block_and_renames_its_file(site):
    assert curate(site, ID, "--illustrative", "API shape only").exit_code == 0
    old = entry(site)["file"]
    before = manifest_of(site)
    ran = curate(site, ID, "--language", "TS")
    assert ran.exit_code == 0, ran.output
    got = entry(site)
    assert got["language"] == "typescript" and got["file"] == f"{Path(old).stem}.ts" != old
    folder = site / "snippets" / POST
    assert (folder / got["file"]).is_file() and not (folder / old).exists()
    assert outside(manifest_of(site), ID) == outside(before, ID)
    assert ", 0 problems" in ran.stdout  # check finds the block's text in its new file


@pytest.mark.parametrize(("args", "reason"), [
    ((f"{POST}/99", "--illustrative", "x"), f"{POST}/99: no such entry"),
    ((ID, "--runnable", "missing.py", "--tests", f"snippets/{POST}/test_spawn.py"), "does not exist"),
    ((ID, "--runnable", "spawn.py", "--tests", f"snippets/{POST}/test_spawn.py::test_nothing",
      "--note", "n"), f"test snippets/{POST}/test_spawn.py::test_nothing is not collected by pytest"),
    ((ID, "--runnable", "spawn.py", "--tests", f"snippets/{POST}/test_spawn.py"), "notes must say how it differs"),
    ((ID, "--runnable", "spawn.py"), "runnable entry lists no tests"),
    ((ID, "--illustrative", "shape", "--language", "klingon"), "--language klingon: not a language blogtools knows"),
    ((ID, "--language", "javascript"), "not curated"),
    ((ID, "--illustrative", "  "), "needs a reason"),
    ((ID,), "nothing to change"),
])
def test_bad_input_is_one_error_line_and_the_manifest_is_untouched(site, args, reason):
    folder = site / "snippets" / POST
    (folder / "spawn.py").write_text("def main():\n    pass\n")
    (folder / "test_spawn.py").write_text("def test_spawn():\n    pass\n")
    before = {path: path.read_bytes() for path in (site / "snippets").rglob("*") if path.is_file()}
    ran = curate(site, *args)
    assert ran.exit_code == 1
    assert ran.stderr.count("\n") == 1 and ran.stderr.startswith("blogtools: error: ") and reason in ran.stderr, ran.stderr
    assert {path: path.read_bytes() for path in (site / "snippets").rglob("*") if path.is_file()} == before
