"""The command line's promise on bad input: one `blogtools: error:` line, exit 1, nothing changed."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomlkit
from click.testing import CliRunner

from blogtools.cli import main

DATA = Path(__file__).parent / "data"
POST = "2025-11-03-durable"


def test_help_lists_the_program():
    out = subprocess.run(
        [sys.executable, "-m", "blogtools", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "Usage: python -m blogtools" in out


def invoke(*args: str):
    """The CLI in this process; an exception other than the BlogtoolsError it reports fails the test."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def tree(folder: Path) -> dict:
    """Every file under ``folder``: its bytes and mtime."""
    return {p.relative_to(folder): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------- extract, check, run: manifest

BAD_MANIFESTS = {
    "an entry that is not a table": (lambda doc: doc.update({f"{POST}/01": 5}), f"{POST}/01 is not a table"),
    "a file outside snippets/": (lambda doc: doc[f"{POST}/01"].update(file="../../victim.txt"),
                                 f"[{POST}/01] file must be a bare name (no '/', not '..'), not '../../victim.txt'"),
    "a file written outside snippets/": (lambda doc: doc[f"{POST}/01"].update(file="../../escaped.ts"),
                                         f"[{POST}/01] file must be a bare name"),
    "a module outside snippets/": (lambda doc: doc[f"{POST}/01"].update(modules=["../../escaped.py"]),
                                   f"[{POST}/01] modules must be a bare name"),
    "a post outside snippets/": (lambda doc: doc[f"{POST}/02"].update(post=".."), f"[{POST}/02] post must be a bare name"),
}
COMMANDS = {"extract": ["extract"], "check": ["check"], "snippets": ["snippets"], "run": ["run", f"{POST}/01"]}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", sorted(BAD_MANIFESTS))
def test_a_bad_manifest_is_one_error_line_and_nothing_changes(case, command, tmp_path, monkeypatch):
    shutil.copytree(DATA / "extract", tmp_path / "content")
    monkeypatch.chdir(tmp_path)
    assert invoke("extract").exit_code == 0
    (tmp_path / "victim.txt").write_text("not the manifest's to delete")
    manifest = tmp_path / "snippets/manifest.toml"
    doc = tomlkit.parse(manifest.read_text())
    change, reason = BAD_MANIFESTS[case]
    change(doc)
    manifest.write_text(tomlkit.dumps(doc))
    before = tree(tmp_path)
    result = invoke(*COMMANDS[command])
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("blogtools: error: snippets/manifest.toml: ") and reason in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert tree(tmp_path) == before
