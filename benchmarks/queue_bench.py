"""What workers on a shared Postgres queue buy: blocks a second with 1, 2 and 4 `blogtools worker`s
(each --concurrency 1) against a local `blogtools triage`, on sites made from the shared corpus.

    .venv/bin/python benchmarks/queue_bench.py [--workers 1 2 4] [FEED ...]
    .venv/bin/python benchmarks/queue_bench.py --overhead [--tasks 300]

One site per run of the benchmark: `blogtools new` with the feeds (default: two of
../shared/corpus/other, a subset; state it beside figures), `ingest`, `extract`. Then, every
configuration from scratch: `triage --all` here (the baseline), and for each worker count a fresh
database, the workers started, `triage --all --queue DSN` timed from enqueue to the last verdict
stored (so each worker's sandbox start is inside the time), the workers stopped with SIGTERM. Prints
a Markdown table with the machine's load average before each row (the machine may be shared) and
the cores its run kept busy (/proc/stat: what a worker uses beyond its one unit, a warm spare
starting beside it, bounds what more workers can add on the same cores), and checks that every configuration gave the local verdicts. Uses the harness Postgres (embedded unless
BLOGTOOLS_DATABASE_URL is set).

``--overhead`` measures the queue alone instead: tasks with an empty handler, spawned, claimed and
completed by one worker through the same SDK calls `blogtools worker` makes, plus one lease
renewal (heartbeat) per task: milliseconds per task and per round trip, for the scaling model.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from blogtools.harness import postgres

REPO = Path(__file__).resolve().parent.parent
CORPUS = next((up / "shared" / "corpus" for up in REPO.parents if (up / "shared" / "corpus").is_dir()), REPO / "corpus")
FEEDS = [CORPUS / "other" / "bernsteinbear_mistune-build_feed.xml", CORPUS / "other" / "pypy-blog_rss.xml"]


def blogtools(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "blogtools", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"blogtools {' '.join(args)} exited {done.returncode}: {(done.stderr or done.stdout)[-600:]}")
    return done


def cpu_jiffies() -> tuple[int, int]:
    """The machine's busy and total CPU time so far (/proc/stat, all cores), in jiffies."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4], sum(fields)  # idle and iowait are not busy


def cores_busy(before: tuple[int, int]) -> float:
    """How many of the machine's cores were busy on average since ``before`` (cpu_jiffies())."""
    busy, total = cpu_jiffies()
    return (busy - before[0]) / max(1, total - before[1]) * os.cpu_count()


def make_site(feeds: list[Path], root: Path) -> int:
    """A site of ``feeds`` (the first given to `new`, the others added to feeds.toml); its block count."""
    blogtools("new", str(root), "--feed", str(feeds[0]), cwd=root.parent)
    # the local baseline triages every block, as the queue does: a build's budget (3 minutes) would
    # leave the corpus's last posts for a later run
    config = root / "mkdocs.yml"
    config.write_text(config.read_text().replace(
        "  blogtools:\n", "  blogtools:\n    triage_build_seconds: 86400\n    triage_post_seconds: 86400\n", 1))
    with (root / "feeds" / "feeds.toml").open("a") as toml:
        for feed in feeds[1:]:
            toml.write(f'\n[[source]]\nlocation = "{feed}"\n')
    blogtools("ingest", cwd=root)
    blogtools("extract", cwd=root)
    return len(json.loads(blogtools("snippets", "--json", cwd=root).stdout))


def verdicts(root: Path) -> dict:
    stored = json.loads((root / "snippets" / "results.json").read_text())
    return {ident: (item["triage"]["verdict"], item["triage"]["reason"], item["triage"]["needs"])
            for ident, item in stored.items()}


def timed_queue(root: Path, server: str, workers: int) -> float:
    """Seconds for `triage --all --queue` with ``workers`` workers on a fresh database."""
    with postgres.temporary_database(server) as dsn:
        blogtools("worker", "--help", cwd=root)  # the CLI imports once before timing (page cache)
        started_workers = [subprocess.Popen([sys.executable, "-m", "blogtools", "worker", "--queue", dsn],
                                            cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                            start_new_session=True) for _ in range(workers)]
        try:
            started = time.monotonic()
            blogtools("triage", "--all", "--queue", dsn, cwd=root)
            return time.monotonic() - started
        finally:
            for process in started_workers:
                process.send_signal(signal.SIGTERM)
            for process in started_workers:
                try:
                    process.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def overhead(server: str, tasks: int) -> None:
    """Print the queue's own cost per task (spawn, claim, heartbeat, complete) on ``server``."""
    from absurd_sdk import Absurd

    from blogtools import queue

    with postgres.temporary_database(server) as dsn:
        queue.install_schema(dsn)
        absurd = Absurd(dsn, queue_name=queue.QUEUE)
        absurd.register_task(queue.TASK)(lambda params, ctx: ctx.heartbeat(60) or [])
        started = time.monotonic()
        for number in range(tasks):
            absurd.spawn(queue.TASK, {"n": number}, idempotency_key=f"bench:{number}")
        spawned = time.monotonic()
        for _ in range(tasks):
            absurd.work_batch(worker_id="bench", claim_timeout=60)
        worked = time.monotonic()
        absurd.close()
    # spawn: 1 round trip; work: claim, load checkpoints, heartbeat, complete = 4
    print(f"load {os.getloadavg()[0]:.1f}: spawn {1000 * (spawned - started) / tasks:.2f} ms a task (1 round trip); "
          f"claim + checkpoints + heartbeat + complete {1000 * (worked - spawned) / tasks:.2f} ms a task "
          f"(4 round trips) over {tasks} tasks")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("feeds", nargs="*", type=Path, help="feed files (default: two feeds of the shared corpus)")
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2, 4])
    parser.add_argument("--overhead", action="store_true", help="measure the queue's own cost per task only")
    parser.add_argument("--tasks", type=int, default=300, help="tasks for --overhead")
    args = parser.parse_args(argv)
    feeds = [feed.resolve() for feed in args.feeds] or FEEDS
    server = postgres.server_url()  # held by this process for the whole run
    if args.overhead:
        overhead(server, args.tasks)
        return 0
    with tempfile.TemporaryDirectory(prefix="blogtools-queue-bench-") as scratch:
        root = Path(scratch) / "site"
        blocks = make_site(feeds, root)
        print(f"{blocks} blocks from {', '.join(feed.name for feed in feeds)}; {os.cpu_count()} CPUs")
        print("| triage | seconds | blocks/s | vs local | load (1 min) before | cores busy | same verdicts |")
        print("|---|---|---|---|---|---|---|")
        load, jiffies = os.getloadavg()[0], cpu_jiffies()
        started = time.monotonic()
        blogtools("triage", "--all", cwd=root)
        local_seconds, local = time.monotonic() - started, verdicts(root)
        print(f"| local | {local_seconds:.1f} | {blocks / local_seconds:.2f} | 1.00 | {load:.1f} | "
              f"{cores_busy(jiffies):.2f} | - |", flush=True)
        same_everywhere = True
        for count in args.workers:
            load, jiffies = os.getloadavg()[0], cpu_jiffies()
            seconds = timed_queue(root, server, count)
            busy = cores_busy(jiffies)
            same = verdicts(root) == local
            same_everywhere &= same
            print(f"| {count} worker{'s' * (count > 1)} | {seconds:.1f} | {blocks / seconds:.2f} | "
                  f"{local_seconds / seconds:.2f} | {load:.1f} | {busy:.2f} | {'yes' if same else 'NO'} |", flush=True)
    return 0 if same_everywhere else 1


if __name__ == "__main__":
    sys.exit(main())
