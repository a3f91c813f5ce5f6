"""A local server speaking the Anthropic Messages API, driven by a pluggable backend.

Point the real SDK at it::

    from blogtools.harness.llm import MessagesServer, ScriptedBackend, Turn, tool_use, tool_result

    script = [
        Turn(last_message="Weather in Paris?", reply=[tool_use("get_weather", {"city": "Paris"}, id="toolu_1")]),
        Turn(last_message=tool_result("toolu_1"), reply="Sunny, 21 °C."),
    ]
    with MessagesServer(ScriptedBackend(script)) as server:
        client = anthropic.Anthropic(base_url=server.base_url, api_key="test")
        ...
    server.requests   # every request body the server received, in order

A backend is any object with ``respond(request: dict) -> dict`` returning a complete Messages API
response object (``id``, ``type``, ``role``, ``model``, ``content``, ``stop_reason``, ``usage``).
The server answers ``POST /v1/messages`` with it as JSON, or as Server-Sent Events when the request
says ``"stream": true``. A backend raising :class:`BackendError` (e.g. :class:`ScriptMismatch`)
becomes an HTTP error with its message; any other exception becomes a 500 that the SDK will not
retry. Either way the message is also kept in ``server.errors`` so a test cannot miss it.

Backends here: :class:`ScriptedBackend` (replay a conversation, turn by arrival order),
:class:`ReplayBackend` (the same, turn by conversation length, for runs resumed from a cache) and
:class:`AnthropicBackend` (the live API). ``blogtools.harness.llm.local`` adds a transformers model. :func:`make_backend` picks one by
name, for ``--llm scripted|anthropic|local`` options (:func:`add_llm_arguments` for argparse).

One module per job: ``expectations`` (turns and what they expect), ``backends``, ``sse`` (the
streaming events), ``server``; ``local`` (the transformers backend) needs the ``[local]`` extra.
This package exports the names a test or a snippet uses.
"""

from blogtools.harness.llm.backends import (
    LLM_KINDS,
    AnthropicBackend,
    Backend,
    BackendError,
    ReplayBackend,
    ScriptedBackend,
    ScriptMismatch,
    add_llm_arguments,
    complete_message,
    make_backend,
)
from blogtools.harness.llm.expectations import (
    ANY,
    Turn,
    difference,
    text,
    tool_result,
    tool_use,
)
from blogtools.harness.llm.server import MessagesServer, local_client
from blogtools.harness.llm.sse import sse_events

__all__ = [
    "ANY", "LLM_KINDS", "AnthropicBackend", "Backend", "BackendError", "MessagesServer", "ReplayBackend",
    "ScriptMismatch", "ScriptedBackend", "Turn", "add_llm_arguments", "complete_message", "difference",
    "local_client", "make_backend", "sse_events", "text", "tool_result", "tool_use",
]
