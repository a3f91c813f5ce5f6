"""The essay's ``my-agent`` task: an agent loop whose every iteration is a checkpointed Absurd step.

Runnable form of the essay's first snippet (TypeScript ``absurd.registerTask``). Each call of
``ctx.step("iteration", ...)`` stores the step's result in Postgres as a checkpoint named
``iteration``, ``iteration#2``, ``iteration#3``...; when a worker dies and the task runs again, the
finished iterations come back from those checkpoints instead of asking the model again.

    python agent_task.py [--llm scripted|anthropic]
"""

from __future__ import annotations

import argparse
import sys
import time

import anthropic
import psycopg
from absurd_schema import absurd_database
from absurd_sdk import Absurd
from single_step import model_client, single_step, weather_prompt
from spawn_agent import spawn_agent

from blogtools.harness.llm import add_llm_arguments, local_client

MAX_ITERATIONS = 20
QUEUE = "agents"


def register_agent(app: Absurd, client: anthropic.Anthropic) -> None:
    """Register the ``my-agent`` task on ``app``; its model calls go through ``client``."""

    @app.register_task(name="my-agent")
    def my_agent(params, ctx):
        messages = [{"role": "user", "content": params["prompt"]}]
        step = 0
        while step < MAX_ITERATIONS:
            step += 1
            result = ctx.step("iteration", lambda: single_step(client, messages))
            messages.extend(result["new_messages"])
            if result["finish_reason"] != "tool_use":
                break
        return {"iterations": step, "answer": messages[-1]["content"]}


def run_worker(dsn: str, base_url: str, worker_id: str, *, claim_timeout: int = 60,
               fake_now: str | None = None, until_idle: bool = True) -> None:
    """Work the ``agents`` queue in this process with the model at ``base_url``.

    Returns once no task is pending or running (``until_idle``), else runs until killed.
    ``fake_now`` sets Absurd's test clock (``absurd.fake_now``) for this worker's session.
    """
    conn = psycopg.connect(dsn, autocommit=True)
    if fake_now:
        conn.execute("SELECT set_config('absurd.fake_now', %s, false)", (fake_now,))
    app = Absurd(conn, queue_name=QUEUE)
    register_agent(app, local_client(base_url))
    print(f"worker {worker_id} ready", flush=True)
    while True:
        app.work_batch(worker_id=worker_id, claim_timeout=claim_timeout)
        pending, running = conn.execute(
            f"SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'running')"
            f" FROM absurd.t_{QUEUE}"
        ).fetchone()
        if until_idle and not pending and not running:
            break
        if not pending:
            time.sleep(0.05)  # nothing to claim now: another worker holds the rest
    conn.close()


def main(argv: list[str] | None = None) -> int:
    """Spawn the agent on a scratch database, work it, and print the checkpoints it left behind."""
    parser = argparse.ArgumentParser(prog="agent_task", description=main.__doc__)
    add_llm_arguments(parser)
    args = parser.parse_args(argv or [])
    with absurd_database() as dsn, model_client(args.llm, model=args.model) as (client, server), psycopg.connect(dsn, autocommit=True) as db:
        app = Absurd(db, queue_name=QUEUE)
        app.create_queue()
        register_agent(app, client)
        spawned = spawn_agent(app, weather_prompt(["Boston"]))
        print(f"spawned my-agent task {spawned['task_id']}")
        app.work_batch(worker_id="demo-worker")
        rows = db.execute(
            f"SELECT checkpoint_name, state->>'finish_reason' FROM absurd.c_{QUEUE}"
            " WHERE task_id = %s ORDER BY updated_at", (spawned["task_id"],)
        ).fetchall()
        for name, finish_reason in rows:
            print(f"checkpoint {name}: finish_reason={finish_reason}")
        state, payload = db.execute(
            f"SELECT state, completed_payload FROM absurd.t_{QUEUE} WHERE task_id = %s", (spawned["task_id"],)
        ).fetchone()
        print(f"task {state} after {payload['iterations']} iterations and {len(server.requests)} model requests")
        print(f"answer: {payload['answer'][0]['text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
