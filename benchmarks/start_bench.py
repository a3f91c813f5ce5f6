"""What starting the CLI costs: `blogtools --version` and `--help` against `mkdocs --version`.

Each command runs --repeat times, interleaved (so a burst of load hits all of them alike); the
figure is each one's median, and the ratio to mkdocs' in the same run. Run:

    .venv/bin/python benchmarks/start_bench.py --repeat 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {"mkdocs --version": ["mkdocs", "--version"], "blogtools --version": ["blogtools", "--version"],
            "blogtools --help": ["blogtools", "--help"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20, help="runs of each command (default 20)")
    args = parser.parse_args(argv)
    bin_dir = Path(sys.executable).parent
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeat):
        for name, (program, *rest) in COMMANDS.items():
            started = time.perf_counter()
            subprocess.run([str(bin_dir / program), *rest], check=True, capture_output=True)
            times[name].append(time.perf_counter() - started)
    base = statistics.median(times["mkdocs --version"])
    print(f"CLI start, median of {args.repeat} interleaved runs, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    for name, found in times.items():
        print(f"  {name:<20} {statistics.median(found):.3f} s  ({statistics.median(found) / base:.2f}x mkdocs --version)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
