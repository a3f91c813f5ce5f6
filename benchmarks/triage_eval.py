"""How often triage's verdict agrees with a hand label, on real blocks of the corpus feeds.

    .venv/bin/python benchmarks/triage_eval.py [--labels benchmarks/triage_labels.tsv]

Each feed named in the labels (in ../shared/corpus: lucumr-atom.xml, other/*.xml) is ingested into
a temporary site with blogtools (``new``, ``ingest``, ``extract``), as an author's would be; every
post holding a labelled block is triaged whole (its earlier blocks are context) in the sandbox.
Prints the agreement, every disagreement, and how many blocks were called ``runs`` against a label
that says they do not run (the one error that must not happen: it must be 0). A labelled block the
feeds no longer yield is reported as missing, not counted.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from blogtools import manifest
from blogtools.triage import RUNS, Block, Sandboxes, triage_post

ROOT = Path(__file__).resolve().parents[1]
# ../shared/corpus beside the checkout (or beside the folder of worktrees it sits in).
CORPUS = next((p / "shared" / "corpus" for p in ROOT.parents if (p / "shared" / "corpus").is_dir()), ROOT / "corpus")
LABELS = ROOT / "benchmarks" / "triage_labels.tsv"


def feed_posts(feed: Path, folder: Path) -> dict[str, list[tuple[str, Block]]]:
    """The code blocks of ``feed`` as a new site of it gets them: post -> [(block id, Block)] in order."""
    site = folder / "site"
    blogtools = [sys.executable, "-m", "blogtools"]
    subprocess.run([*blogtools, "new", str(site), "--feed", str(feed)], check=True, capture_output=True)
    for step in ("ingest", "extract"):
        subprocess.run([*blogtools, step], cwd=site, check=True, capture_output=True)
    posts: dict[str, list[tuple[str, Block]]] = defaultdict(list)
    entries = sorted((e for e in manifest.read(site / "snippets").values() if e.is_block), key=lambda e: (e.post, e.ordinal))
    for entry in entries:
        text = (site / "snippets" / entry.post / entry.file).read_text(encoding="utf-8")
        posts[entry.post].append((entry.id, Block(entry.ordinal, entry.language, text)))
    return posts


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_labels(path: Path) -> dict[tuple[str, str], dict]:
    """(feed file name, sha256 of the block text) -> the label row."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return {(row["feed"], row["sha256"]): row for row in csv.DictReader(lines, delimiter="\t")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=LABELS)
    args = parser.parse_args(argv)
    labels = read_labels(args.labels)
    feeds = sorted({feed for feed, _ in labels})
    agreed, compared, wrong_runs, disagreements, found = 0, 0, 0, [], set()
    started = time.perf_counter()
    with Sandboxes() as sandboxes, tempfile.TemporaryDirectory(prefix="triage-eval-") as folder:
        for number, feed in enumerate(feeds):
            path = next(p for p in (CORPUS / feed, CORPUS / "other" / feed) if p.exists())
            posts = feed_posts(path, Path(folder) / str(number))
            for blocks in posts.values():
                keys = [(feed, sha(block.text)) for _, block in blocks]
                if not any(key in labels and key not in found for key in keys):
                    continue
                verdicts = triage_post([block for _, block in blocks], sandboxes=sandboxes)
                for (ident, _), key, verdict in zip(blocks, keys, verdicts):
                    if key not in labels or key in found:  # a text repeated in a feed counts once
                        continue
                    found.add(key)
                    label = labels[key]["label"]
                    compared += 1
                    agreed += verdict.verdict == label
                    wrong_runs += verdict.verdict == RUNS and label != RUNS
                    if verdict.verdict != label:
                        needs = ", ".join(need.phrase() for need in verdict.needs)
                        disagreements.append(f"  {feed[:24]:24} {ident:58} label {label:13} got {verdict.verdict:13} "
                                             f"{verdict.reason[:70]}{f' [{needs}]' if needs else ''}"
                                             f"  (label: {labels[key]['why']})")
    missing = [row["id"] for key, row in labels.items() if key not in found]
    print(f"triage agreement: {agreed}/{compared} = {100 * agreed / max(compared, 1):.1f}% "
          f"({time.perf_counter() - started:.0f} s)")
    print(f"called runs but labelled otherwise: {wrong_runs}")
    print(f"disagreements ({len(disagreements)}):", *disagreements, sep="\n")
    if missing:
        print(f"labelled blocks the feeds no longer yield ({len(missing)}):", *missing, sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
