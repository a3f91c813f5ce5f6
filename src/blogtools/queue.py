"""Triage beyond one machine: each post a task on a Postgres queue (Absurd), run by workers.

    install_schema(dsn)                                # Absurd's schema and the triage queue, once
    triage_site(project, dsn)                          # `blogtools triage --queue DSN`
    work(dsn, concurrency=2)                           # `blogtools worker`: claims and runs tasks

A task carries a post's blocks (ordinal, language, text), the sandbox's limits and the runtime's
version; never a path or anything the host would execute. Its idempotency key is a digest of the
site and that payload, so the same text of the same site is triaged once across every machine
and no site's spawn can answer for another's. Absurd gives the rest: workers claim with
``FOR UPDATE SKIP LOCKED`` under a lease (``claim_timeout``, renewed after every block), a
failed or abandoned run is retried, and a completed task keeps its result.

Untrusted both ways: a worker reads a task as the sandbox's input (``read_task`` checks every
field and bound), and the enqueuer reads a worker's result as the sandbox's output: parsed by
``Verdict.from_json`` and made safe by ``verdicts.safe``, the one cleaner (``read_result``).
Needs the ``[queue]`` extra (absurd-sdk, absurdctl for Absurd's bundled schema, psycopg).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from blogtools import triage, untrusted, verdicts
from blogtools.blocks import content_blocks
from blogtools.errors import BlogtoolsError
from blogtools.project import Project
from blogtools.sandbox import Limits, selfcheck
from blogtools.verdicts import safe

QUEUE = "blogtools_triage"
TASK = "triage-post"
SCHEMA_VERSION = "0.5.1"  # the Absurd release whose schema absurdctl bundles (pinned in the extra)
MAX_ATTEMPTS = 5  # runs of one task (a SIGTERMed or SIGKILLed worker's run counts as one)
CLAIM_TIMEOUT = 60  # seconds a worker's lease lasts; renewed after every block
MAX_BLOCKS = 2_000  # per post: a task beyond these bounds is refused by the worker
MAX_TEXT_CHARS = 1_000_000
MAX_LANGUAGE_CHARS = 64
_TERMINAL = ("completed", "failed", "cancelled")


def _module(name: str):
    """Import one of the [queue] extra's modules; without it, one clear error naming the extra."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise BlogtoolsError(f"{exc.name} is not installed: pip install 'blogtools[queue]'") from None


def _where(dsn: str) -> str:
    """The database a DSN names, for messages (never its password)."""
    conninfo = _module("psycopg.conninfo")
    try:
        parts = conninfo.conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - psycopg reports a malformed DSN in many ways; it is named below
        return "queue"
    return f"queue {parts.get('dbname', '?')}@{parts.get('host', 'localhost')}"


def _connect(dsn: str):
    psycopg = _module("psycopg")
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    except (psycopg.Error, ValueError) as exc:
        raise BlogtoolsError(f"{_where(dsn)}: cannot connect: {untrusted.line(str(exc))}") from None


def install_schema(dsn: str) -> bool:
    """Make sure the database ``dsn`` holds Absurd's schema (the one absurdctl bundles) and the
    triage queue; idempotent and safe when many workers start at once (an advisory lock). True if
    the schema was installed now; one error naming the database when it holds another version."""
    absurdctl = _module("absurdctl")
    if absurdctl.ABSURD_SCHEMA_TARGET_VERSION != SCHEMA_VERSION:
        raise BlogtoolsError(f"absurdctl bundles Absurd {absurdctl.ABSURD_SCHEMA_TARGET_VERSION}, blogtools "
                             f"expects {SCHEMA_VERSION}: pip install 'blogtools[queue]'")
    with _connect(dsn) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('blogtools: absurd schema'))")
        try:
            installed = conn.execute("SELECT to_regprocedure('absurd.get_schema_version()')").fetchone()[0]
            if installed is None:
                with conn.transaction():
                    conn.execute(absurdctl.BUNDLED_SCHEMA_SQL)
            else:
                version = conn.execute("SELECT absurd.get_schema_version()").fetchone()[0]
                if version != SCHEMA_VERSION:
                    raise BlogtoolsError(f"{_where(dsn)}: holds Absurd's schema {version}, blogtools needs "
                                         f"{SCHEMA_VERSION} (absurdctl migrate)")
            # create_queue re-runs its CREATE INDEX IF NOT EXISTS on a queue that exists, which locks
            # tables that workers and a waiting triage are using: a deadlock that stopped a starting
            # worker. The queue is made only when it is not there yet.
            if not conn.execute("SELECT 1 FROM absurd.queues WHERE queue_name = %s", (QUEUE,)).fetchone():
                conn.execute("SELECT absurd.create_queue(%s)", (QUEUE,))
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('blogtools: absurd schema'))")
    return installed is None


# --- the task and its result: both cross a trust boundary ----------------------------------------

def task_params(blocks: Sequence[triage.Block], limits: Limits = triage.LIMITS) -> dict:
    """A post's task: its blocks' ordinal, language and text, the sandbox's limits, the runtime."""
    return {"runtime": triage.runtime_version(), "limits": dataclasses.asdict(limits),
            "blocks": [{"ordinal": block.ordinal, "language": block.language, "text": block.text}
                       for block in blocks]}


def idempotency_key(site: str, params: Mapping) -> str:
    """The task's key: a digest of the site and the task (its blocks, limits and runtime)."""
    payload = json.dumps({"site": site, "task": params}, sort_keys=True, ensure_ascii=True)
    return "triage:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _field(data: Mapping, key: str, kind: type | tuple[type, ...], most: float | None = None):
    """``data[key]`` if it is a ``kind`` (never a bool) of size or value in (0, ``most``]; else ValueError."""
    value = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{key}: not a {getattr(kind, '__name__', 'number')}")
    if most is not None and not 0 < (len(value) if isinstance(value, (str, list)) else value) <= most:
        raise ValueError(f"{key}: out of bounds (at most {most:g})")
    return value


def read_task(params, ceiling: Limits = triage.LIMITS) -> tuple[list[triage.Block], Limits]:
    """The blocks and limits of a task as a worker receives it (anyone who can write the queue
    wrote it): every field checked, limits no looser than the worker's own; ValueError else."""
    if not isinstance(params, Mapping) or set(params) != {"runtime", "limits", "blocks"}:
        raise ValueError("a task holds exactly runtime, limits and blocks")
    runtime = _field(params, "runtime", str, 200)
    if runtime != triage.runtime_version():
        raise ValueError(f"task for runtime {untrusted.line(runtime)!r}; this worker has {triage.runtime_version()!r}")
    limits_data = _field(params, "limits", dict)
    if set(limits_data) != {item.name for item in dataclasses.fields(Limits)}:
        raise ValueError("limits: not the sandbox's limits")
    limits = Limits(**{item.name: _field(limits_data, item.name, (int, float) if item.type == "float" else int,
                                         getattr(ceiling, item.name))
                       for item in dataclasses.fields(Limits)})
    blocks = []
    for data in _field(params, "blocks", list, MAX_BLOCKS):
        if not isinstance(data, Mapping) or set(data) != {"ordinal", "language", "text"}:
            raise ValueError("a block holds exactly ordinal, language and text")
        language = data["language"] if data["language"] == "" else _field(data, "language", str, MAX_LANGUAGE_CHARS)
        text = data["text"] if data["text"] == "" else _field(data, "text", str, MAX_TEXT_CHARS)
        blocks.append(triage.Block(_field(data, "ordinal", int, 1_000_000), language, text))
    return blocks, limits


def read_result(result, blocks: int) -> list[triage.Verdict]:
    """The verdicts a worker returned for a post of ``blocks`` blocks, parsed as results.json's
    are and made safe as the sandbox's output is; ValueError (or KeyError/TypeError) for anything else."""
    if not isinstance(result, list) or len(result) != blocks:
        raise ValueError(f"not a list of {blocks} verdicts")
    return [safe(triage.Verdict.from_json(item)) for item in result]


# --- the enqueuer: `blogtools triage --queue` -------------------------------------------------------

def triage_site(project: Project, dsn: str, ids: Sequence[str] = (), everything: bool = False,
                echo: Callable[[str], None] = lambda line: None, *, wait: bool = True,
                collect: bool = False, poll_seconds: float = 0.5) -> verdicts.TriageSummary:
    """``verdicts.triage_site`` on the queue's workers: the same blocks due, each post enqueued
    (its key: the site's ``site_url``, else its name, and the task), the verdicts stored as a
    local triage stores them. ``wait``: until every post is back, with progress on ``echo``;
    ``collect``: the posts finished so far; neither: enqueue only. Blocks not back are ``queued``."""
    todo = verdicts.due(project, ids, everything)
    summary = todo.summary
    posts = content_blocks(project.posts_dir) if todo.posts else {}
    pairs = {}
    for post, wanted in todo.posts.items():
        try:
            pairs[post] = verdicts.ordered(post, posts.get(post, []), todo.entries)
        except BlogtoolsError as exc:
            summary.not_triaged.update(dict.fromkeys(wanted, verdicts.failed(exc)))
    if pairs:
        install_schema(dsn)
        with _connect(dsn) as conn:
            absurd = _module("absurd_sdk").Absurd(conn, queue_name=QUEUE)
            site = project.site_url or project.site_name or str(project.root)
            tasks = {post: _enqueue(absurd, site, [block for _, block in pairs[post]], retry=wait)
                     for post in pairs}
            echo(f"queue: {len(tasks)} post(s) as {len(set(tasks.values()))} task(s) on {_where(dsn)} ({QUEUE})")
            ended = (_gather(conn, tasks, echo, poll_seconds) if wait
                     else _ended(conn, list(tasks.values())) if collect else {})
            for post, task_id in tasks.items():
                if task_id not in ended:
                    summary.queued += todo.posts[post]
                    continue
                found = _outcome(*ended[task_id], len(pairs[post]))
                if isinstance(found, str):
                    summary.not_triaged.update(dict.fromkeys(todo.posts[post], found))
                else:
                    verdicts.keep(todo, pairs[post], found)
                    summary.triaged += todo.posts[post]
    return verdicts.finish(project, todo)


def _enqueue(absurd, site: str, blocks: list[triage.Block], retry: bool) -> str:
    """Spawn a post's task (once per key); a failed or cancelled one is tried again when ``retry``."""
    params = task_params(blocks)
    spawned = absurd.spawn(TASK, params, queue=QUEUE, max_attempts=MAX_ATTEMPTS,
                           idempotency_key=idempotency_key(site, params))
    task_id = str(spawned["task_id"])
    if spawned["run_id"] is None and retry:  # the key existed already
        snapshot = absurd.fetch_task_result(task_id)
        if snapshot is not None and snapshot.state in ("failed", "cancelled"):
            absurd.retry_task(task_id)
    return task_id


def _gather(conn, tasks: dict[str, str], echo: Callable[[str], None],
            poll_seconds: float) -> dict[str, tuple[str, object, object]]:
    """Wait until every task ended (posts of the same text share one), saying how many have each
    time that changes; what they ended with."""
    wanted, ended, said, started = set(tasks.values()), {}, -1, time.monotonic()
    while len(ended) < len(wanted):
        ended.update(_ended(conn, sorted(wanted - set(ended))))
        if len(ended) != said and len(ended) < len(wanted):
            said = len(ended)
            echo(f"queue: {said}/{len(wanted)} task(s) done, waiting for workers "
                 f"(`blogtools worker --queue DSN`) ... {time.monotonic() - started:.0f} s")
        if len(ended) < len(wanted):
            time.sleep(poll_seconds)
    return ended


def _ended(conn, task_ids: list[str]) -> dict[str, tuple[str, object, object]]:
    """The tasks among ``task_ids`` that ended, with their state, result and failure: one round trip
    (Absurd's ``get_task_result`` over the list)."""
    rows = conn.execute("SELECT r.task_id::text, r.state, r.result, r.failure_reason"
                        " FROM unnest(%s::uuid[]) AS ids(id), LATERAL absurd.get_task_result(%s, ids.id) AS r"
                        " WHERE r.state = ANY(%s)", (task_ids, QUEUE, list(_TERMINAL))).fetchall()
    return {task_id: (state, result, failure) for task_id, state, result, failure in rows}


def _outcome(state: str, result, failure, blocks: int) -> list[triage.Verdict] | str:
    """A task's verdicts, or why it has none, from what the queue holds (written by a worker)."""
    if state == "completed":
        try:
            return read_result(result, blocks)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return f"triage failed: a worker's result was refused ({untrusted.line(str(exc))})"
    said = failure.get("message", "") if isinstance(failure, dict) else ""
    return untrusted.line(f"triage failed on the queue ({state}): {said}")


# --- the worker: `blogtools worker` ------------------------------------------------------------------

class WorkerStopped(Exception):
    """Raised inside a task when the worker was asked to stop: Absurd fails the run and retries it."""


class _Pools(threading.local):
    """Each worker thread's sandboxes, kept warm from task to task (as ``triage_site`` keeps them).
    The self-check runs on the first unit of the worker's own limits (``triage.LIMITS``), before
    any sandbox of a task's tighter limits is made: those are the task's to choose, and under some
    (``stream_chars=1``) the canaries cannot report, so checking there would let one task stop
    every worker that claims it. SelfCheckFailed thus always means this machine's sandbox."""

    def __init__(self, made: list):
        self.by_limits: dict[Limits, triage.Sandboxes] = {}
        self.made = made

    def get(self, limits: Limits) -> triage.Sandboxes:
        if limits not in self.by_limits:
            own = limits == triage.LIMITS
            if not own:
                self.get(triage.LIMITS).python_unit().close()  # raises SelfCheckFailed if the check fails
            self.by_limits[limits] = triage.Sandboxes(limits, python_spares=1,
                                                      check=selfcheck.check_unit if own else None)
            self.made.append(self.by_limits[limits])
        return self.by_limits[limits]


def _hand_back(conn, task_id: str, worker_id: str) -> None:
    """Give a claimed task back to the queue without failing its run: Absurd's ``schedule_run``
    (as its SDK defers a task it has no handler for) makes the same run, at the same attempt,
    claimable by any worker at once. Nothing when the run is no longer this worker's (its lease
    ran out: Absurd has failed that run and made the next, which is not this worker's to touch)."""
    with contextlib.suppress(_module("psycopg").Error):  # its lease ran out before schedule_run locked the run
        conn.execute(f"SELECT absurd.schedule_run(%s, run_id, absurd.current_time()) FROM absurd.r_{QUEUE}"
                     " WHERE task_id = %s AND state = 'running' AND claimed_by = %s", (QUEUE, task_id, worker_id))


def work(dsn: str, *, concurrency: int = 1, claim_timeout: int = CLAIM_TIMEOUT,
         echo: Callable[[str], None] = lambda line: None, poll_seconds: float = 0.25) -> int:
    """Claim triage tasks from the queue and run them until SIGTERM or SIGINT; return how many
    tasks this worker completed. ``concurrency`` tasks run at once, each thread with its own warm
    sandboxes. On a signal no task is claimed any more; a running task stops at once (in another
    thread than the main one: after its block), its run failed so that Absurd retries it at once,
    elsewhere. A SIGKILLed worker's lease expires and another worker retries its task.

    Fail closed: when the sandbox fails its self-check, the task is handed back unfailed (its
    attempt not spent: ``_hand_back``), no task is claimed any more (tasks running in other
    threads finish), and SelfCheckFailed's line is raised: one broken machine stops itself
    instead of spending every task's retries across the fleet."""
    install_schema(dsn)
    conn = _connect(dsn)
    absurd_sdk = _module("absurd_sdk")
    absurd = absurd_sdk.Absurd(conn, queue_name=QUEUE, default_max_attempts=MAX_ATTEMPTS)
    stopping, made, done, refused = threading.Event(), [], [], []
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    in_sandbox = threading.Event()  # the main thread runs a task's blocks (no database call under way)
    pools = _Pools(made)

    @absurd.register_task(TASK)
    def triage_task(params, ctx):
        try:
            blocks, limits = read_task(params)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"task refused: {exc}") from None
        started = time.monotonic()

        main = threading.current_thread() is threading.main_thread()

        def between_blocks(block, verdict):
            in_sandbox.clear()
            if stopping.is_set():
                raise WorkerStopped("the worker was stopped; the task is retried")
            ctx.heartbeat(claim_timeout)
            if main:
                in_sandbox.set()

        if main:
            in_sandbox.set()
        try:
            found = triage.triage_post(blocks, sandboxes=pools.get(limits), progress=between_blocks)
        except selfcheck.SelfCheckFailed as exc:  # this machine gives no verdict: another one will
            refused.append(exc)
            absurd.stop_worker()
            _hand_back(conn, ctx.task_id, worker_id)
            raise absurd_sdk.SuspendTask from None  # the SDK then neither completes nor fails the run
        finally:
            in_sandbox.clear()
        done.append(ctx.task_id)
        echo(f"worker: task {ctx.task_id}: {len(blocks)} block(s) in {time.monotonic() - started:.1f} s")
        return [safe(verdict).as_json() for verdict in found]

    def stop(signum, frame):
        stopping.set()
        absurd.stop_worker()
        if in_sandbox.is_set():  # interrupts the block; the engine closes the post's units on the way out
            in_sandbox.clear()
            raise WorkerStopped("the worker was stopped; the task is retried")

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    echo(f"worker {worker_id}: claiming from {_where(dsn)} ({QUEUE}), concurrency {concurrency}")
    try:
        absurd.start_worker(worker_id=worker_id, claim_timeout=claim_timeout, concurrency=concurrency,
                            poll_interval=poll_seconds)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sandboxes in made:
            sandboxes.close()
        conn.close()
    if refused:
        raise BlogtoolsError(f"{untrusted.line(str(refused[0]))}; this worker stopped claiming and handed "
                             "its task back to the queue unfailed")
    return len(done)
