"""Emitting the email-confirmation event from elsewhere (a web handler, another task, a script).

Runnable form of the essay's ``absurd.emitEvent(eventName, {confirmedAt: ...})``; the Python SDK
spells it ``emit_event``. Events are stored per queue in ``absurd.e_<queue>``: the first emit of a
name wins and is kept, later emits of the same name change nothing, and a task that starts waiting
after the emit gets the stored payload at once.

    python emit_confirmation.py
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import psycopg
from absurd_schema import absurd_database
from absurd_sdk import Absurd


def confirm_email(app: Absurd, user_id) -> None:
    """Tell whoever waits (or will wait) that ``user_id`` confirmed their address, now."""
    event_name = f"email-confirmation-{user_id}"
    app.emit_event(event_name, {"confirmedAt": datetime.now(UTC).isoformat()})


def main(argv: list[str] | None = None) -> int:
    """Emit before anyone waits, emit again, then start the waiting task: it finishes in one run."""
    from await_confirmation import QUEUE, register_confirmation, task_outcome

    with absurd_database() as dsn, psycopg.connect(dsn, autocommit=True) as db:
        app = Absurd(db, queue_name=QUEUE)
        app.create_queue()
        register_confirmation(app)
        confirm_email(app, 9)
        first = db.execute(f"SELECT payload FROM absurd.e_{QUEUE}").fetchone()[0]
        print(f"emitted before anyone waits: {first}")
        confirm_email(app, 9)
        stored = db.execute(f"SELECT payload FROM absurd.e_{QUEUE}").fetchone()[0]
        print(f"emitted again; stored payload {'unchanged' if stored == first else 'REPLACED'}: {stored}")
        task_id = app.spawn("await-confirmation", {"user_id": 9})["task_id"]
        app.work_batch()
        runs = db.execute(f"SELECT count(*) FROM absurd.r_{QUEUE} WHERE task_id = %s", (task_id,)).fetchone()[0]
        print(f"task started afterwards: {task_outcome(db, task_id)} in {runs} run(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
