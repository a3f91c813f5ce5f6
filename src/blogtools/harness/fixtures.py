"""The harness's pytest fixtures, registered by the blogtools pytest plugin.

Each imports its service when a test first asks for it, so pytest runs that use none pay nothing.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def pg_server_dsn() -> str:
    """DSN of the server's maintenance database (configured, or the embedded server, held for this run)."""
    from blogtools.harness import postgres

    return postgres.server_url()


@pytest.fixture
def pg_dsn(pg_server_dsn):
    """DSN of a fresh, empty database for this test alone, dropped afterwards (safe under xdist)."""
    from blogtools.harness import postgres

    with postgres.temporary_database(pg_server_dsn) as dsn:
        yield dsn


@pytest.fixture
def messages_server():
    """A started :class:`~blogtools.harness.llm.MessagesServer` with an empty scripted backend.

    Give it a conversation with ``messages_server.script([Turn(...), ...])`` (or set ``.backend``)
    and point the SDK at ``messages_server.base_url``. The test fails at teardown if any request
    failed (``messages_server.errors``), even when the code under test swallowed the error; a test
    that provokes failures on purpose clears ``errors`` after checking them.
    """
    from blogtools.harness.llm import MessagesServer, ScriptedBackend

    with MessagesServer(ScriptedBackend([])) as server:
        yield server
    if server.errors:
        pytest.fail("the Messages API harness answered errors:\n" + "\n".join(server.errors), pytrace=False)
