"""pytest fixtures for the LLM harness; the blogtools pytest plugin exports them."""

from __future__ import annotations

import pytest

from blogtools.harness.llm import MessagesServer, ScriptedBackend


@pytest.fixture
def messages_server():
    """A started :class:`~blogtools.harness.llm.MessagesServer` with an empty scripted backend.

    Give it a conversation with ``messages_server.script([Turn(...), ...])`` (or set ``.backend``)
    and point the SDK at ``messages_server.base_url``. The test fails at teardown if any request
    failed (``messages_server.errors``), even when the code under test swallowed the error; a test
    that provokes failures on purpose clears ``errors`` after checking them.
    """
    with MessagesServer(ScriptedBackend([])) as server:
        yield server
    if server.errors:
        pytest.fail("the Messages API harness answered errors:\n" + "\n".join(server.errors), pytrace=False)
