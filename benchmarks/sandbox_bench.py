"""What the sandbox's rings cost: start, a fresh trust unit, a trivial run.

The baseline, measured in the same run, is bare Deno loading the same Pyodide with every
permission and no ring (no bubblewrap, no hardening, no channel): its start, and a trivial
``runPython`` timed inside it. The figures of the Node host this sandbox replaced, measured on
this machine before the change, were 3.7 s to start and 2.7 ms for a warm trivial run.

    .venv/bin/python benchmarks/sandbox_bench.py [--repeat 3] [--runs 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from blogtools.sandbox import Limits, Sandbox, runtime

BARE = """
const t0 = performance.now();
const { loadPyodide } = await import(Deno.args[0] + "/pyodide.mjs");
const pyodide = await loadPyodide({ indexURL: Deno.args[0] + "/" });
const started = performance.now() - t0;
const times = [];
for (let i = 0; i < Number(Deno.args[1]); i++) {
  const t = performance.now();
  pyodide.runPython("x = 1");
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({ started, run: times[times.length >> 1] }));
"""


def bare(rt: runtime.Runtime, runs: int) -> tuple[float, float]:
    """Wall seconds to a loaded Pyodide in a bare ``deno run -A``, and its median runPython (s)."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "bare.mjs"
        script.write_text(BARE)
        started = time.perf_counter()
        done = subprocess.run([str(rt.deno), "run", "-A", "--no-config", str(script), str(rt.pyodide), str(runs)],
                              capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    return time.perf_counter() - started - (report["run"] * runs / 1000), report["run"] / 1000


def sandboxed(runs: int) -> tuple[float, float, float]:
    """Sandbox start to a first result, a fresh unit from a warm spare to its first result, and
    the median trivial run in a warm unit (all seconds)."""
    started = time.perf_counter()
    sandbox = Sandbox(Limits())
    unit = sandbox.unit()
    unit.run("x = 1")
    start = time.perf_counter() - started
    sandbox._spare.result()  # let the spare finish starting, as it does between an agent's tasks
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        unit.run("x = 1")
        times.append(time.perf_counter() - t)
    unit.close()
    t = time.perf_counter()
    with sandbox.unit() as fresh:
        fresh.run("x = 1")
    fresh_unit = time.perf_counter() - t
    sandbox.close()
    return start, fresh_unit, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    rt = runtime.prepare()
    bare_start, bare_run = min(bare(rt, args.runs) for _ in range(args.repeat))
    results = [sandboxed(args.runs) for _ in range(args.repeat)]
    start, fresh_unit, run = (min(column) for column in zip(*results))
    rows = [
        ("bare Deno + Pyodide, start (baseline)", bare_start, bare_start),
        ("sandbox start (first unit's first result)", start, bare_start),
        ("fresh unit from the spare, first result", fresh_unit, bare_start),
        ("bare runPython('x = 1') (baseline)", bare_run, bare_run),
        ("trivial run in a warm unit", run, bare_run),
    ]
    load = " ".join(f"{figure:.2f}" for figure in os.getloadavg())
    print(f"best of {args.repeat}; runs: median of {args.runs}; load average {load} on {os.cpu_count()} CPUs")
    for name, seconds, base in rows:
        figure = f"{seconds:.2f} s" if seconds >= 0.1 else f"{seconds * 1000:.2f} ms"
        print(f"{name:45} {figure:>10}  {seconds / base:8.2f}x")


if __name__ == "__main__":
    main()
