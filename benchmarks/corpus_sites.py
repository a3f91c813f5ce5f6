"""Triage on real blogs: a new site for every feed of the shared corpus, built the way a user builds it.

For each feed (../shared/corpus/lucumr-*.xml and other/*.xml by default, or the files given), in a
temporary folder: `blogtools new`, `ingest`, `extract`, `triage`, `build`, `check` and
`snippets --json`. Prints per feed the blocks, the verdicts (runs, needs-context, illustrative,
not triaged), how many blocks the built pages show a verdict for, whether check is green, and the
triage time; then the totals. Exit status 1 when any step fails or a page lacks a verdict. Run:

    .venv/bin/python benchmarks/corpus_sites.py [FEED ...]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# ../shared/corpus beside the checkout (a worktree under /work/wt/ has it one level further up)
CORPUS = next((up / "shared" / "corpus" for up in REPO.parents if (up / "shared" / "corpus").is_dir()), REPO / "corpus")
VERDICTS = ("defines", "runs", "matches", "differs", "needs-context", "illustrative")
# the badge under each block (annotate.badge: an admonition, or a disclosure when it has more to show)
SHOWN = re.compile(r'class="[^"]*\bbt-badge [^"]*\bbt-state-(?:triaged-[\w-]+|not-triaged[\w-]*)[" ]')


def blogtools(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "blogtools", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"blogtools {' '.join(args)} exited {done.returncode}: {(done.stderr or done.stdout).strip()[-400:]}")
    return done


def site_for(feed: Path, scratch: Path) -> dict:
    """Make, triage, build and check a site for ``feed``; what it found."""
    root = scratch / "site"
    blogtools("new", str(root), "--feed", str(feed), cwd=scratch)
    blogtools("ingest", cwd=root)
    blogtools("extract", cwd=root)
    started = time.monotonic()
    triaged = blogtools("triage", cwd=root)
    seconds = time.monotonic() - started
    blogtools("build", "--offline", cwd=root)
    check = subprocess.run([sys.executable, "-m", "blogtools", "check"], cwd=root, capture_output=True, text=True)
    listed = json.loads(blogtools("snippets", "--json", cwd=root).stdout)
    counts = Counter(item["triage"]["verdict"] if item["triage"] else "not triaged" for item in listed)
    shown = sum(len(SHOWN.findall(page.read_text(encoding="utf-8")))
                for page in (root / "site").glob("[0-9]*/*/*/*/index.html"))
    return {"blocks": len(listed), **counts, "shown": shown, "check": "green" if check.returncode == 0 else "FAILED",
            "check_line": check.stdout.strip().splitlines()[-1], "seconds": seconds,
            "summary": triaged.stdout.strip().splitlines()[-1]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("feeds", nargs="*", type=Path, help="feed files (default: the shared corpus)")
    args = parser.parse_args(argv)
    feeds = args.feeds or sorted(CORPUS.glob("lucumr-*.xml")) + sorted((CORPUS / "other").glob("*.xml"))
    columns = ["blocks", *VERDICTS, "not triaged", "shown", "check", "seconds"]
    print("| feed | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    totals, failed = Counter(), False
    for feed in feeds:
        with tempfile.TemporaryDirectory(prefix="blogtools-corpus-") as scratch:
            try:
                found = site_for(feed, Path(scratch))
            except RuntimeError as exc:
                print(f"| {feed.name} | {exc} |")
                failed = True
                continue
        failed |= found["check"] != "green" or found["shown"] != found["blocks"]
        totals.update({key: found.get(key, 0) for key in columns if key != "check"})
        print("| " + " | ".join([feed.name, *(f"{found.get(key, 0):.1f}" if key == "seconds" else str(found.get(key, 0))
                                              for key in columns)]) + " |", flush=True)
        print(f"<!-- {feed.name}: {found['summary']}; {found['check_line']} -->", flush=True)
    print("| total | " + " | ".join(f"{totals[key]:.1f}" if key == "seconds" else str(totals[key]) if key != "check" else ""
                                    for key in columns) + " |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
