"""A task's whole life cycle in plain SQL: Absurd is one SQL file on Postgres, the SDKs are thin.

The essay's point, made runnable: every SDK call above is a call of a function in the ``absurd``
schema. Here psycopg calls them directly: create a queue, spawn a task, claim it as a worker,
checkpoint a step, complete the run; and prints each statement and what it did to the per-queue
tables (``t_`` tasks, ``r_`` runs, ``c_`` checkpoints).

    python absurd_sql.py
"""

from __future__ import annotations

import sys

import psycopg
from absurd_schema import absurd_database
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

QUEUE = "plain_sql"
CLAIM_SECONDS = 30


def life_cycle(conn: psycopg.Connection, show=lambda statement, rows: None) -> dict:
    """Run one ``greet`` task from spawn to completion with SQL alone; return its ids.

    ``show(statement, rows)`` sees every statement and the rows it returned.
    """

    def call(statement: str, *args) -> list[dict]:
        rows = conn.cursor(row_factory=dict_row).execute(statement, args).fetchall()
        show(statement, rows)
        return rows

    call("SELECT absurd.create_queue(%s)", QUEUE)
    spawned = call(
        "SELECT task_id, run_id, attempt FROM absurd.spawn_task(%s, %s, %s, %s)",
        QUEUE, "greet", Jsonb({"name": "reader"}), Jsonb({"max_attempts": 3}),
    )[0]
    claimed = call(
        "SELECT run_id, task_id, task_name, params, attempt FROM absurd.claim_task(%s, %s, %s, %s)",
        QUEUE, "sql-worker", CLAIM_SECONDS, 1,
    )[0]
    greeting = f"Hello, {claimed['params']['name']}!"
    call(
        "SELECT absurd.set_task_checkpoint_state(%s, %s, %s, %s, %s, %s)",
        QUEUE, claimed["task_id"], "compose", Jsonb(greeting), claimed["run_id"], CLAIM_SECONDS,
    )
    call("SELECT absurd.complete_run(%s, %s, %s)", QUEUE, claimed["run_id"], Jsonb({"greeting": greeting}))
    return {"task_id": spawned["task_id"], "run_id": spawned["run_id"]}


def main(argv: list[str] | None = None) -> int:
    """Drive the life cycle on a scratch database, printing each call and the tables afterwards."""

    def show(statement, rows):
        print(f"> {statement}")
        for row in rows:
            print(f"  {dict(row)}")

    with absurd_database() as dsn, psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as db:
        ids = life_cycle(db, show)
        for table, columns in (("t", "task_name, state, attempts, completed_payload"),
                               ("r", "attempt, state, claimed_by, result"),
                               ("c", "checkpoint_name, state, owner_run_id = %(run_id)s AS by_that_run")):
            query = f"SELECT {columns} FROM absurd.{table}_{QUEUE} WHERE task_id = %(task_id)s"
            for row in db.execute(query, ids).fetchall():
                print(f"absurd.{table}_{QUEUE}: {row}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
