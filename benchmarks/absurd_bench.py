"""What durability costs with Absurd on the harness Postgres, and what a second worker buys.

1. Time per checkpointed ``ctx.step`` (one ``set_task_checkpoint_state`` round trip each) against
   the same loop calling the function directly, inside one task run.
2. Agent-task throughput (the essay's ``my-agent`` task: two model calls, two checkpoints) with one
   and with two worker processes, the model being the local Messages API server with no latency.

    .venv/bin/python benchmarks/absurd_bench.py [--steps 500] [--tasks 40]

Uses BLOGTOOLS_DATABASE_URL / DATABASE_URL when set, else the embedded server.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from absurd_sdk import Absurd

from blogtools.harness.llm import MessagesServer

SNIPPETS = Path(__file__).resolve().parents[1] / "snippets" / "2025-11-03-absurd-workflows"
sys.path.insert(0, str(SNIPPETS))

import agent_task
import single_step
import spawn_agent
from absurd_schema import absurd_database

WORKER = "import sys, agent_task; agent_task.run_worker(sys.argv[1], sys.argv[2], sys.argv[3], until_idle=False)"
CITIES = ["Boston", "Paris", "Tokyo", "Cairo", "Lima", "Oslo", "Rome", "Kyiv", "Accra", "Perth"]


def step_cost(steps: int) -> tuple[float, float]:
    """Seconds per step: (checkpointed ``ctx.step``, plain call), measured inside one task run."""
    timings = {}
    with absurd_database() as dsn, psycopg.connect(dsn, autocommit=True) as db:
        app = Absurd(db, queue_name="bench")
        app.create_queue()

        @app.register_task(name="loop")
        def loop(params, ctx):
            start = time.perf_counter()
            for i in range(steps):
                work = functools.partial(dict, i=i)
                if params["durable"]:
                    ctx.step("iteration", work)
                else:
                    work()
            timings[params["durable"]] = (time.perf_counter() - start) / steps

        for durable in (True, False):
            app.spawn("loop", {"durable": durable})
            app.work_batch()
        written = db.execute("SELECT count(*) FROM absurd.c_bench").fetchone()[0]
    assert written == steps, f"expected {steps} checkpoints, found {written}"
    return timings[True], timings[False]


DEADLINE_S = 300


def agent_throughput(workers: int, tasks: int) -> float:
    """Agent tasks completed per second by ``workers`` worker processes (timed from spawn to last completion)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SNIPPETS), os.environ.get("PYTHONPATH", "")]))
    with absurd_database() as dsn, psycopg.connect(dsn, autocommit=True) as db, \
            MessagesServer(single_step.WeatherModel(CITIES)) as server:
        app = Absurd(db, queue_name=agent_task.QUEUE)
        app.create_queue()
        app.register_task(name="my-agent")(lambda params, ctx: None)
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, dsn, server.base_url, f"w{n}"],
                                  env=env, stdout=subprocess.PIPE, text=True) for n in range(workers)]
        try:
            for proc in procs:
                if not proc.stdout.readline().startswith("worker"):  # "worker wN ready"
                    raise RuntimeError(f"benchmark worker exited with {proc.wait()} before it was ready")
            start = time.perf_counter()
            for n in range(tasks):
                spawn_agent.spawn_agent(app, single_step.weather_prompt([CITIES[n % len(CITIES)]]))
            done = f"SELECT count(*) FROM absurd.t_{agent_task.QUEUE} WHERE state = 'completed'"
            while db.execute(done).fetchone()[0] < tasks:
                if time.perf_counter() - start > DEADLINE_S or any(proc.poll() is not None for proc in procs):
                    raise RuntimeError(f"agent tasks did not complete within {DEADLINE_S} s (or a worker died)")
                time.sleep(0.01)
            elapsed = time.perf_counter() - start
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        assert len(server.requests) == 2 * tasks and not server.errors
    return tasks / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="steps in the step-cost loop")
    parser.add_argument("--tasks", type=int, default=40, help="agent tasks per throughput run")
    args = parser.parse_args(argv)
    durable, plain = step_cost(args.steps)
    print(f"ctx.step, checkpointed: {durable * 1e3:.3f} ms/step; plain call: {plain * 1e6:.3f} µs/step "
          f"({args.steps} steps; {durable / plain:,.0f}x the plain call)")
    rates = {}
    for workers in (1, 2):
        rates[workers] = agent_throughput(workers, args.tasks)
        print(f"agent tasks, {workers} worker{'s' if workers > 1 else ''}: {rates[workers]:.1f} tasks/s "
              f"({args.tasks} tasks)")
    print(f"2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
