"""What triage costs: 1,000 real blocks from the corpus feeds, triaged post by post in the sandbox.

    .venv/bin/python benchmarks/triage.py [--blocks 1000] [--starts 3]

The blocks are the corpus feeds' own (../shared/corpus: lucumr-atom.xml and other/*.xml, as a new
site of each gets them), post by post in feed order; when the feeds hold fewer, their posts come
round again with each block's text varied by a trailing comment line, so nothing could be reused.
Each post is one ``triage_post`` call (one fresh Python interpreter per post, started ahead as the
sandbox's spares, ``--spares`` side by side, while the previous post runs; one Deno per script
block). Prints the median and 90th percentile per block (all blocks, and those that ran in a
sandbox) with the waits for a fresh interpreter taken out, those waits on their own, the total,
and the cost of one fresh interpreter measured cold (``--starts`` times).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from triage_eval import CORPUS, feed_posts

from blogtools.sandbox import Sandbox
from blogtools.triage import LIMITS, Block, Sandboxes, static_verdict, triage_post

FEEDS = [CORPUS / "lucumr-atom.xml", *sorted((CORPUS / "other").glob("*.xml"))]
_COMMENTS = {"python": "#", "javascript": "//", "typescript": "//"}


def corpus_posts(count: int, folder: Path) -> list[list[Block]]:
    """Posts of the corpus feeds holding ``count`` blocks in all, varied when they come round again."""
    originals = [[block for _, block in blocks] for number, feed in enumerate(FEEDS)
                 for blocks in feed_posts(feed, folder / str(number)).values()]
    posts, total, round_ = [], 0, 0
    while total < count:
        for post in originals:
            if total >= count:
                break
            post = post[: count - total]
            if round_:
                post = [replace(b, text=f"{b.text}{_COMMENTS.get(b.language, '#')} round {round_}\n") for b in post]
            posts.append(post)
            total += len(post)
        round_ += 1
    return posts


class _Waits:
    """Times every wait for a fresh interpreter (Sandbox._take_spare), by the block it fell in."""

    def __init__(self):
        self.current = 0.0
        self.all: list[float] = []
        self._take = Sandbox._take_spare
        waits = self

        def timed(sandbox):
            started = time.perf_counter()
            try:
                return waits._take(sandbox)
            finally:
                waits.current += time.perf_counter() - started
                waits.all.append(time.perf_counter() - started)

        Sandbox._take_spare = timed

    def take(self) -> float:
        current, self.current = self.current, 0.0
        return current


def cold_start(times: int) -> list[float]:
    """Seconds from a new sandbox to the first result of its first unit: one fresh interpreter."""
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        with Sandbox(LIMITS) as sandbox, sandbox.unit() as unit:
            unit.run("pass")
        seconds.append(time.perf_counter() - started)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=1000)
    parser.add_argument("--starts", type=int, default=3, help="cold starts of a fresh interpreter to time")
    parser.add_argument("--spares", type=int, default=2, help="Python interpreters started side by side")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as folder:
        posts = corpus_posts(args.blocks, Path(folder))
    starts = cold_start(args.starts)
    waits, per_block, ran, verdicts = _Waits(), [], [], Counter()
    started = time.perf_counter()
    with Sandboxes(python_spares=args.spares) as sandboxes:
        for post in posts:
            mark = time.perf_counter()

            def progress(block, verdict):
                nonlocal mark
                now = time.perf_counter()
                per_block.append(now - mark - waits.take())
                if static_verdict(block) is None:
                    ran.append(per_block[-1])
                verdicts[verdict.verdict] += 1
                mark = now

            triage_post(post, sandboxes=sandboxes, progress=progress)
    total = time.perf_counter() - started
    print(f"triage of {len(per_block)} blocks in {len(posts)} posts ({dict(verdicts)}), 2-core machine")
    print(f"  per block, fresh-interpreter waits taken out: median {statistics.median(per_block):.3f} s, "
          f"90th percentile {statistics.quantiles(per_block, n=10)[-1]:.3f} s, mean {statistics.mean(per_block):.3f} s")
    print(f"  per block that ran in a sandbox ({len(ran)}), waits taken out: median {statistics.median(ran):.3f} s, "
          f"90th percentile {statistics.quantiles(ran, n=10)[-1]:.3f} s, mean {statistics.mean(ran):.3f} s")
    print(f"  waits for a fresh interpreter: {len(waits.all)}, {sum(waits.all):.1f} s in all "
          f"(median {statistics.median(waits.all) if waits.all else 0:.2f} s: the spare starts while the previous post runs)")
    print(f"  one fresh interpreter, cold (sandbox to first result): median {statistics.median(starts):.2f} s of {len(starts)}")
    print(f"  total {total:.1f} s, {total / len(per_block):.3f} s per block")
    return 0


if __name__ == "__main__":
    sys.exit(main())
