"""Fixtures of the 2025-10-17 essay's tests: its modules importable by plain name, as `blogtools run`
has them, and one essay sandbox shared by the module's in-process agent runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="module")
def sandbox_network() -> dict[str, str]:
    """The /network allowlist the shared sandbox serves (name -> URL); a test sets its own resources."""
    return {}


@pytest.fixture(scope="module")
def shared_sandbox(sandbox_network):
    """The essay's sandbox, started once for the module: each run's task still gets a fresh
    interpreter (a unit of its own), pre-started while the previous test runs instead of at its
    first tool call. Tests about a process of their own (killed, or `blogtools run`) do not use it."""
    from agent import essay_sandbox

    with essay_sandbox(sandbox_network) as sandbox:
        yield sandbox
