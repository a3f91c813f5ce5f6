"""Benchmark (c): `blogtools build` against a bare `mkdocs build` of the same content.

Makes an Atom feed of N entries from the real feed's 10 (distinct ids, links, titles and dates),
builds a fresh site from it with `blogtools build` (ingest → render → mkdocs build --strict), then
times a bare `mkdocs build` over the Markdown that render wrote, and a second, unchanged
`blogtools build`. Each figure is the best of --repeat runs (the machine may be shared). Run:

    .venv/bin/python benchmarks/build_bench.py --entries 200 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ATOM = "http://www.w3.org/2005/Atom"


def scaled_feed(source: Path, entries: int) -> bytes:
    """An Atom feed of `entries` entries cycled from `source`, each with its own id, link and day."""
    ET.register_namespace("", ATOM)
    tree = ET.parse(source)
    feed = tree.getroot()
    originals = feed.findall(f"{{{ATOM}}}entry")
    for entry in originals:
        feed.remove(entry)
    start = datetime.fromisoformat("2025-12-13T00:00:00+00:00")
    for i in range(entries):
        entry = ET.fromstring(ET.tostring(originals[i % len(originals)]))
        day = start - timedelta(days=i)
        segment = f"{entry.find(f'{{{ATOM}}}link').get('href').rstrip('/').rsplit('/', 1)[-1]}-{i}"
        url = f"https://lucumr.pocoo.org/{day.year}/{day.month}/{day.day}/{segment}/"
        entry.find(f"{{{ATOM}}}id").text = url
        entry.find(f"{{{ATOM}}}link").set("href", url)
        entry.find(f"{{{ATOM}}}title").text += f" ({i})"
        for name in ("published", "updated"):
            entry.find(f"{{{ATOM}}}{name}").text = day.isoformat()
        feed.append(entry)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def timed(cmd: list[str], cwd: Path) -> float:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=200, help="feed size (default 200)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure, best kept")
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="blogtools-bench-") as tmp:
        root = Path(tmp)
        shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
        (root / "feeds").mkdir()
        (root / "feeds" / "bench.atom").write_bytes(
            scaled_feed(REPO / "feeds" / "lucumr-2025-12-13.atom", args.entries))
        (root / "feeds" / "feeds.toml").write_text(
            '[[source]]\nlocation = "bench.atom"\nauthor = "Armin Ronacher"\n'
            'site = "https://lucumr.pocoo.org/"\n')
        runs = []
        for _ in range(args.repeat):
            for generated in ("content", "build", "site"):
                shutil.rmtree(root / generated, ignore_errors=True)
            runs.append((
                timed([str(bin_dir / "blogtools"), "build"], root),
                timed([str(bin_dir / "mkdocs"), "build", "--strict"], root),
                timed([str(bin_dir / "blogtools"), "build"], root),
            ))
        posts = len(list((root / "build" / "docs" / "posts").glob("*.md")))
        build, bare, again = (min(column) for column in zip(*runs))
    print(f"{args.entries} entries, {posts} posts built, {os.cpu_count()} CPUs, "
          f"best of {args.repeat}")
    print(f"blogtools build (fresh: ingest + render + mkdocs): {build:6.1f} s")
    print(f"bare mkdocs build --strict of the same Markdown:   {bare:6.1f} s")
    print(f"blogtools build again (feed unchanged):            {again:6.1f} s")
    print(f"blogtools overhead over mkdocs: {build - bare:.1f} s fresh, {again - bare:.1f} s unchanged "
          f"({build / bare:.2f}x and {again / bare:.2f}x the bare build)")


if __name__ == "__main__":
    main()
