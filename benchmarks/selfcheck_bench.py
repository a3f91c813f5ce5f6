"""What the sandbox's self-check costs beside one sandbox start, measured in the same run.

Each round starts a Python sandbox (bubblewrap, Deno, Pyodide and its hardening, up to the ready
message: what every triage pays once) and then times ``selfcheck.rings`` on its first unit: the
channel's forged lines, the interpreter canary run (it takes the started process, as a first block
would), and the host's look at the process in /proc (guest.js's runtime canaries run inside the
start and are part of its figure). The check must cost at most 20% of the start.

    .venv/bin/python benchmarks/selfcheck_bench.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from blogtools import triage
from blogtools.sandbox import Sandbox, selfcheck


def one_round() -> tuple[float, float]:
    """(seconds to a started sandbox, seconds of the self-check on its first unit)."""
    started = time.monotonic()
    with Sandbox(triage.LIMITS) as sandbox:
        sandbox._spare.result()
        ready = time.monotonic()
        with sandbox.unit() as unit:
            states = selfcheck.rings(unit)
        checked = time.monotonic()
    assert all(state.holds for state in states), states
    return ready - started, checked - ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rounds = [one_round() for _ in range(args.repeat)]
    for n, (start, check) in enumerate(rounds, 1):
        print(f"round {n}: start {start:.2f} s, self-check {check * 1000:.0f} ms ({check / start:.1%})")
    start, check = statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)
    print(f"median: start {start:.2f} s, self-check {check * 1000:.0f} ms; ratio {check / start:.1%} (limit 20%)")


if __name__ == "__main__":
    main()
