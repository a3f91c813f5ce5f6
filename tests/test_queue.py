"""Triage on a shared Postgres queue (Absurd): the schema loader, the task and result read as
untrusted, and `blogtools worker` processes (real Postgres, real sandbox) that are SIGKILLed and
SIGTERMed while they hold a task, ending with the verdicts a local triage gives."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from blogtools import queue, triage
from blogtools.sandbox import Limits, unavailable_reason
from clirun import invoke

CORPUS_FEED = Path(__file__).resolve().parents[2] / "shared/corpus/other/bernsteinbear_mistune-build_feed.xml"
# A subset of that feed's posts: two whose Python blocks run (a sandbox start each), four decided
# without a run (C, Rust, Ruby, output).
CORPUS_POSTS = ("2025-09-23-walking-around", "2026-02-25-toy-fuzzer", "2025-11-11-compiler-effects",
                "2025-12-18-jit-perf-map", "2025-12-24-launch-zjit", "2025-12-30-gdb-jit")
SLOW_PAGE = """---
format: 2
title: "Slow"
date: 2025-01-01T00:00:00+00:00
slug: "slow"
---
```python
import time
time.sleep(2)
print("one")
```

```python
import time
time.sleep(2)
print("two")
```

```python
print("three")
```
"""
no_sandbox = pytest.mark.skipif(unavailable_reason() is not None,
                                reason=f"the sandbox cannot run here: {unavailable_reason()}")


def blogtools(*args: str, cwd: Path, knob: str = "", **popen) -> subprocess.Popen:
    """`blogtools ARGS` as its own process (in its own session, at a lower priority), where ``knob``
    (Python) runs first."""
    command = [sys.executable, "-c", f"{knob}\nfrom blogtools.cli import main\nmain()"] if knob else \
        [sys.executable, "-m", "blogtools"]
    return subprocess.Popen([*command, *args], cwd=cwd, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=lambda: os.nice(5), **popen)


def worker(dsn: str, tmp_path: Path, claim_timeout: int = 5, knob: str = "") -> subprocess.Popen:
    return blogtools("worker", "--queue", dsn, "--claim-timeout", str(claim_timeout), cwd=tmp_path, knob=knob)


def stopped(process: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 120) -> tuple[int, str]:
    """Signal a worker and wait for it; its exit status and output."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        out, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode, out


def finished(process: subprocess.Popen, timeout: float) -> str | None:
    """The output of ``process`` once it exits, or None (and it is killed) past ``timeout``."""
    try:
        return process.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return None


def runs(dsn: str) -> list[tuple]:
    """Every run on the triage queue: (task, state, claimed by, failure reason)."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT task_id::text, state, claimed_by, failure_reason FROM absurd.r_{queue.QUEUE}"
                            " ORDER BY created_at").fetchall()


def wait_for(condition, timeout: float = 300, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def claimed_by(process: subprocess.Popen):
    worker_id = f"{socket.gethostname()}:{process.pid}"
    return lambda dsn: [run for run in runs(dsn) if run[1] == "running" and run[2] == worker_id]


def judged(root: Path) -> dict[str, tuple]:
    """Each block's verdict, reason and needs from results.json (and the output, apart)."""
    stored = json.loads((root / "snippets/results.json").read_text())
    return {ident: (item["fingerprint"], item["triage"]["verdict"], item["triage"]["reason"],
                    item["triage"]["needs"], item["triage"]["after"]) for ident, item in stored.items()}


# --- without a server ---------------------------------------------------------------------------------

def test_a_task_carries_blocks_and_limits_only_and_is_read_as_untrusted():
    blocks = [triage.Block(1, "python", "print(1)"), triage.Block(2, "", "")]
    params = queue.task_params(blocks)
    assert set(params) == {"runtime", "limits", "blocks"}
    assert queue.read_task(json.loads(json.dumps(params))) == (blocks, triage.LIMITS)
    refused = {
        "a path": {**params, "path": "/etc/passwd"},
        "looser limits": {**params, "limits": {**params["limits"], "cpu_seconds": 3600}},
        "another runtime": {**params, "runtime": "triage-0 pyodide-0 deno-0"},
        "a block with more": {**params, "blocks": [{**params["blocks"][0], "module": "os"}]},
        "an ordinal not a number": {**params, "blocks": [{**params["blocks"][0], "ordinal": True}]},
        "a huge text": {**params, "blocks": [{**params["blocks"][0], "text": "x" * (queue.MAX_TEXT_CHARS + 1)}]},
    }
    for what, task in refused.items():
        with pytest.raises(ValueError):
            queue.read_task(task)
            pytest.fail(f"{what} was accepted")


def test_a_worker_result_is_refused_or_made_safe_like_the_sandbox_output():
    good = triage.Verdict(triage.RUNS, "ran to completion", output="\x1b]8;;http://evil\x07hi\u202e\n").as_json()
    bad = {"verdict": "runs", "reason": "x", "needs": [{"kind": "module", "what": "os"}]}
    assert queue.read_result([good], 1)[0].output == "hi\n"
    for result, count in (([good], 2), ("runs", 1), ([bad], 1), ([{"verdict": "pwned", "reason": ""}], 1)):
        with pytest.raises((ValueError, KeyError, TypeError)):
            queue.read_result(result, count)


def test_the_key_is_the_site_the_blocks_and_the_runtime():
    params = queue.task_params([triage.Block(1, "python", "print(1)")])
    key = queue.idempotency_key("https://a.example/", params)
    assert key == queue.idempotency_key("https://a.example/", json.loads(json.dumps(params)))
    assert key != queue.idempotency_key("https://b.example/", params)
    assert key != queue.idempotency_key("https://a.example/", queue.task_params([triage.Block(1, "python", "print(2)")]))
    assert key != queue.idempotency_key("https://a.example/", {**params, "runtime": "triage-2"})
    assert key != queue.idempotency_key("https://a.example/", queue.task_params([triage.Block(1, "python", "print(1)")],
                                                                                 Limits(cpu_seconds=1)))


def test_without_the_queue_extra_one_error_line_names_it(tmp_path):
    hide = "import sys; sys.modules['absurd_sdk'] = sys.modules['absurdctl'] = None; from blogtools.cli import main; main()"
    done = subprocess.run([sys.executable, "-c", hide, "worker", "--queue", "dbname=x"], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr == "blogtools: error: absurdctl is not installed: pip install 'blogtools[queue]'\n"


# --- with Postgres --------------------------------------------------------------------------------------

def test_the_schema_loader_is_idempotent_and_refuses_another_version(pg_dsn):
    assert queue.install_schema(pg_dsn) is True
    assert queue.install_schema(pg_dsn) is False
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert conn.execute("SELECT absurd.get_schema_version()").fetchone()[0] == queue.SCHEMA_VERSION
        assert (queue.QUEUE,) in conn.execute("SELECT * FROM absurd.list_queues()").fetchall()
        conn.execute("CREATE OR REPLACE FUNCTION absurd.get_schema_version() RETURNS text LANGUAGE sql AS $$ SELECT '9.9'::text $$")
    with pytest.raises(Exception, match=r"holds Absurd's schema 9\.9, blogtools needs 0\.5\.1"):
        queue.install_schema(pg_dsn)


def test_an_unreachable_queue_is_one_error_line_and_nothing_is_written(tmp_path):
    site = small_site(tmp_path / "site", "2025-01-01-slow", SLOW_PAGE)
    done = invoke("triage", "--queue", f"host={tmp_path} dbname=nowhere", cwd=site)
    assert done.exit_code == 1
    assert done.stderr.startswith("blogtools: error: queue nowhere@") and "cannot connect" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (site / "snippets/results.json").exists()


def small_site(root: Path, slug: str, page: str) -> Path:
    root.mkdir(parents=True)
    shutil.copy(Path(__file__).resolve().parents[1] / "mkdocs.yml", root / "mkdocs.yml")
    (root / "content/posts").mkdir(parents=True)
    (root / f"content/posts/{slug}.md").write_text(page)
    assert invoke("extract", cwd=root).exit_code == 0
    return root


def corpus_site(root: Path) -> Path:
    """A site made by `blogtools new` from a corpus feed, cut down to CORPUS_POSTS."""
    assert invoke("new", str(root), "--feed", str(CORPUS_FEED)).exit_code == 0
    assert invoke("ingest", cwd=root).exit_code == 0
    for page in (root / "content/posts").glob("*.md"):
        if page.stem not in CORPUS_POSTS:
            page.unlink()
    assert invoke("extract", cwd=root).exit_code == 0
    return root


@pytest.mark.slow
@no_sandbox
def test_two_workers_one_killed_holding_a_task_give_a_local_triages_verdicts_each_once(tmp_path, pg_dsn):
    site = corpus_site(tmp_path / "site")
    local = shutil.copytree(site, tmp_path / "local")
    done = invoke("triage", cwd=local)
    assert done.exit_code == 0, done.output
    queue.install_schema(pg_dsn)  # before anyone polls its tables
    triager = blogtools("triage", "--queue", pg_dsn, cwd=site)
    # The doomed worker's lease is short (the tests' stand-in for the default 60 s); the survivor's
    # outlasts a sandbox start on a loaded machine.
    doomed, survivor = worker(pg_dsn, tmp_path, claim_timeout=5), worker(pg_dsn, tmp_path, claim_timeout=120)
    try:
        held = wait_for(lambda: claimed_by(doomed)(pg_dsn), what="the first worker to hold a task")
        os.killpg(doomed.pid, signal.SIGKILL)
        out = finished(triager, timeout=600)
    finally:
        stopped(doomed)
        code, said = stopped(survivor)
    assert out is not None, f"the triage still waited after 600 s; the surviving worker ({code}) said: {said}"
    assert triager.returncode == 0, out
    assert code == 0 and said.strip().endswith("task(s)"), said
    assert " queued" not in out and "not triaged" not in out, out
    assert judged(site) == judged(local)  # every block: the same verdict, reason, needs (and fingerprint)
    ran_here = json.loads((local / "snippets/results.json").read_text())
    ran_there = json.loads((site / "snippets/results.json").read_text())
    assert {ident: item["triage"]["output"] for ident, item in ran_there.items()} == \
           {ident: item["triage"]["output"] for ident, item in ran_here.items()}
    every = runs(pg_dsn)
    killed_task = held[0][0]
    assert [(state, (failure or {}).get("name")) for task, state, _, failure in every if task == killed_task] == \
           [("failed", "$ClaimTimeout"), ("completed", None)]
    completed = [task for task, state, _, _ in every if state == "completed"]
    assert len(completed) == len(set(completed)) == len({path.stem for path in (site / "content/posts").glob("*.md")})


@pytest.mark.slow
@no_sandbox
def test_sigterm_hands_the_task_back_and_collect_gathers_it_later(tmp_path, pg_dsn):
    site = small_site(tmp_path / "site", "2025-01-01-slow", SLOW_PAGE)
    (site / "content/posts/2025-01-02-again.md").write_text(SLOW_PAGE.replace('"slow"', '"again"'))
    assert invoke("extract", cwd=site).exit_code == 0  # a second post of the same text: one task for both
    queued = invoke("triage", "--queue", pg_dsn, "--no-wait", cwd=site)
    assert queued.exit_code == 0 and queued.stdout.startswith("triage: 0 triaged, 0 current, 0 skipped (curated), 6 queued")
    assert "2 post(s) as 1 task(s)" in queued.stderr
    assert json.loads((site / "snippets/results.json").read_text()) == {}
    first = worker(pg_dsn, tmp_path, claim_timeout=120)
    try:
        wait_for(lambda: claimed_by(first)(pg_dsn), what="the worker to hold the task")
    finally:
        code, said = stopped(first, timeout=60)
    assert code == 0 and "stopped after 0 task(s)" in said, said
    [(task, state, _, failure)] = runs(pg_dsn)[:1]
    assert (state, failure["name"]) == ("failed", "WorkerStopped")  # handed back at once, not after the lease
    assert runs(pg_dsn)[1][1] == "pending"
    early = invoke("triage", "--queue", pg_dsn, "--collect", cwd=site)
    assert early.exit_code == 0 and "6 queued" in early.stdout
    second = worker(pg_dsn, tmp_path, claim_timeout=120)
    try:
        wait_for(lambda: any(run[1] == "completed" for run in runs(pg_dsn)), what="the task to complete")
    finally:
        code, _ = stopped(second)
    collected = invoke("triage", "--queue", pg_dsn, "--collect", cwd=site)
    assert collected.exit_code == 0 and collected.stdout.startswith("triage: 6 triaged"), collected.output
    stored = json.loads((site / "snippets/results.json").read_text())
    assert [item["triage"]["output"] for item in stored.values()] == ["one\n", "two\n", "three\n"] * 2
    again = invoke("triage", "--queue", pg_dsn, cwd=site)
    assert again.stdout.startswith("triage: 0 triaged, 6 current")
    everything = invoke("triage", "--all", "--queue", pg_dsn, cwd=site)  # done once: answered at once
    assert everything.stdout.startswith("triage: 6 triaged") and len(runs(pg_dsn)) == 2


def attempts(dsn: str) -> dict[str, tuple]:
    """Every task on the triage queue: its state and the attempts it has used."""
    with psycopg.connect(dsn) as conn:
        return dict((task, (state, used)) for task, state, used in conn.execute(
            f"SELECT task_id::text, state, attempts FROM absurd.t_{queue.QUEUE}").fetchall())


@pytest.mark.slow
@no_sandbox
def test_a_worker_whose_sandbox_fails_its_self_check_hands_its_task_back_and_stops(tmp_path, pg_dsn):
    site = small_site(tmp_path / "site", "2025-01-01-sums", SLOW_PAGE.replace("time.sleep(2)", "pass"))
    assert invoke("triage", "--queue", pg_dsn, "--no-wait", cwd=site).exit_code == 0
    [task] = attempts(pg_dsn)
    # the channel ring removed in the worker's process (as tests/test_selfcheck.py does); a short
    # lease, so that a task left to expire would be failed ($ClaimTimeout) by the next claim
    broken = worker(pg_dsn, tmp_path, claim_timeout=5,
                    knob="import blogtools.sandbox.channel as c\nc.check_name = lambda *a, **k: None")
    try:
        out, _ = broken.communicate(timeout=300)  # it stops by itself
    finally:
        code, _ = stopped(broken)
    assert code == 1, out
    assert [line for line in out.splitlines() if "error" in line or "self-check" in line] == [
        "blogtools: error: sandbox self-check failed (channel): the host accepted an absolute output name; "
        "this worker stopped claiming and handed its task back to the queue unfailed"], out
    assert [(state, claimer, failure) for _, state, claimer, failure in runs(pg_dsn)] == [("sleeping", None, None)]
    assert attempts(pg_dsn) == {task: ("sleeping", 1)}  # its first attempt, not spent: claimable by anyone now
    collected = invoke("triage", "--queue", pg_dsn, "--collect", cwd=site)
    assert collected.stdout.startswith("triage: 0 triaged, 0 current, 0 skipped (curated), 3 queued"), collected.output
    assert json.loads((site / "snippets/results.json").read_text()) == {}
    # A task whose limits would fail the self-check if it ran under them (stream_chars=1: the
    # canaries cannot report) is the task's doing, not the machine's: a healthy worker checks its
    # sandbox under its own limits, runs both tasks and keeps claiming.
    tight = queue.task_params([triage.Block(1, "python", "print('tight')")],
                              dataclasses.replace(triage.LIMITS, stream_chars=1))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        tight_task = str(queue._module("absurd_sdk").Absurd(conn, queue_name=queue.QUEUE).spawn(
            queue.TASK, tight, queue=queue.QUEUE, max_attempts=queue.MAX_ATTEMPTS)["task_id"])
    healthy = worker(pg_dsn, tmp_path, claim_timeout=120)
    try:
        wait_for(lambda: healthy.poll() is not None or [state for state, _ in attempts(pg_dsn).values()] == ["completed"] * 2,
                 what="both tasks to complete")
    finally:
        code, said = stopped(healthy)
    assert code == 0 and "stopped after 2 task(s)" in said, said
    assert attempts(pg_dsn) == {task: ("completed", 1), tight_task: ("completed", 1)}
    assert [(state, failure) for run, state, _, failure in runs(pg_dsn) if run == task] == [("completed", None)]
    collected = invoke("triage", "--queue", pg_dsn, "--collect", cwd=site)
    assert collected.exit_code == 0 and collected.stdout.startswith("triage: 3 triaged"), collected.output
    stored = json.loads((site / "snippets/results.json").read_text())
    assert [(item["triage"]["verdict"], item["triage"]["output"]) for item in stored.values()] == \
           [(triage.RUNS, "one\n"), (triage.RUNS, "two\n"), (triage.RUNS, "three\n")]
