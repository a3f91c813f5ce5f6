"""How often triage's verdict agrees with a hand label, on real blocks of the corpus feeds.

    .venv/bin/python benchmarks/triage_eval.py [--labels benchmarks/triage_labels.tsv]
    .venv/bin/python benchmarks/triage_eval.py --draw 40 --seed 20   # blocks to label next

Each feed named in the labels (in ../shared/corpus: lucumr-atom.xml, other/*.xml) is ingested into
a temporary site with blogtools (``new``, ``ingest``, ``extract``), as an author's would be; every
post holding a labelled block is triaged whole (its earlier blocks are context) in the sandbox.
Prints the agreement (``defines``, ``runs``, ``matches`` and ``differs`` agree with the label
``runs``; ``matches`` and ``differs`` also with ``illustrative``: a transcript checked as a doctest),
every disagreement, how many blocks were called ``runs``, ``defines`` or ``matches`` against a label
that says they do not run (the one error that must not happen: it must be 0), and how many Python
console sessions and Node REPL sessions were checked. A labelled block the
feeds no longer yield is reported as missing, not counted. ``--draw N`` runs nothing: it prints N
blocks of the corpus feeds that have no label yet, drawn at random (``--seed``), for a person to
label before any rule changes.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from blogtools import manifest
from blogtools.triage import Block, Sandboxes, is_node_session, triage_post

ROOT = Path(__file__).resolve().parents[1]
# ../shared/corpus beside the checkout (or beside the folder of worktrees it sits in).
CORPUS = next((p / "shared" / "corpus" for p in ROOT.parents if (p / "shared" / "corpus").is_dir()), ROOT / "corpus")
LABELS = ROOT / "benchmarks" / "triage_labels.tsv"
# The rubric's three labels; a verdict that ran says more than "runs", and a console session or
# output checked as a doctest (matches/differs) is what the rubric calls "better still" than illustrative.
AS_LABEL = {"defines": "runs", "runs": "runs", "matches": "runs", "differs": "runs"}
CLAIMS_A_RUN = ("runs", "defines", "matches")


def agrees(verdict: str, label: str) -> bool:
    """Whether a verdict agrees with a hand label of the rubric."""
    return AS_LABEL.get(verdict, verdict) == label or (verdict in ("matches", "differs") and label == "illustrative")


def wrongly_ran(verdict: str, label: str) -> bool:
    """A block called runs, defines or matches that, by its label, does not run (must never happen)."""
    return verdict in CLAIMS_A_RUN and label == "needs-context" or verdict in ("runs", "defines") and label == "illustrative"


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


def draw(labels: dict, count: int, seed: int) -> None:
    """Print ``count`` unlabelled blocks of every corpus feed, drawn at random, with their keys."""
    feeds = sorted([CORPUS / "lucumr-atom.xml", *(CORPUS / "other").glob("*.xml")])
    pool = []
    with tempfile.TemporaryDirectory(prefix="triage-draw-") as folder:
        for number, feed in enumerate(feeds):
            for blocks in feed_posts(feed, Path(folder) / str(number)).values():
                pool += [(feed.name, ident, block) for ident, block in blocks if (feed.name, sha(block.text)) not in labels]
    unique = list({(feed, sha(block.text)): (feed, ident, block) for feed, ident, block in pool}.values())
    for feed, ident, block in random.Random(seed).sample(unique, min(count, len(unique))):
        print(f"=== {sha(block.text)}\t{feed}\t{ident}\t[{block.language}]")
        print(block.text if len(block.text) < 3000 else block.text[:3000] + "\n[...]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--draw", type=int, metavar="N", help="print N unlabelled blocks to label, run nothing")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    labels = read_labels(args.labels)
    if args.draw:
        draw(labels, args.draw, args.seed)
        return 0
    feeds = sorted({feed for feed, _ in labels})
    agreed, compared, wrong_runs, disagreements, found = 0, 0, 0, [], set()
    given, sessions, node = defaultdict(int), [0, 0], [0, 0]
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
                    labels[key]["block"] = next(block.text for _, block in blocks if sha(block.text) == key[1])
                    label = labels[key]["label"]
                    compared += 1
                    agreed += agrees(verdict.verdict, label)
                    wrong_runs += wrongly_ran(verdict.verdict, label)
                    given[verdict.verdict] += 1
                    if ">>>" in labels[key]["block"] or "In [" in labels[key]["block"]:
                        sessions[0] += 1
                        sessions[1] += verdict.verdict in ("matches", "differs")
                    if is_node_session(next(block for _, block in blocks if sha(block.text) == key[1])):
                        node[0] += 1
                        node[1] += verdict.verdict in ("matches", "differs")
                    if not agrees(verdict.verdict, label):
                        needs = ", ".join(need.phrase() for need in verdict.needs)
                        disagreements.append(f"  {feed[:24]:24} {ident:58} label {label:13} got {verdict.verdict:13} "
                                             f"{verdict.reason[:70]}{f' [{needs}]' if needs else ''}"
                                             f"  (label: {labels[key]['why']})")
    missing = [row["id"] for key, row in labels.items() if key not in found]
    print(f"triage agreement: {agreed}/{compared} = {100 * agreed / max(compared, 1):.1f}% "
          f"({time.perf_counter() - started:.0f} s)")
    print(f"called runs/defines/matches but labelled as not running: {wrong_runs}")
    print("verdicts given: " + ", ".join(f"{count} {verdict}" for verdict, count in sorted(given.items())))
    print(f"Python console sessions checked (matches or differs): {sessions[1]}/{sessions[0]}")
    print(f"Node REPL sessions checked (matches or differs): {node[1]}/{node[0]}")
    print(f"disagreements ({len(disagreements)}):", *disagreements, sep="\n")
    if missing:
        print(f"labelled blocks the feeds no longer yield ({len(missing)}):", *missing, sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
