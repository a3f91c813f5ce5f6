"""Benchmark: `blogtools test` is cached by fingerprint.

In a copy of this project's site (its tracked files without snippets/results.json; node_modules and
the sandbox's wheels linked in), runs `blogtools test` three times: first with no evidence (every
runnable entry runs), then again with nothing changed (no test should run, in at most 5% of the
first's time), then after appending a comment to one module (only the entries whose recorded
inputs include it should run). Prints each run's summary and time, and checks both claims. Run:

    .venv/bin/python benchmarks/evidence_bench.py [--touch snippets/2025-10-17-code/agentic_loop.py]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BLOGTOOLS = [sys.executable, "-m", "blogtools"]


def copy_project(target: Path) -> None:
    """The project's files as git sees them (tracked and new, not ignored), without any evidence."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if name.startswith("src/") or name == "snippets/results.json" or not source.is_file():
            continue  # blogtools itself runs from its installation
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_bytes(source.read_bytes())
    (target / "node_modules").symlink_to(REPO / "node_modules")
    (target / ".cache").mkdir()
    (target / ".cache/wheels").symlink_to(REPO / ".cache/wheels")


def timed_test(root: Path) -> tuple[float, str, list[str]]:
    """One `blogtools test`: seconds, its summary line, and the ids it ran."""
    started = time.perf_counter()
    done = subprocess.run([*BLOGTOOLS, "test"], cwd=root, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    ran = re.findall(r"^test: (\S+): running", done.stderr, re.M)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-300:]
    return seconds, summary, ran


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--touch", default="snippets/2025-10-17-code/agentic_loop.py",
                        help="the module to change for the third run (a path in the project)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="evidence-bench-") as scratch:
        root = Path(scratch)
        copy_project(root)
        first, summary, ran_first = timed_test(root)
        print(f"first `blogtools test` (no evidence):  {first:7.1f} s  {summary}")
        second, summary, ran_second = timed_test(root)
        print(f"second, nothing changed:              {second:7.1f} s  {summary}  "
              f"({100 * second / first:.2f}% of the first)")

        records = json.loads((root / "snippets/results.json").read_text())
        expected = sorted(ident for ident, record in records.items() if args.touch in record["inputs"])
        with open(root / args.touch, "a", encoding="utf-8") as handle:
            handle.write("\n# touched by evidence_bench.py\n")
        third, summary, ran_third = timed_test(root)
        print(f"third, {args.touch} changed: {third:7.1f} s  {summary}")
        print(f"  ran: {', '.join(sorted(ran_third)) or 'nothing'}")
        print(f"  entries whose inputs include it: {', '.join(expected) or 'none'}")

    ok = not ran_second and second <= 0.05 * first and sorted(ran_third) == expected and len(ran_first) > len(expected)
    print("claims hold" if ok else "CLAIMS DO NOT HOLD")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    sys.exit(main())
