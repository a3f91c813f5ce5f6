"""The essay's TypeScript blocks run as published (blogtools.published): each block's own text on
Node 24 with absurd-sdk 0.0.3 and the Vercel AI SDK (ai 5.0.86, @ai-sdk/anthropic 2.0.40), inside
the harness files the manifest names, on a database with Absurd's schema; the model is the local
Messages API server replaying a scripted conversation. Every test reads Absurd's rows.

Blocks 04 and 05 call ``ctx.sleep`` and ``ctx.waitForEvent``, which no Absurd release has: as
published they fail (their manifest entries expect it); their nearest working forms (the
``working_patch`` files: ``sleepFor``, ``awaitEvent``) run.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from blogtools import manifest, project
from blogtools.harness import forms
from blogtools.harness.llm import Turn
from blogtools.harness.llm.expectations import text, tool_result, tool_use

pytestmark = [pytest.mark.postgres, pytest.mark.node]
POST = "2025-11-03-absurd-workflows"
Q = "agents"  # the queue the harness files use
SITE = project.load(start=__file__)


def entry(ordinal: int):
    return manifest.read(SITE.snippets_dir)[f"{POST}/{ordinal:02d}"]


def rows(dsn, query, *args):
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.cursor(row_factory=dict_row).execute(query, args).fetchall()


def pg_url(dsn: str) -> str:
    """A libpq DSN as the URL node-postgres reads (the harness's server listens on a Unix socket)."""
    params = conninfo_to_dict(dsn)
    host = params.pop("host", "")
    user, database = params.pop("user", ""), params.pop("dbname", "")
    query = urlencode({"host": host, **params}) if host.startswith("/") else urlencode(params)
    netloc = f"{quote(user)}@" + ("" if host.startswith("/") else host)
    return f"postgresql://{netloc}/{quote(database)}" + (f"?{query}" if query else "")


def run(ordinal, dsn, *args, server=None, working=False):
    """Run block ``ordinal``'s published form (or its working form) with the harness's services."""
    env = {"ABSURD_DATABASE_URL": pg_url(dsn)}
    if server is not None:
        env |= {"ANTHROPIC_BASE_URL": f"{server.base_url}/v1", "ANTHROPIC_API_KEY": "test"}
    done = forms.run(SITE, entry(ordinal), args, env=env, working=working)
    assert done.ok, done.error
    return done


def weather_script(cities):
    """The model asks for each city's weather in turn (the AI SDK names the tool getWeather), then answers."""
    turns, last = [], None
    for number, city in enumerate(cities, start=1):
        turns.append(Turn(reply=[tool_use("getWeather", {"city": city}, id=f"toolu_{number:02d}")], last_message=last))
        last = tool_result(f"toolu_{number:02d}")
    return turns + [Turn(reply=[text("Sunny everywhere.")], last_message=last)]


def assert_run_state(dsn, done, task_id, state):
    """The task's first run is in ``state``; if it failed, the error Absurd stored, located in the block."""
    first = rows(dsn, f"SELECT state, failure_reason FROM absurd.r_{Q} WHERE task_id = %s ORDER BY attempt", task_id)[0]
    if first["state"] == "failed" and state != "failed":
        reason = first["failure_reason"] or {}
        frame = next((line.strip() for line in reason.get("stack", "").splitlines()[1:] if ".mts:" in line), "")
        raise AssertionError(done.locate(f"the task failed: {reason.get('name')}: {reason.get('message')} {frame}"))
    assert first["state"] == state


# --- 03: one step of the agent, the AI SDK against the local Messages API server -----------------


def test_single_step_calls_the_model_with_the_tool_and_answers_the_tool_call(absurd_dsn, messages_server):
    messages_server.script(weather_script(["Boston"])[:1])
    done = run(3, absurd_dsn, "What's the weather like in Boston?", server=messages_server)

    request = messages_server.requests[0]
    assert (request["model"], request["system"][0]["text"]) == ("claude-haiku-4-5", "You are a helpful agent")
    assert [tool["name"] for tool in request["tools"]] == ["getWeather"]
    step = json.loads(done.stdout)
    assert step["finishReason"] == "tool-calls"
    assistant, answered = step["newMessages"]
    assert assistant["content"][0] | {"input": None} == {"type": "tool-call", "toolCallId": "toolu_01", "toolName": "getWeather", "input": None}
    assert answered["role"] == "tool" and answered["content"][0]["output"] == {"type": "text", "value": "Boston: sunny, 21 °C"}


# --- 01 + 02: the task registered, spawned with maxAttempts 3, each iteration a checkpoint ------


def test_registered_task_checkpoints_each_iteration(absurd_dsn, messages_server):
    script = messages_server.script(weather_script(["Boston", "Paris", "Tokyo"]))
    task_id = json.loads(run(1, absurd_dsn, "What's the weather in Boston, Paris and Tokyo?", server=messages_server).stdout)["taskID"]

    names = rows(absurd_dsn, f"SELECT checkpoint_name, state FROM absurd.c_{Q} WHERE task_id = %s ORDER BY updated_at", task_id)
    assert [n["checkpoint_name"] for n in names] == ["iteration", "iteration#2", "iteration#3", "iteration#4"]
    assert [n["state"]["finishReason"] for n in names] == ["tool-calls"] * 3 + ["stop"]
    assert rows(absurd_dsn, f"SELECT task_name, state FROM absurd.t_{Q}") == [{"task_name": "my-agent", "state": "completed"}]
    assert script.remaining == 0 and [len(r["messages"]) for r in messages_server.requests] == [1, 3, 5, 7]


def test_spawn_records_three_attempts_and_a_worker_runs_it(absurd_dsn, messages_server):
    messages_server.script(weather_script(["Boston"]))
    run(2, absurd_dsn, server=messages_server)

    task = rows(absurd_dsn, f"SELECT task_id, task_name, params, max_attempts, state FROM absurd.t_{Q}")
    assert [t | {"task_id": None} for t in task] == [{"task_id": None, "task_name": "my-agent", "params": {
        "prompt": "What's the weather like in Boston?"}, "max_attempts": 3, "state": "completed"}]
    names = rows(absurd_dsn, f"SELECT checkpoint_name FROM absurd.c_{Q} WHERE task_id = %s ORDER BY updated_at", task[0]["task_id"])
    assert [n["checkpoint_name"] for n in names] == ["iteration", "iteration#2"]


# --- 04: ctx.sleep as published; ctx.sleepFor, its nearest working form --------------------------


@pytest.mark.parametrize("working", [False, True], ids=["as-published", "working-form"])
def test_sleep_suspends_the_task_for_a_week(absurd_dsn, working):
    start = datetime.now(UTC)
    done = run(4, absurd_dsn, "7", working=working)
    task_id = json.loads(done.stdout.splitlines()[0])["taskID"]
    assert_run_state(absurd_dsn, done, task_id, "sleeping")
    available = rows(absurd_dsn, f"SELECT available_at FROM absurd.r_{Q} WHERE task_id = %s", task_id)[0]["available_at"]
    assert abs(available - (start + timedelta(days=7))) < timedelta(minutes=1)


# --- 05 and 06: waiting for an event, and emitting it ---------------------------------------------


@pytest.mark.parametrize("working", [False, True], ids=["as-published", "working-form"])
def test_emitted_event_wakes_the_waiting_task(absurd_dsn, working):
    done = run(5, absurd_dsn, "42", working=working)
    task_id = json.loads(done.stdout.splitlines()[0])["taskID"]
    assert_run_state(absurd_dsn, done, task_id, "sleeping")
    assert [w["event_name"] for w in rows(absurd_dsn, f"SELECT event_name FROM absurd.w_{Q}")] == ["email-confirmation-42"]

    run(6, absurd_dsn, "42")  # block 06 emits it
    event = rows(absurd_dsn, f"SELECT payload FROM absurd.e_{Q} WHERE event_name = 'email-confirmation-42'")[0]["payload"]
    assert datetime.fromisoformat(event["confirmedAt"]) > datetime.now(UTC) - timedelta(minutes=5)
    run(5, absurd_dsn, working=working)  # a worker picks the woken task up
    assert rows(absurd_dsn, f"SELECT state FROM absurd.t_{Q} WHERE task_id = %s", task_id) == [{"state": "completed"}]
    assert rows(absurd_dsn, f"SELECT state FROM absurd.c_{Q} WHERE checkpoint_name = '$awaitEvent:email-confirmation-42'") == [
        {"state": event}]


def test_emit_before_anyone_waits_is_stored_and_the_first_emit_wins(absurd_dsn):
    run(6, absurd_dsn, "9")
    first = rows(absurd_dsn, f"SELECT payload FROM absurd.e_{Q}")
    run(6, absurd_dsn, "9")
    assert rows(absurd_dsn, f"SELECT event_name, payload FROM absurd.e_{Q}") == [
        {"event_name": "email-confirmation-9", "payload": first[0]["payload"]}]

