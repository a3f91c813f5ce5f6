"""Ingest benchmark: a 1,000-entry feed made of the real feed's entries (distinct ids and links).

Reports (a) the first ingest against ``feedparser.parse`` alone on the same file (target: at most
3x) and (b) a second, unchanged ingest: its time and the files it wrote (target: 0 files in under a
tenth of the first ingest's time). Run from the repository root:

    .venv/bin/python benchmarks/ingest_bench.py [--entries 1000] [--feed tests/data/lucumr-2025-12-13.atom]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import feedparser

from blogtools.feeds import Source
from blogtools.ingest import ingest

ROOT = Path(__file__).resolve().parents[1]


def build_feed(template: Path, count: int, out: Path) -> None:
    """Write an Atom feed of ``count`` entries cycled from ``template``, each id and link unique."""
    text = template.read_text(encoding="utf-8")
    entries = re.findall(r"<entry>.*?</entry>", text, flags=re.S)
    head = text[: text.index("<entry>")]
    copies = []
    for n in range(count):
        entry = entries[n % len(entries)]
        copies.append(re.sub(r'(<id>|<link href=")(https://[^<"]+?)/(</id>|" />)',
                             rf"\g<1>\g<2>-{n}/\g<3>", entry))
    out.write_text(head + "\n".join(copies) + "\n</feed>\n", encoding="utf-8")


def timed(action):
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--feed", type=Path, default=ROOT / "tests/data/lucumr-2025-12-13.atom")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        feed = Path(tmp) / "big.atom"
        build_feed(args.feed, args.entries, feed)
        size = feed.stat().st_size
        parse_time, parsed = timed(lambda: feedparser.parse(feed.read_bytes()))
        assert len(parsed.entries) == args.entries
        # The same parse as ingest runs it: nh3 sanitises instead of feedparser's own sanitiser.
        bare_time, _ = timed(lambda: feedparser.parse(feed.read_bytes(), sanitize_html=False,
                                                      resolve_relative_uris=False))
        content = Path(tmp) / "content"
        source = Source(str(feed), "big.atom")
        first_time, first = timed(lambda: ingest([source], content))
        second_time, second = timed(lambda: ingest([source], content))
    print(f"feed: {args.entries} entries, {size / 1e6:.1f} MB (from {args.feed.name})")
    print(f"feedparser.parse alone:  {parse_time:6.2f} s  (defaults; {bare_time:.2f} s with its "
          "sanitiser and URI resolution off, as ingest calls it)")
    print(f"first ingest:            {first_time:6.2f} s  ({first.line()}; "
          f"{first_time / parse_time:.2f}x feedparser.parse, target <= 3x)")
    print(f"second, unchanged:       {second_time:6.3f} s  ({second.line()}; "
          f"{len(second.written)} files written, {second_time / first_time:.3f} of the first, "
          "target 0 files and < 0.1)")


if __name__ == "__main__":
    main()
