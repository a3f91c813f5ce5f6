"""A task that sleeps for seven days, durably: no process waits, Postgres remembers when to wake it.

Runnable form of the essay's ``await ctx.sleep(60 * 60 * 24 * 7)``. No Absurd release has a
``sleep(seconds)``: the SDKs have ``sleep_for(step_name, seconds)`` (``sleepFor`` in TypeScript),
which checkpoints the wake-up time under ``step_name``, marks the run ``sleeping`` with
``available_at`` a week ahead and ends it; a worker claims it again only after that time.

Nobody waits a week in a demo or a test: :func:`clock_at` moves Absurd's clocks instead, the
database's (the ``absurd.fake_now`` session setting) and the SDK's (which checks the wake-up time
again when the task resumes).

    python sleep_week.py
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import absurd_sdk
import psycopg
from absurd_schema import absurd_database
from absurd_sdk import Absurd

WEEK = 60 * 60 * 24 * 7
QUEUE = "mail"


def register_follow_up(app: Absurd, sent: list[str]) -> None:
    """Register ``weekly-follow-up``: a welcome mail now, a follow-up a week later (appended to ``sent``)."""

    def send(kind: str, email: str) -> str:
        sent.append(f"{kind} to {email}")
        return "sent"

    @app.register_task(name="weekly-follow-up")
    def weekly_follow_up(params, ctx):
        ctx.step("welcome", lambda: send("welcome", params["email"]))
        ctx.sleep_for("wait-a-week", WEEK)
        ctx.step("follow-up", lambda: send("follow-up", params["email"]))
        return {"mails": 2}


@contextlib.contextmanager
def clock_at(conn: psycopg.Connection, when: datetime) -> Iterator[None]:
    """Inside the block Absurd's clocks read ``when``: the SQL functions on ``conn`` and the Python SDK."""
    conn.execute("SELECT set_config('absurd.fake_now', %s, false)", (when.isoformat(),))
    real_clock = absurd_sdk._get_current_time  # the SDK's documented hook for tests
    absurd_sdk._get_current_time = lambda: when
    try:
        yield
    finally:
        absurd_sdk._get_current_time = real_clock
        conn.execute("SELECT set_config('absurd.fake_now', '', false)")


def run_state(conn: psycopg.Connection, task_id) -> tuple[str, datetime]:
    """The state and ``available_at`` of the task's latest run."""
    return conn.execute(
        f"SELECT state, available_at FROM absurd.r_{QUEUE} WHERE task_id = %s ORDER BY run_id DESC LIMIT 1",
        (task_id,),
    ).fetchone()


def main(argv: list[str] | None = None) -> int:
    """Spawn the task, let it fall asleep, try to wake it after six days, then after seven."""
    sent: list[str] = []
    with absurd_database() as dsn, psycopg.connect(dsn, autocommit=True) as db:
        app = Absurd(db, queue_name=QUEUE)
        app.create_queue()
        register_follow_up(app, sent)
        task_id = app.spawn("weekly-follow-up", {"email": "reader@example.org"})["task_id"]
        start = datetime.now(UTC)
        app.work_batch()
        state, wake_at = run_state(db, task_id)
        print(f"after the first run: {sent}; run {state} until {wake_at:%Y-%m-%d %H:%M} UTC")
        for days in (6, 7):
            when = start + timedelta(days=days, seconds=1)
            with clock_at(db, when):
                app.work_batch()
            state, _ = run_state(db, task_id)
            print(f"clock at +{days} days ({when:%Y-%m-%d %H:%M}): run {state}; mails sent: {sent}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
