"""The one table of how each evidence state reads: its words, icon and colour.

Post pages (the badge under each code block), ``/examples/`` (its counts, bar and rows), ``check``
and ``snippets`` (their words) and the docs all read ``BADGES``: a state reads the same wherever it
is shown. Colour is never the only signal: every row has its own icon and words. Tones, by meaning:

- ``green``: verified by tests, or runs as published;
- ``red``: fails as published or is broken (an expected failure reads differently from an
  unexpected one);
- ``neutral``: ran in the sandbox, which is evidence it runs but not that it does what the post says;
- ``amber``: needs something to run, or its output differs from the post's;
- ``grey``: illustrative, or not checked (yet).

The table is plain data with no imports from the rest of blogtools, so that ``evidence`` can read
it too. Its keys are the evidence states' JSON values (``evidence.STATES``).
"""

from __future__ import annotations

from dataclasses import dataclass

TONES = ("green", "red", "neutral", "amber", "grey")


@dataclass(frozen=True)
class Badge:
    """How one state reads: ``icon`` and ``words`` start its badge ("✓ Verified"), ``counted`` names
    a count of blocks in it ("3 verified"), ``tone`` is its colour (one of TONES)."""

    icon: str
    words: str
    counted: str
    tone: str


#: Every evidence state, in the order counts and filters list them.
BADGES: dict[str, Badge] = {
    "verified": Badge("✓", "Verified", "verified", "green"),
    "expected-failure": Badge("✗", "Fails as published, as expected", "failing as expected", "red"),
    "failing": Badge("⚠", "Broken: its tests fail", "failing", "red"),
    "unexpected-pass": Badge("⚠", "Passes, but was expected to fail", "passing unexpectedly", "red"),
    "triaged-matches": Badge("▶", "Ran; its output matches the post", "ran, output matches", "neutral"),
    "triaged-defines": Badge("▶", "Ran; defines", "ran, defines names", "neutral"),
    "triaged-runs": Badge("▶", "Ran without error in the sandbox", "ran in the sandbox", "neutral"),
    "triaged-differs": Badge("≠", "Ran; its output differs from the post", "output differs", "amber"),
    "triaged-needs-context": Badge("⋯", "Needs", "needing context", "amber"),
    "out-of-date": Badge("⟳", "Out of date", "out of date", "amber"),
    "illustrative": Badge("¶", "Illustrative", "illustrative", "grey"),
    "triaged-illustrative": Badge("¶", "Illustrative (by triage)", "illustrative by triage", "grey"),
    "skipped": Badge("◌", "Not run here", "not run here", "grey"),
    "not-verified": Badge("◌", "Not verified yet", "not verified yet", "grey"),
    "not-triaged": Badge("◌", "Not triaged yet", "not triaged", "grey"),
    "not-triaged-budget": Badge("◌", "Not triaged yet: the build's triage budget was spent", "not triaged (budget)",
                                "grey"),
    "not-triaged-self-check": Badge("◌", "Not triaged: sandbox self-check failed", "not triaged (self-check)",
                                    "grey"),
    "unchecked": Badge("◌", "Not checked: no manifest entry yet", "without a manifest entry", "grey"),
}

UNKNOWN = Badge("?", "Unknown state", "in an unknown state", "grey")


def badge(state: str) -> Badge:
    """The row for ``state`` (an unknown one reads as such, grey: never as a success)."""
    return BADGES.get(state, UNKNOWN)


def headline(state: str) -> str:
    """"✓ Verified": the state's icon and words, as ``check`` and ``snippets`` print them."""
    row = badge(state)
    return f"{row.icon} {row.words}"


def markdown_table() -> str:
    """The table as Markdown, for the docs (a test keeps docs/content/guides/badges.md in step)."""
    rows = ["| State | Badge | Tone | Counted as |", "|---|---|---|---|"]
    rows += [f"| `{state}` | {row.icon} {row.words} | {row.tone} | {row.counted} |" for state, row in BADGES.items()]
    return "\n".join(rows) + "\n"
