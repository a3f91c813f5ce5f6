"""Spawning the essay's ``my-agent`` task with at most three attempts.

Runnable form of the essay's second snippet (TypeScript ``absurd.spawn(..., {maxAttempts: 3})``;
the Python SDK spells the option ``max_attempts``). Spawning only writes rows: the task in
``absurd.t_<queue>`` and its first run in ``absurd.r_<queue>``; a worker picks it up later.

    python spawn_agent.py
"""

from __future__ import annotations

import sys

import psycopg
from absurd_schema import absurd_database
from absurd_sdk import Absurd


def spawn_agent(app: Absurd, prompt: str) -> dict:
    """Enqueue a ``my-agent`` task for ``prompt``, retried up to three attempts; return ids and attempt."""
    return app.spawn("my-agent", {"prompt": prompt}, max_attempts=3)


def main(argv: list[str] | None = None) -> int:
    """Spawn the task on a scratch database (queue ``agents``) and print the rows it wrote."""
    with absurd_database() as dsn, psycopg.connect(dsn, autocommit=True) as db:
        app = Absurd(db, queue_name="agents")
        app.create_queue()
        app.register_task(name="my-agent")(lambda params, ctx: None)  # spawn checks the name is known
        spawned = spawn_agent(app, "What's the weather like in Boston?")
        print(f"spawn returned {spawned}")
        task = db.execute(
            "SELECT task_name, params, max_attempts, state, attempts FROM absurd.t_agents"
        ).fetchone()
        print(f"absurd.t_agents: task_name={task[0]} params={task[1]} max_attempts={task[2]} state={task[3]}")
        run = db.execute("SELECT attempt, state, available_at FROM absurd.r_agents").fetchone()
        print(f"absurd.r_agents: attempt={run[0]} state={run[1]} available_at={run[2]:%Y-%m-%d %H:%M:%S%z}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
