"""How well ``guess_language`` names blocks whose markup named a language, with the names stripped.

    .venv/bin/python benchmarks/guess_eval.py [FEED ...] [--sweep] [--rules-only] [--feed-languages]

Without FEED it reads the real feeds of ../shared/corpus (other/*.xml and the lucumr feed whose
blocks carry ``language-x``) and the markup-family feeds of tests/data/families/. Each code block
whose markup names a language the registry knows (as ingest reads it) is a case; identical code
counts once. The truth is that name through
the registry; the guess sees only the code. A guess is *right* when it is the same language
(JavaScript for a TypeScript block without type syntax, console for shell and back: both are
command lines), *text* when it abstains, *wrong* when it names another language. Prints the
totals and the confusion table (truth by guess); ``--sweep`` prints the totals per Magika
threshold instead.
"""

from __future__ import annotations

import argparse
import collections
import glob
import sys
from dataclasses import dataclass
from pathlib import Path

import feedparser

from blogtools import htmlmd, language_guess, languages

ROOT = Path(__file__).resolve().parents[1]
# ../shared/corpus beside the checkout (or beside the folder of worktrees it sits in).
CORPUS = next((p / "shared" / "corpus" for p in ROOT.parents if (p / "shared" / "corpus").is_dir()), ROOT / "corpus")
DEFAULT_FEEDS = (
    sorted(glob.glob(str(CORPUS / "other" / "*.xml")))
    + sorted(glob.glob(str(CORPUS / "lucumr-plaincode-atom.xml")))
    + sorted(glob.glob(str(ROOT / "tests" / "data" / "families" / "*.xml")))
)
# Names a guess may stand for beside the truth's own (command lines are shell or console alike).
_SAME = {"shell": {"console"}, "console": {"shell"}}


@dataclass(frozen=True)
class Case:
    feed: str
    truth: str
    code: str
    feed_languages: tuple[str, ...] = ()


def cases(paths: list[str]) -> list[Case]:
    """The blocks of the feeds at ``paths`` whose markup names a language the registry knows,
    read as ingest reads them (``htmlmd.named_blocks``), each code text once."""
    seen: set[str] = set()
    found = []
    for path in paths:
        feed = feedparser.parse(Path(path).read_bytes(), sanitize_html=False, resolve_relative_uris=False)
        for entry in feed.entries:
            body = (entry.get("content") or [{}])[0].get("value") or entry.get("summary", "")
            for code, named in htmlmd.named_blocks(body):
                language = languages.lookup(named) if named else None
                if language is None or not code.strip() or code in seen:
                    continue
                seen.add(code)
                found.append(Case(Path(path).name, language.name, code))
    return [Case(c.feed, c.truth, c.code, _others(found, c)) for c in found]


def _others(found: list[Case], case: Case) -> tuple[str, ...]:
    """The languages named by the other blocks of ``case``'s feed, most used first (as
    ``htmlmd.feed_languages`` orders them, transcripts left out)."""
    counts = collections.Counter(c.truth for c in found if c.feed == case.feed and c is not case
                                 and not languages.named(c.truth).transcript)
    return tuple(name for name, _ in counts.most_common())


def score(found: list[Case], guess) -> tuple[collections.Counter, collections.Counter]:
    """(right/text/wrong counts, (truth, guess) counts) of ``guess(case)`` over ``found``."""
    totals: collections.Counter = collections.Counter()
    table: collections.Counter = collections.Counter()
    for case in found:
        guessed = guess(case)
        table[case.truth, guessed] += 1
        totals[verdict(case, guessed)] += 1
    return totals, table


def verdict(case: Case, guessed: str) -> str:
    """right, text or wrong."""
    if guessed == case.truth or guessed in _SAME.get(case.truth, ()):
        return "right"
    if case.truth == "typescript" and guessed == "javascript" and not language_guess.has_type_syntax(case.code):
        return "right"
    return "text" if guessed == "text" else "wrong"


def _line(totals: collections.Counter, n: int) -> str:
    return " ".join(f"{k} {totals[k]} ({100 * totals[k] / n:.1f}%)" for k in ("right", "text", "wrong"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("feeds", nargs="*", default=DEFAULT_FEEDS)
    parser.add_argument("--sweep", action="store_true", help="totals per Magika threshold")
    parser.add_argument("--rules-only", action="store_true", help="the guess without Magika")
    parser.add_argument("--feed-languages", action="store_true", help="with the languages the feed names elsewhere")
    args = parser.parse_args(argv)
    found = cases(args.feeds)
    n = len(found)
    print(f"{n} blocks with a named language from {len({c.feed for c in found})} feeds "
          f"(guesser: {language_guess.guesser(use_model=not args.rules_only)}"
          f"{'; with the languages each feed names elsewhere' if args.feed_languages else ''})")
    if args.sweep:
        for threshold in (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95):
            totals, _ = score(found, lambda case: language_guess.guess_language(case.code, threshold=threshold))
            print(f"threshold {threshold:.2f}: {_line(totals, n)}")
        return 0
    totals, table = score(found, lambda case: language_guess.guess_language(
        case.code, use_model=not args.rules_only, feed=case.feed_languages if args.feed_languages else ()))
    print(_line(totals, n))
    truths = sorted({t for t, _ in table}, key=lambda t: -sum(v for (x, _), v in table.items() if x == t))
    guesses = sorted({g for _, g in table}, key=lambda g: -sum(v for (_, x), v in table.items() if x == g))
    print("\n| markup \\ guess | " + " | ".join(guesses) + " |")
    print("|---" * (len(guesses) + 1) + "|")
    for truth in truths:
        cells = [str(table[truth, g]) if table[truth, g] else "" for g in guesses]
        print(f"| {truth} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
