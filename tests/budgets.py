"""A test site's mkdocs.yml with its triage budgets set: the repository's, with ``extra.blogtools``
triage settings added (tests that are not about budgets give ample ones, so that a machine under
load still reaches every block)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AMPLE = 3600  # seconds: a test about verdicts, not budgets


def mkdocs_yml(build: float = AMPLE, post: float = AMPLE) -> str:
    """The repository's mkdocs.yml with ``triage_build_seconds`` and ``triage_post_seconds`` set."""
    text = (REPO / "mkdocs.yml").read_text()
    settings = f"  blogtools:\n    triage_build_seconds: {build}\n    triage_post_seconds: {post}\n"
    assert text.count("  blogtools:\n") == 1
    return text.replace("  blogtools:\n", settings)
