"""A task that waits up to five minutes for an email confirmation event, and what happens on timeout.

Runnable form of the essay's ``ctx.waitForEvent(eventName, {timeout: 60 * 5})``, a call no Absurd
release has had: the SDKs have ``await_event(event_name, timeout=...)`` (``awaitEvent`` in
TypeScript). Waiting suspends the run: a row in ``absurd.w_<queue>`` registers the wait and the run
sleeps until the event is emitted or the timeout passes; then the task runs again from the top and
``await_event`` returns the payload or raises ``absurd_sdk.TimeoutError`` (not Python's builtin
``TimeoutError``, which an ``except TimeoutError`` would catch instead).

    python await_confirmation.py
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import absurd_sdk
import psycopg
from absurd_schema import absurd_database
from absurd_sdk import Absurd
from emit_confirmation import confirm_email

TIMEOUT = 60 * 5
QUEUE = "signups"


def register_confirmation(app: Absurd) -> None:
    """Register ``await-confirmation``: wait for ``email-confirmation-<user_id>``, at most five minutes."""

    @app.register_task(name="await-confirmation")
    def await_confirmation(params, ctx):
        event_name = f"email-confirmation-{params['user_id']}"
        try:
            payload = ctx.await_event(event_name, timeout=TIMEOUT)
        except absurd_sdk.TimeoutError:
            return {"confirmed": False}
        return {"confirmed": True, "confirmed_at": payload["confirmedAt"]}


def task_outcome(conn: psycopg.Connection, task_id) -> tuple[str, dict | None]:
    """The task's state and its result (``completed_payload``)."""
    return conn.execute(
        f"SELECT state, completed_payload FROM absurd.t_{QUEUE} WHERE task_id = %s", (task_id,)
    ).fetchone()


def main(argv: list[str] | None = None) -> int:
    """One user confirms while the task waits; another never does and the wait times out."""
    with absurd_database() as dsn, psycopg.connect(dsn, autocommit=True) as db:
        app = Absurd(db, queue_name=QUEUE)
        app.create_queue()
        register_confirmation(app)
        confirmed = app.spawn("await-confirmation", {"user_id": 7})["task_id"]
        silent = app.spawn("await-confirmation", {"user_id": 8})["task_id"]
        app.work_batch(batch_size=2)
        waits = db.execute(f"SELECT event_name, timeout_at FROM absurd.w_{QUEUE} ORDER BY event_name").fetchall()
        for event_name, timeout_at in waits:
            print(f"waiting for {event_name} until {timeout_at:%H:%M:%S} UTC")
        confirm_email(app, 7)
        app.work_batch(batch_size=2)
        print(f"user 7 confirmed: task {task_outcome(db, confirmed)}")
        print(f"user 8 silent: task {task_outcome(db, silent)[0]}")
        later = datetime.now(UTC) + timedelta(seconds=TIMEOUT + 1)
        db.execute("SELECT set_config('absurd.fake_now', %s, false)", (later.isoformat(),))
        app.work_batch()
        print(f"five minutes later: task {task_outcome(db, silent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
