"""2025-12-13-skills-vs-mcp: the essay's mcporter command, run for real against a local MCP server."""

import asyncio
import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from blogtools.harness.node import NODE, node_env

SNIPPET_DIR = Path(__file__).resolve().parent
ROOT = SNIPPET_DIR.parents[1]
PUBLISHED = """npx mcporter call 'linear.create_comment(issueId: "ENG-123", body: "Looks good!")'"""
MCPORTER_CLI = ROOT / "node_modules" / "mcporter" / "dist" / "cli.js"


@pytest.fixture
def comments(tmp_path, monkeypatch):
    """The file the linear server stores comments in; HOME is a fresh folder (no user MCP configs)."""
    path = tmp_path / "comments.jsonl"
    monkeypatch.setenv("LINEAR_COMMENTS_FILE", str(path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("npm_config_update_notifier", "false")
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    return path


def stored(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.node
def test_the_published_command_creates_the_comment(comments):
    done = subprocess.run(PUBLISHED, shell=True, cwd=SNIPPET_DIR, env=node_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    [comment] = stored(comments)
    assert comment["issueId"] == "ENG-123" and comment["body"] == "Looks good!"
    assert json.loads(done.stdout) == comment, "mcporter prints the tool's result"


@pytest.mark.node
def test_mcporter_does_not_read_a_bare_mcp_json(comments, tmp_path):
    """Drift: the essay says mcporter reads .mcp.json; 0.12.3 reads config/mcporter.json instead."""
    alone = tmp_path / "only-mcp-json"
    alone.mkdir()
    for name in (".mcp.json", "linear_server.py"):
        shutil.copy(SNIPPET_DIR / name, alone / name)
    done = subprocess.run([str(NODE), str(MCPORTER_CLI), "call", 'linear.create_comment(issueId: "ENG-1", body: "x")'],
                          cwd=alone, env=node_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Unknown MCP server 'linear'" in done.stderr + done.stdout
    assert not comments.exists()


def test_mcporter_config_declares_the_server_of_the_mcp_json():
    declared = json.loads((SNIPPET_DIR / ".mcp.json").read_text())["mcpServers"]["linear"]
    for_mcporter = json.loads((SNIPPET_DIR / "config" / "mcporter.json").read_text())["mcpServers"]["linear"]
    assert for_mcporter.pop("cwd") == ".."
    assert for_mcporter == declared


def test_the_published_command_matches_the_extracted_snippet():
    extracted = sorted(SNIPPET_DIR.glob("[0-9][0-9]-*"))
    assert extracted, "snippets/2025-12-13-skills-vs-mcp/NN-* is missing: run `blogtools extract`"
    assert PUBLISHED in [line.removeprefix("$ ").strip() for line in extracted[0].read_text().splitlines()]


def test_python_mcp_client_makes_the_same_call(comments, monkeypatch, capfd):
    monkeypatch.syspath_prepend(str(SNIPPET_DIR))
    monkeypatch.delitem(sys.modules, "create_comment", raising=False)
    importlib.import_module("create_comment").main()
    printed = json.loads(capfd.readouterr().out)
    [comment] = stored(comments)
    assert printed == comment
    assert comment["issueId"] == "ENG-123" and comment["body"] == "Looks good!"
    assert comment["id"].startswith("comment-")


def test_comments_accumulate(comments, monkeypatch):
    monkeypatch.syspath_prepend(str(SNIPPET_DIR))
    monkeypatch.delitem(sys.modules, "create_comment", raising=False)
    module = importlib.import_module("create_comment")
    for body in ("first", "second"):
        asyncio.run(module.call_tool("linear", "create_comment", {"issueId": "ENG-7", "body": body}))
    assert [c["body"] for c in stored(comments)] == ["first", "second"]
