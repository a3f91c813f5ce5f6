"""The Absurd essay's snippets, run for real: Postgres with the pinned schema, the anthropic SDK over HTTP.

Every test checks the rows Absurd leaves in its per-queue tables (t_ tasks, r_ runs, c_ checkpoints,
e_ events, w_ waits), not only what the code returned.
"""

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anthropic
import psycopg
import pytest
from absurd_sdk import Absurd
from psycopg.rows import dict_row

from blogtools.harness.llm import BackendError, MessagesServer, ScriptedBackend

HERE = Path(__file__).resolve().parent

import absurd_sql
import agent_task
import await_confirmation
import emit_confirmation
import single_step
import sleep_week
import spawn_agent

pytestmark = pytest.mark.postgres
Q = agent_task.QUEUE


def rows(db, query, *args):
    return db.cursor(row_factory=dict_row).execute(query, args).fetchall()


@pytest.fixture
def db(absurd_dsn):
    with psycopg.connect(absurd_dsn, autocommit=True) as conn:
        yield conn


def agent_app(db, base_url):
    app = Absurd(db, queue_name=Q)
    app.create_queue()
    agent_task.register_agent(app, anthropic.Anthropic(base_url=base_url, api_key="test", max_retries=0))
    return app


# --- the agent loop, single_step and spawn ------------------------------------------------------


def test_each_iteration_is_a_checkpoint_named_iteration_n(db, messages_server):
    script = messages_server.script(single_step.weather_script(["Boston", "Paris", "Tokyo"]))
    app = agent_app(db, messages_server.base_url)
    task_id = spawn_agent.spawn_agent(app, single_step.weather_prompt(["Boston", "Paris", "Tokyo"]))["task_id"]
    app.work_batch()

    checkpoints = rows(db, f"SELECT checkpoint_name, state FROM absurd.c_{Q} WHERE task_id = %s ORDER BY updated_at", task_id)
    assert [c["checkpoint_name"] for c in checkpoints] == ["iteration", "iteration#2", "iteration#3", "iteration#4"]
    assert [c["state"]["finish_reason"] for c in checkpoints] == ["tool_use"] * 3 + ["end_turn"]
    assert checkpoints[1]["state"]["new_messages"][1]["content"][0]["content"] == single_step.get_weather("Paris")
    task = rows(db, f"SELECT state, attempts, completed_payload FROM absurd.t_{Q} WHERE task_id = %s", task_id)[0]
    assert (task["state"], task["attempts"], task["completed_payload"]["iterations"]) == ("completed", 1, 4)
    assert script.remaining == 0 and len(messages_server.requests) == 4
    assert [len(r["messages"]) for r in messages_server.requests] == [1, 3, 5, 7]


def test_agent_stops_after_twenty_iterations(db, messages_server):
    towns = [f"Town{n:02d}" for n in range(1, 26)]  # a model that would keep calling tools 25 times
    messages_server.backend = single_step.WeatherModel(towns)
    app = agent_app(db, messages_server.base_url)
    task_id = spawn_agent.spawn_agent(app, single_step.weather_prompt(towns))["task_id"]
    app.work_batch()

    names = [r["checkpoint_name"] for r in rows(db, f"SELECT checkpoint_name FROM absurd.c_{Q} ORDER BY updated_at")]
    assert names == ["iteration"] + [f"iteration#{n}" for n in range(2, 21)]
    task = rows(db, f"SELECT state, completed_payload FROM absurd.t_{Q} WHERE task_id = %s", task_id)[0]
    assert task["state"] == "completed" and task["completed_payload"]["iterations"] == 20
    assert len(messages_server.requests) == 20


def test_single_step_sends_system_and_tool_and_answers_tool_use(messages_server):
    messages_server.script(single_step.weather_script(["Boston"]))
    client = anthropic.Anthropic(base_url=messages_server.base_url, api_key="test", max_retries=0)
    messages = [{"role": "user", "content": "What's the weather like in Boston?"}]

    first = single_step.single_step(client, messages)
    assert first["finish_reason"] == "tool_use"
    assistant, results = first["new_messages"]
    assert assistant["content"][0] == {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Boston"}}
    assert results == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_01", "content": single_step.get_weather("Boston")}]}
    messages.extend(first["new_messages"])
    second = single_step.single_step(client, messages)
    assert second["finish_reason"] == "end_turn" and len(second["new_messages"]) == 1

    request = messages_server.requests[0]
    assert (request["model"], request["system"], request["tools"]) == ("claude-haiku-4-5", "You are a helpful agent", [single_step.GET_WEATHER])
    assert messages_server.requests[1]["messages"][-1] == results


def test_spawn_records_the_task_with_three_attempts(db):
    app = Absurd(db, queue_name=Q)
    app.create_queue()
    app.register_task(name="my-agent")(lambda params, ctx: None)
    spawned = spawn_agent.spawn_agent(app, "hello")
    task = rows(db, f"SELECT task_name, params, max_attempts, state FROM absurd.t_{Q}")
    assert task == [{"task_name": "my-agent", "params": {"prompt": "hello"}, "max_attempts": 3, "state": "pending"}]
    assert rows(db, f"SELECT run_id, attempt, state FROM absurd.r_{Q}") == [
        {"run_id": spawned["run_id"], "attempt": 1, "state": "pending"}]


class Overloaded(BackendError):
    status = 529
    error_type = "overloaded_error"


class AlwaysOverloaded:
    def respond(self, request):
        raise Overloaded("the model is overloaded")


def test_failing_attempts_are_retried_up_to_max_attempts_then_failed(db, messages_server):
    messages_server.backend = AlwaysOverloaded()
    app = agent_app(db, messages_server.base_url)
    task_id = spawn_agent.spawn_agent(app, "What's the weather like in Boston?")["task_id"]
    for _ in range(4):  # the fourth finds nothing left to claim
        app.work_batch()

    runs = rows(db, f"SELECT attempt, state, failure_reason FROM absurd.r_{Q} WHERE task_id = %s ORDER BY attempt", task_id)
    assert [(r["attempt"], r["state"]) for r in runs] == [(1, "failed"), (2, "failed"), (3, "failed")]
    for run in runs:
        assert run["failure_reason"]["name"] == "OverloadedError"
        assert "the model is overloaded" in run["failure_reason"]["message"]
    task = rows(db, f"SELECT state, attempts FROM absurd.t_{Q} WHERE task_id = %s", task_id)[0]
    assert task == {"state": "failed", "attempts": 3}
    assert len(messages_server.requests) == 3
    assert messages_server.errors == ["the model is overloaded"] * 3
    messages_server.errors.clear()


# --- a worker killed mid-task, and two workers on one queue -------------------------------------

WORKER = "import sys, agent_task; agent_task.run_worker(*sys.argv[1:4], fake_now=sys.argv[4] or None)"


def start_worker(dsn, base_url, worker_id, fake_now="", wait_ready=True):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", WORKER, dsn, base_url, worker_id, fake_now],
                            env=env, stdout=subprocess.PIPE, text=True)
    if wait_ready:
        assert_ready(proc, worker_id)
    return proc


def assert_ready(proc, worker_id):
    assert proc.stdout.readline().strip() == f"worker {worker_id} ready"


class HoldAt:
    """Passes requests to ``inner``, except that request number ``hold`` waits for ``release`` and fails."""

    def __init__(self, inner, hold):
        self.inner, self.hold, self.seen = inner, hold, 0
        self.held, self.release = threading.Event(), threading.Event()

    def respond(self, request):
        self.seen += 1
        if self.seen == self.hold:
            self.held.set()
            self.release.wait(60)
            raise BackendError("request abandoned: its worker was killed")
        return self.inner.respond(request)


def test_worker_killed_in_iteration_5_resumes_from_checkpoints(absurd_dsn, db, messages_server):
    cities = ["Boston", "Paris", "Tokyo", "Cairo", "Lima", "Oslo"]  # 7 iterations: 6 tool calls, 1 answer
    script = ScriptedBackend(single_step.weather_script(cities))
    messages_server.backend = gate = HoldAt(script, hold=5)
    app = Absurd(db, queue_name=Q)
    app.create_queue()
    app.register_task(name="my-agent")(lambda params, ctx: None)
    task_id = spawn_agent.spawn_agent(app, single_step.weather_prompt(cities))["task_id"]

    first = start_worker(absurd_dsn, messages_server.base_url, "worker-1")
    try:
        assert gate.held.wait(60), "the worker never reached iteration 5"
        first.send_signal(signal.SIGKILL)
        assert first.wait(30) == -signal.SIGKILL
    finally:
        first.kill()
        gate.release.set()
    checkpoints = rows(db, f"SELECT checkpoint_name FROM absurd.c_{Q} ORDER BY updated_at")
    assert [c["checkpoint_name"] for c in checkpoints] == ["iteration", "iteration#2", "iteration#3", "iteration#4"]
    assert rows(db, f"SELECT state FROM absurd.t_{Q}") == [{"state": "running"}]

    # The dead worker's lease (60 s) must run out before another worker may take the task over.
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    second = start_worker(absurd_dsn, messages_server.base_url, "worker-2", fake_now=later)
    assert second.wait(60) == 0

    runs = rows(db, f"SELECT run_id, attempt, state, claimed_by, failure_reason FROM absurd.r_{Q} ORDER BY attempt")
    assert [(r["attempt"], r["state"]) for r in runs] == [(1, "failed"), (2, "completed")]
    assert runs[0]["failure_reason"]["name"] == "$ClaimTimeout" and runs[0]["failure_reason"]["workerId"] == "worker-1"
    assert runs[1]["claimed_by"] == "worker-2"
    owners = rows(db, f"SELECT checkpoint_name, owner_run_id FROM absurd.c_{Q} WHERE task_id = %s ORDER BY updated_at", task_id)
    assert [(c["checkpoint_name"], c["owner_run_id"]) for c in owners] == (
        [("iteration", runs[0]["run_id"])] + [(f"iteration#{n}", runs[0]["run_id"]) for n in range(2, 5)]
        + [(f"iteration#{n}", runs[1]["run_id"]) for n in range(5, 8)]
    )
    task = rows(db, f"SELECT state, completed_payload FROM absurd.t_{Q}")[0]
    assert task["state"] == "completed" and task["completed_payload"]["iterations"] == 7

    # The model answered exactly one request per iteration over both runs: iterations 1-4 were
    # not asked again. The killed worker's request for iteration 5 reached the server but was never
    # answered; the restarted worker sent the very same conversation for it.
    assert script.position == len(script.turns) == 7
    requests = messages_server.requests
    assert [len(r["messages"]) for r in requests] == [1, 3, 5, 7, 9, 9, 11, 13]
    assert requests[4]["messages"] == requests[5]["messages"]
    assert messages_server.errors == ["request abandoned: its worker was killed"]
    messages_server.errors.clear()


class Gate:
    """Holds every request until ``opened`` is set, so the first worker up cannot finish alone."""

    def __init__(self, inner):
        self.inner, self.opened = inner, threading.Event()

    def respond(self, request):
        self.opened.wait(60)
        return self.inner.respond(request)


def test_two_workers_on_one_queue_never_run_a_task_twice(absurd_dsn, db, messages_server):
    cities = ["Boston", "Paris", "Tokyo", "Cairo", "Lima", "Oslo", "Rome", "Kyiv", "Accra", "Perth", "Quito", "Hanoi"]
    messages_server.backend = gate = Gate(single_step.WeatherModel(cities, delay=0.05))
    app = Absurd(db, queue_name=Q)
    app.create_queue()
    app.register_task(name="my-agent")(lambda params, ctx: None)
    tasks = {spawn_agent.spawn_agent(app, single_step.weather_prompt([city]))["task_id"] for city in cities}

    workers = [start_worker(absurd_dsn, messages_server.base_url, f"w{n}", wait_ready=False) for n in (1, 2)]
    for number, worker in enumerate(workers, 1):
        assert_ready(worker, f"w{number}")
    gate.opened.set()
    assert [w.wait(120) for w in workers] == [0, 0]

    runs = rows(db, f"SELECT task_id, attempt, state, claimed_by FROM absurd.r_{Q}")
    assert sorted(r["task_id"] for r in runs) == sorted(tasks)  # one run per task: none ran twice
    assert {(r["attempt"], r["state"]) for r in runs} == {(1, "completed")}
    assert {r["claimed_by"] for r in runs} == {"w1", "w2"}
    per_task = rows(db, f"SELECT task_id, count(*) AS n FROM absurd.c_{Q} GROUP BY task_id")
    assert {r["n"] for r in per_task} == {2} and len(per_task) == len(cities)
    assert len(messages_server.requests) == 2 * len(cities)


# --- sleeping a week ------------------------------------------------------------------------------


def test_sleeper_is_not_woken_before_its_time_and_is_after(db):
    sent = []
    app = Absurd(db, queue_name=sleep_week.QUEUE)
    app.create_queue()
    sleep_week.register_follow_up(app, sent)
    start = datetime.now(UTC)
    task_id = app.spawn("weekly-follow-up", {"email": "a@example.org"})["task_id"]
    app.work_batch()

    table = f"absurd.r_{sleep_week.QUEUE}"
    run = rows(db, f"SELECT run_id, state, available_at FROM {table}")[0]
    assert run["state"] == "sleeping" and sent == ["welcome to a@example.org"]
    assert abs(run["available_at"] - (start + timedelta(days=7))) < timedelta(minutes=1)
    names = rows(db, f"SELECT checkpoint_name FROM absurd.c_{sleep_week.QUEUE} ORDER BY updated_at")
    assert [n["checkpoint_name"] for n in names] == ["welcome", "wait-a-week"]

    with sleep_week.clock_at(db, run["available_at"] - timedelta(seconds=5)):
        app.work_batch()
    assert rows(db, f"SELECT state FROM {table}") == [{"state": "sleeping"}]
    assert sent == ["welcome to a@example.org"]

    with sleep_week.clock_at(db, run["available_at"] + timedelta(seconds=1)):
        app.work_batch()
    assert rows(db, f"SELECT run_id, state FROM {table}") == [{"run_id": run["run_id"], "state": "completed"}]
    assert sent == ["welcome to a@example.org", "follow-up to a@example.org"]  # the welcome is not sent twice
    assert rows(db, f"SELECT state FROM absurd.t_{sleep_week.QUEUE} WHERE task_id = %s", task_id) == [{"state": "completed"}]


# --- waiting for an event, and emitting it --------------------------------------------------------

EQ = await_confirmation.QUEUE


def confirmation_app(db):
    app = Absurd(db, queue_name=EQ)
    app.create_queue()
    await_confirmation.register_confirmation(app)
    return app


def test_event_emitted_while_the_task_waits_wakes_it(db):
    app = confirmation_app(db)
    start = datetime.now(UTC)
    task_id = app.spawn("await-confirmation", {"user_id": 7})["task_id"]
    app.work_batch()
    wait = rows(db, f"SELECT event_name, timeout_at FROM absurd.w_{EQ}")
    assert [w["event_name"] for w in wait] == ["email-confirmation-7"]
    assert abs(wait[0]["timeout_at"] - (start + timedelta(minutes=5))) < timedelta(seconds=30)
    assert rows(db, f"SELECT state, wake_event FROM absurd.r_{EQ}") == [{"state": "sleeping", "wake_event": "email-confirmation-7"}]

    emit_confirmation.confirm_email(app, 7)
    app.work_batch()
    payload = rows(db, f"SELECT payload FROM absurd.e_{EQ} WHERE event_name = 'email-confirmation-7'")[0]["payload"]
    task = rows(db, f"SELECT state, completed_payload FROM absurd.t_{EQ} WHERE task_id = %s", task_id)[0]
    assert task == {"state": "completed", "completed_payload": {"confirmed": True, "confirmed_at": payload["confirmedAt"]}}
    assert rows(db, f"SELECT state FROM absurd.c_{EQ} WHERE checkpoint_name = '$awaitEvent:email-confirmation-7'") == [{"state": payload}]
    assert rows(db, f"SELECT count(*) AS n FROM absurd.w_{EQ}") == [{"n": 0}]


def test_event_emitted_before_anyone_waits_is_cached_and_the_first_emit_wins(db):
    app = confirmation_app(db)
    emit_confirmation.confirm_email(app, 9)
    first = rows(db, f"SELECT payload FROM absurd.e_{EQ}")[0]["payload"]
    emit_confirmation.confirm_email(app, 9)  # a later timestamp, ignored
    assert rows(db, f"SELECT payload FROM absurd.e_{EQ}") == [{"payload": first}]

    task_id = app.spawn("await-confirmation", {"user_id": 9})["task_id"]
    app.work_batch()
    assert rows(db, f"SELECT completed_payload FROM absurd.t_{EQ} WHERE task_id = %s", task_id) == [
        {"completed_payload": {"confirmed": True, "confirmed_at": first["confirmedAt"]}}]
    assert rows(db, f"SELECT attempt, state FROM absurd.r_{EQ}") == [{"attempt": 1, "state": "completed"}]
    assert rows(db, f"SELECT count(*) AS n FROM absurd.w_{EQ}") == [{"n": 0}]  # it never had to wait


def test_wait_times_out_after_five_minutes(db):
    app = confirmation_app(db)
    task_id = app.spawn("await-confirmation", {"user_id": 8})["task_id"]
    app.work_batch()
    timeout_at = rows(db, f"SELECT timeout_at FROM absurd.w_{EQ}")[0]["timeout_at"]

    db.execute("SELECT set_config('absurd.fake_now', %s, false)", ((timeout_at - timedelta(seconds=5)).isoformat(),))
    app.work_batch()
    assert rows(db, f"SELECT state FROM absurd.t_{EQ}") == [{"state": "sleeping"}]

    db.execute("SELECT set_config('absurd.fake_now', %s, false)", ((timeout_at + timedelta(seconds=1)).isoformat(),))
    app.work_batch()
    assert rows(db, f"SELECT state, completed_payload FROM absurd.t_{EQ} WHERE task_id = %s", task_id) == [
        {"state": "completed", "completed_payload": {"confirmed": False}}]


# --- plain SQL ------------------------------------------------------------------------------------


def test_plain_sql_life_cycle(db):
    statements = []
    ids = absurd_sql.life_cycle(db, lambda statement, result: statements.append(statement.split("(")[0]))
    assert statements == [
        "SELECT absurd.create_queue", "SELECT task_id, run_id, attempt FROM absurd.spawn_task",
        "SELECT run_id, task_id, task_name, params, attempt FROM absurd.claim_task",
        "SELECT absurd.set_task_checkpoint_state", "SELECT absurd.complete_run",
    ]
    q = absurd_sql.QUEUE
    assert rows(db, f"SELECT state, attempts, completed_payload FROM absurd.t_{q}") == [
        {"state": "completed", "attempts": 1, "completed_payload": {"greeting": "Hello, reader!"}}]
    assert rows(db, f"SELECT run_id, state, claimed_by FROM absurd.r_{q}") == [
        {"run_id": ids["run_id"], "state": "completed", "claimed_by": "sql-worker"}]
    assert rows(db, f"SELECT checkpoint_name, state, owner_run_id FROM absurd.c_{q}") == [
        {"checkpoint_name": "compose", "state": "Hello, reader!", "owner_run_id": ids["run_id"]}]


# --- each module's main(), as `blogtools run` calls it --------------------------------------------


@pytest.mark.parametrize("module, expected", [
    pytest.param(module, expected, id=module.__name__) for module, expected in [
        (single_step, "finish_reason=tool_use, 2 new messages"),
        (spawn_agent, "max_attempts=3 state=pending"),
        (agent_task, "task completed after 2 iterations and 2 model requests"),
        (sleep_week, "clock at +7 days"),
        (await_confirmation, "five minutes later: task ('completed', {'confirmed': False})"),
        (emit_confirmation, "stored payload unchanged"),
        (absurd_sql, "absurd.c_plain_sql: {'checkpoint_name': 'compose'"),
    ]
])
def test_main_runs_against_the_harness_database(module, expected, capsys, pg_server_dsn):
    assert module.main() == 0
    assert expected in capsys.readouterr().out


# --- drift between the essay and the library ------------------------------------------------------


def test_absurd_dsn_has_the_pinned_schema(absurd_dsn):
    with psycopg.connect(absurd_dsn, autocommit=True) as conn:
        assert conn.execute("SELECT absurd.get_schema_version()").fetchone() == ("0.5.1",)
        conn.execute("SELECT absurd.create_queue('q')")
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'absurd'")}
    assert {"queues", "t_q", "r_q", "c_q", "e_q", "w_q"} <= tables


# --- the live API ---------------------------------------------------------------------------------


@pytest.mark.live
def test_agent_against_the_live_anthropic_api(db):
    from blogtools.harness.llm import AnthropicBackend

    with MessagesServer(AnthropicBackend()) as server:
        app = agent_app(db, server.base_url)
        task_id = spawn_agent.spawn_agent(app, single_step.weather_prompt(["Boston"]))["task_id"]
        app.work_batch()
    task = rows(db, f"SELECT state, completed_payload FROM absurd.t_{Q} WHERE task_id = %s", task_id)[0]
    assert task["state"] == "completed", task
    first = rows(db, f"SELECT state FROM absurd.c_{Q} WHERE checkpoint_name = 'iteration'")[0]["state"]
    calls = [b for b in first["new_messages"][0]["content"] if b["type"] == "tool_use"]
    assert calls and calls[0]["name"] == "get_weather" and "boston" in calls[0]["input"]["city"].lower()
    assert task["completed_payload"]["iterations"] >= 2
