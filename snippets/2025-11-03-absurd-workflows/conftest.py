"""Fixtures of the Absurd essay's tests: a fresh database with Absurd's schema for each test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the modules import their siblings by plain name, as `blogtools run` has them

from absurd_schema import absurd_database  # noqa: E402


@pytest.fixture
def absurd_dsn(pg_server_dsn):
    """DSN of a fresh database with the pinned Absurd 0.5.1 schema installed (cloned from a template), dropped afterwards."""
    with absurd_database(pg_server_dsn) as dsn:
        yield dsn
