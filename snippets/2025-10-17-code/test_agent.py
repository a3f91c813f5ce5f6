"""agent.py: the step-cached loop, its stores, and the essay's agent run reproduced (real SDK,
local Messages server replaying the essay's conversation, real Pyodide): through `blogtools run
2025-10-17-code/03` where the test is about that command or about a process of its own (killed in
a step, answered from the cache), in this process on the module's shared sandbox otherwise."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from agent import (
    FileStore,
    PostgresStore,
    RunSummary,
    agent_loop,
    default_task_id,
    initial_state,
    run_agent,
)
from agent_script import PROMPT, essay_turns
from agentic_loop import Interrupted, toy_step
from local_server import LocalServer
from pngcheck import decode_png

from blogtools.errors import BlogtoolsError
from blogtools.harness.llm import ReplayBackend

# --- the loop and its stores ----------------------------------------------------------------------


@pytest.fixture(params=["file", "postgres"])
def store(request, tmp_path):
    if request.param == "file":
        yield FileStore(tmp_path / "agent-cache")
    else:
        pg_dsn = request.getfixturevalue("pg_dsn")
        store = PostgresStore(pg_dsn)
        yield store
        store.close()


def test_the_loop_caches_every_step_and_resumes_after_a_crash(store):
    calls: list[int] = []
    with pytest.raises(Interrupted, match="interrupted in step 3"):
        agent_loop("t1", initial_state("p"), toy_step(calls, interrupt_at=3), store)
    assert calls == [1, 2]
    assert store.load("t1:3") is None and len(store.load("t1:2")["messages"]) == 3

    calls.clear()
    final = agent_loop("t1", initial_state("p"), toy_step(calls), store)
    assert calls == [3, 4]  # steps 1 and 2 came from the cache
    assert final["done"] and [m["content"] for m in final["messages"][1:]] == [f"step {n}" for n in range(1, 5)]

    calls.clear()
    assert agent_loop("t1", initial_state("p"), toy_step(calls), store) == final
    assert calls == []


def test_a_cache_entry_for_another_prompt_is_refused(store):
    agent_loop("t2", initial_state("first prompt"), toy_step([]), store, max_steps=1)
    with pytest.raises(BlogtoolsError, match="step cache t2:1: saved for another prompt .'first prompt'."):
        agent_loop("t2", initial_state("second prompt"), toy_step([]), store)


def test_file_store_names_files_as_the_transcript_does(tmp_path):
    store = FileStore(tmp_path / "agent-cache")
    store.save("0:1", {"x": 1})
    assert (tmp_path / "agent-cache" / "task-0-step-1.json").exists()
    with pytest.raises(BlogtoolsError, match="task id '../x'"):
        store.save("../x:1", {})
    with pytest.raises(BlogtoolsError, match="cache key 'nostep'"):
        store.load("nostep")


# --- the essay's run, through the CLI --------------------------------------------------------------


@pytest.fixture
def ip_server():
    with LocalServer() as srv:
        yield srv


@pytest.fixture
def essay_model(messages_server):
    messages_server.backend = ReplayBackend(essay_turns())
    return messages_server


SNIPPETS = Path(__file__).resolve().parents[1]


def run_command(ident: str, *args: str) -> list[str]:
    """`blogtools run IDENT -- ARGS...`: how a reader runs the essay's blocks."""
    return [sys.executable, "-m", "blogtools", "-f", str(SNIPPETS.parent / "mkdocs.yml"), "run", ident, "--", *args]


def agent_command(cwd: Path, ip_server, model_server, *extra: str) -> list[str]:
    return run_command("2025-10-17-code/03", PROMPT, "--task-id", "0", "--base-url", model_server.base_url,
                       "--resource", f"current-ip={ip_server.url}/ip", *extra)


def run_agent_cli(cwd: Path, ip_server, model_server, *extra: str) -> str:
    proc = subprocess.run(agent_command(cwd, ip_server, model_server, *extra), cwd=cwd,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def sandbox_here(shared_sandbox, sandbox_network, ip_server, tmp_path, monkeypatch):
    """The module's shared sandbox, its /network/current-ip served by this test's ``ip_server``;
    the working directory is ``tmp_path``, where the command's runs keep agent-cache and output."""
    monkeypatch.chdir(tmp_path)
    sandbox_network.update({"current-ip": f"{ip_server.url}/ip"})
    yield shared_sandbox
    sandbox_network.clear()


def run_agent_here(model_server, sandbox, store=None) -> tuple[str, RunSummary]:
    """The run `blogtools run 2025-10-17-code/03 -- PROMPT --task-id 0` makes in the working
    directory, in this process on ``sandbox``: the transcript it prints and its summary."""
    printed: list[str] = []
    summary = run_agent(PROMPT, model_server.client(), store or FileStore(Path("agent-cache")), {}, "0",
                        Path("output"), echo=printed.append, sandbox=sandbox)
    return "".join(f"{text}\n" for text in printed), summary


def steps_of(transcript: str) -> dict[int, str]:
    parts = re.split(r"^Step (\d+):$", transcript, flags=re.M)
    return {int(number): body for number, body in zip(parts[1::2], parts[2::2])}


@pytest.mark.sandbox
def test_the_essay_run_is_reproduced_and_then_answered_from_the_cache(tmp_path, ip_server, essay_model, sandbox_here):
    transcript, summary = run_agent_here(essay_model, sandbox_here)
    assert (summary.steps, summary.cached_steps, summary.model_requests) == (4, 0, 4)
    steps = steps_of(transcript)
    assert sorted(steps) == [1, 2, 3, 4]
    assert "Current IP Address: 255.255.255.255" in steps[1]
    assert '"success": false' in steps[2]
    assert "Traceback (most recent call last)" in steps[2]
    assert 'File \\"<exec>\\", line 2, in <module>' in steps[2]  # import matplotlib.pyplot
    assert "ModuleNotFoundError: No module named 'matplotlib'" in steps[2]
    assert '"success": true' in steps[3] and "Picture saved to /output/ip_address.png" in steps[3]
    assert "Stop reason: end_turn" in steps[4] and "Final result: Perfect!" in steps[4]
    assert "Total steps: 4" in transcript and "  ✓ ip_address.png" in transcript
    assert decode_png((tmp_path / "output" / "ip_address.png").read_bytes())[:2] == (640, 320)
    for n in range(1, 5):
        assert f"[Cache] Saved state to: agent-cache/task-0-step-{n}.json" in steps[n]
        assert (tmp_path / "agent-cache" / f"task-0-step-{n}.json").is_file()
    assert len(essay_model.requests) == 4
    assert ip_server.ip_hits == 2  # steps 1 and 3 read /network/current-ip

    png = (tmp_path / "output" / "ip_address.png").read_bytes()
    (tmp_path / "output" / "ip_address.png").unlink()
    again = run_agent_cli(tmp_path, ip_server, essay_model)  # the command, on the cache the first run left
    assert len(essay_model.requests) == 4  # no model request in the second run
    assert ip_server.ip_hits == 2  # and no code ran
    for n in range(1, 5):
        assert f"[Cache] Loaded state from: agent-cache/task-0-step-{n}.json" in again
    assert "4 steps (4 from the cache), 0 model requests" in again
    assert (tmp_path / "output" / "ip_address.png").read_bytes() == png


@pytest.mark.sandbox
def test_a_run_killed_in_step_3_resumes_from_the_cache(tmp_path, ip_server, essay_model, sandbox_here):
    arrived, release = threading.Event(), threading.Event()
    ip_server.ip_gate.append((2, arrived, release))  # the second IP lookup is step 3's
    proc = subprocess.Popen(agent_command(tmp_path, ip_server, essay_model), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert arrived.wait(120), "step 3 never read /network/current-ip"
        os.kill(proc.pid, signal.SIGKILL)
        killed_output = proc.communicate(timeout=30)[0]
    finally:
        release.set()
    assert proc.returncode == -signal.SIGKILL
    assert "Step 3:" not in killed_output
    cache = tmp_path / "agent-cache"
    assert sorted(p.name for p in cache.glob("*.json")) == ["task-0-step-1.json", "task-0-step-2.json"]
    assert len(essay_model.requests) == 3

    resumed = steps_of(run_agent_here(essay_model, sandbox_here)[0])
    assert "[Cache] Loaded state from: agent-cache/task-0-step-1.json" in resumed[1]
    assert "[Cache] Loaded state from: agent-cache/task-0-step-2.json" in resumed[2]
    assert "[Cache] Saved state to: agent-cache/task-0-step-3.json" in resumed[3]
    assert "Stop reason: end_turn" in resumed[4]
    assert len(essay_model.requests) == 5  # the resumed run asked only for steps 3 and 4
    assert decode_png((tmp_path / "output" / "ip_address.png").read_bytes())[:2] == (640, 320)


@pytest.mark.sandbox
def test_the_run_with_the_postgres_store(tmp_path, ip_server, essay_model, pg_dsn, sandbox_here):
    import psycopg

    store = PostgresStore(pg_dsn)
    try:
        run_agent_here(essay_model, sandbox_here, store)
    finally:
        store.close()
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT cache_key, state->'done' FROM agent_step_cache ORDER BY cache_key").fetchall()
    assert rows == [("0:1", False), ("0:2", False), ("0:3", False), ("0:4", True)]
    again = run_agent_cli(tmp_path, ip_server, essay_model, "--store", "postgres", "--database-url", pg_dsn)
    assert "4 steps (4 from the cache), 0 model requests" in again
    assert len(essay_model.requests) == 4
    assert not (tmp_path / "agent-cache").exists()  # neither run kept a file cache beside the table


@pytest.mark.sandbox
def test_blogtools_run_reproduces_the_transcript_offline(tmp_path):
    """`blogtools run 2025-10-17-code/03`: the default scripted run, with nothing but this machine."""
    proc = subprocess.run(run_command("2025-10-17-code/03")[:-1], cwd=tmp_path, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "Your IP Address: 255.255.255.255" in proc.stdout and "Total steps: 4" in proc.stdout
    summary = f"agent: task {default_task_id(PROMPT)}: 4 steps (0 from the cache), 4 model requests, 1 file(s) in output"
    assert proc.stdout.splitlines()[-1] == summary
    assert decode_png((tmp_path / "output" / "ip_address.png").read_bytes())[:2] == (640, 320)
    assert len(list((tmp_path / "agent-cache").glob("task-*-step-*.json"))) == 4


def test_blogtools_run_shows_the_loop_resuming(tmp_path):
    proc = subprocess.run(run_command("2025-10-17-code/02")[:-1], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "first run: ran steps [1, 2], then interrupted in step 3" in proc.stdout
    assert "second run: ran steps [3, 4]; done=True" in proc.stdout


def test_a_prompt_the_script_does_not_know_is_one_clear_error(tmp_path):
    proc = subprocess.run(run_command("2025-10-17-code/03", "Draw a cat."), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    [line] = proc.stderr.splitlines()
    assert line.startswith("blogtools: error: model request for step 1 failed:")
    assert "scripted turn 1 of 4 does not match" in line and "'Draw a cat.'" in line


def test_a_bad_resource_option_is_one_clear_error(tmp_path):
    proc = subprocess.run(run_command("2025-10-17-code/03", PROMPT, "--resource", "current-ip"),
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr == "blogtools: error: --resource 'current-ip': expected NAME=http(s)://URL (NAME without '/')\n"


@pytest.mark.live
@pytest.mark.sandbox
def test_the_live_model_runs_the_task(tmp_path, ip_server):
    proc = subprocess.run(run_command("2025-10-17-code/03", PROMPT, "--llm", "anthropic",
                                      "--resource", f"current-ip={ip_server.url}/ip"),
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "Stop reason: end_turn" in proc.stdout
    assert ip_server.ip_hits >= 1
