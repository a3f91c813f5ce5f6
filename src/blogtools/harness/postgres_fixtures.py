"""pytest fixtures for the Postgres harness; the blogtools pytest plugin exports them."""

from __future__ import annotations

import pytest

from blogtools.harness import postgres

FIXTURES = {"pg_server_dsn", "pg_dsn", "absurd_dsn"}
"""Tests using any of these get the ``postgres`` marker (so ``-m "not postgres"`` deselects them)."""


@pytest.fixture(scope="session")
def pg_server_dsn() -> str:
    """DSN of the server's maintenance database (configured, or the embedded server, held for this run)."""
    return postgres.server_url()


@pytest.fixture
def pg_dsn(pg_server_dsn):
    """DSN of a fresh, empty database for this test alone, dropped afterwards (safe under xdist)."""
    with postgres.temporary_database(pg_server_dsn) as dsn:
        yield dsn


@pytest.fixture
def absurd_dsn(pg_server_dsn):
    """DSN of a fresh database with the pinned Absurd 0.5.1 schema installed, dropped afterwards."""
    with postgres.temporary_database(pg_server_dsn, absurd=True) as dsn:
        yield dsn
