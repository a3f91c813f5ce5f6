"""The command line's promise on bad input: one `blogtools: error:` line, exit 1, nothing changed."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomlkit

from clirun import invoke

DATA = Path(__file__).parent / "data"
ATOM = DATA / "lucumr-2025-12-13.atom"
POST = "2025-11-03-durable"


def test_help_lists_the_program():
    out = subprocess.run(
        [sys.executable, "-m", "blogtools", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "Usage: python -m blogtools" in out
    own, added = out.split("Commands added by installed packages:")
    listed_first = [line.split()[0] for line in own.split("Commands:")[1].splitlines() if line[2:3].isalpha()]
    from blogtools.cli import main

    assert listed_first == sorted(set(main.commands) - {"db", "llm"})
    assert {"build", "ingest", "run"} <= set(listed_first)
    assert [line.split()[0] for line in added.splitlines() if line.strip()] == ["db", "llm"]


# What the CLI's start imports: `--version` and `--help` must not pay for any stage (lazy imports,
# cli.py's docstring). Checked by module, not by the clock, so a loaded machine cannot fail it.
HEAVY = ("pytest", "feedparser", "mkdocs", "markdown_it", "httpx", "yaml", "tomlkit", "nh3", "psycopg",
         "pygments", "blogtools.evidence", "blogtools.sandbox", "blogtools.triage", "blogtools.content",
         "blogtools.harness.llm.server")


@pytest.mark.parametrize("argument", ["--version", "--help"])
def test_start_imports_nothing_heavy(argument):
    probe = ("import sys\nfrom blogtools.cli import main\n"
             f"try:\n    main([{argument!r}])\nexcept SystemExit:\n    pass\n"
             "print('\\n'.join(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split("\n"))
    assert "blogtools.cli" in loaded and ("Commands:" in done.stdout or "version" in done.stdout)
    assert [name for name in HEAVY if name in loaded] == []


def tree(folder: Path) -> dict:
    """Every file under ``folder``: its bytes and mtime."""
    return {p.relative_to(folder): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Path:
    """A content folder holding the ten posts of the test feed, ingested by the CLI (from the
    current folder, like the tests that use it: a page's ``source`` is the feed path relative to it)."""
    root = tmp_path_factory.mktemp("ingested")
    assert invoke("ingest", str(ATOM), "--content-dir", str(root / "content")).exit_code == 0
    return root / "content"


@pytest.fixture
def content(ingested, tmp_path) -> Path:
    shutil.copytree(ingested, tmp_path / "content")
    return tmp_path / "content"


# ---------------------------------------------------------------------------- ingest: its state

STATE = ".ingest-state.json"
BAD_STATES = {
    "not JSON": (b'{"version": 1,', "unreadable"),
    "a list": (b"[1]", "not a version 1 ingest state"),
    "another version": (b'{"version": 2, "sources": {}, "entries": {}}', "not a version 1 ingest state"),
    "no sources": (b'{"version": 1}', "'sources' is missing"),
    "a list for sources": (b'{"version": 1, "sources": [], "entries": {}}', "'sources' must be a mapping, not list"),
    "an entry without a page": (b'{"version": 1, "sources": {}, "entries": {"x": {"input": ""}}}',
                                "entries 'x': 'page' is missing"),
    "a page outside posts/": (
        b'{"version": 1, "sources": {}, "entries": {"https://lucumr.pocoo.org/2025/12/13/skills-vs-mcp/":'
        b' {"page": "../../escaped.md"}}}', "'page' must name a page posts/<slug>.md, not '../../escaped.md'"),
    "a number for an ETag": (b'{"version": 1, "sources": {"feed": {"etag": 5}}, "entries": {}}',
                             "sources 'feed': 'etag' must be a string, not int"),
}


@pytest.mark.parametrize("case", sorted(BAD_STATES))
def test_a_bad_state_file_is_rebuilt_from_the_pages_with_one_warning(case, content):
    """The state is a cache of what the pages say: a broken one is rebuilt, and no page changes."""
    data, reason = BAD_STATES[case]
    (content / STATE).write_bytes(data)
    posts = tree(content / "posts")
    result = invoke("ingest", str(ATOM), "--content-dir", str(content))
    assert (result.exit_code, result.stdout) == (0, "0 added, 0 updated, 10 unchanged\n")
    (warning,) = result.stderr.splitlines()
    assert warning.startswith(f"blogtools: warning: {content / STATE}: ") and reason in warning
    assert warning.endswith("; rebuilt it from the pages")
    assert tree(content / "posts") == posts
    assert not (content.parent / "escaped.md").exists() and not (content.parent.parent / "escaped.md").exists()
    state = json.loads((content / STATE).read_text())
    assert sorted(record["page"] for record in state["entries"].values()) == sorted(
        f"posts/{name}" for name in posts)
    again = tree(content)
    assert invoke("ingest", str(ATOM), "--content-dir", str(content)).stderr == ""
    assert tree(content) == again


# ---------------------------------------------------------------------------- ingest: its pages

BAD_PAGES = {
    "broken YAML": (b"---\ntitle: [unclosed\n---\n\nMy notes.\n", "bad YAML front matter: "),
    "a list for front matter": (b"---\n- a\n- b\n---\n\nMy notes.\n", "the front matter is a list, not a mapping"),
    "bytes that are not UTF-8": (b"---\ntitle: \xff\xfe\n---\n", "cannot read: 'utf-8' codec can't decode byte 0xff"),
    "an impossible date": (b"---\ndate: 2025-13-45\n---\n", "bad YAML front matter: month must be in 1..12"),
    "a list for entry_id": (b"---\nentry_id: [a, b]\n---\n", "front matter 'entry_id' must be a string"),
}


@pytest.mark.parametrize("state", [b"[1]", None], ids=["bad state", "no state"])
@pytest.mark.parametrize("case", sorted(BAD_PAGES))
def test_a_bad_page_met_while_rebuilding_the_state_is_one_error_line(case, state, content):
    if state is None:
        (content / STATE).unlink()
    else:
        (content / STATE).write_bytes(state)
    data, reason = BAD_PAGES[case]
    page = content / "posts/notes.md"
    page.write_bytes(data)
    before = tree(content)
    proc = subprocess.run([sys.executable, "-m", "blogtools", "ingest", str(ATOM), "--content-dir", str(content)],
                          capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout) == (1, "")
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"blogtools: error: {page}: ") and reason in line, line
    assert tree(content) == before


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
