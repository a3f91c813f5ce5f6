"""The backends that answer a Messages API request: a scripted conversation, the live API, a local model.

A backend is any object with ``respond(request: dict) -> dict`` returning a complete Messages API
response object. :class:`ScriptedBackend` replays a conversation turn by arrival order,
:class:`ReplayBackend` turn by conversation length (for runs resumed from a cache),
:class:`AnthropicBackend` forwards to the live API and ``blogtools.harness.llm.local.LocalBackend``
runs a transformers model (extra ``blogtools[local]``). :func:`make_backend` picks one by name, for
``--llm scripted|anthropic|local`` options (:func:`add_llm_arguments` for argparse).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import uuid
from typing import Any, Protocol

from blogtools.errors import BlogtoolsError
from blogtools.harness.llm.expectations import Turn, as_blocks
from blogtools.harness.options import LLM_HELP, LLM_KINDS, MODEL_HELP


class Backend(Protocol):
    """What the server needs: a complete Messages API response for each request body."""

    def respond(self, request: dict) -> dict:
        """The Messages API response (a JSON-ready dict) to one request body; BackendError to refuse it."""


class BackendError(BlogtoolsError):
    """A request the backend refuses; the server answers it with ``status`` and this message."""

    status = 400
    error_type = "invalid_request_error"


class ScriptMismatch(BackendError):
    """A request that the scripted conversation did not expect (which turn, what differed)."""


# --- the scripted backend -----------------------------------------------------------------------


def _word_count(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False).split())


def complete_message(reply: str | list | dict, model: str, input_tokens: int) -> dict:
    """Fill a partial reply into a complete Messages API response object.

    ``stop_reason`` defaults to ``tool_use`` when the content has a tool_use block, else
    ``end_turn``; usage counts default to whitespace-separated words (no tokenizer here).
    """
    fields = dict(reply) if isinstance(reply, dict) else {"content": reply}
    content = as_blocks(fields.pop("content"))
    has_tool_use = any(block.get("type") == "tool_use" for block in content)
    message = {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if has_tool_use else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": _word_count(content)},
    }
    message.update(fields)
    return message


class ScriptedBackend:
    """Replays a scripted conversation: request N must match turn N, which supplies the reply.

    A request that does not match, or one past the end of the script, raises
    :class:`ScriptMismatch` naming the turn and the first difference. Thread-safe; shared by all
    clients of one server (so a worker restarted mid-run continues the same script).
    """

    def __init__(self, turns: list[Turn]):
        self.turns = list(turns)
        self.position = 0
        self._lock = threading.Lock()

    def respond(self, request: dict) -> dict:
        """The reply of the next turn in arrival order, if the request matches it."""
        with self._lock:
            number = self.position + 1
            if self.position >= len(self.turns):
                raise ScriptMismatch(
                    f"request {number} arrived but the script has only {len(self.turns)} turns; "
                    f"last message: {_summarise(request)}"
                )
            reply = _answer(self.turns, number, request)
            self.position += 1
        return reply

    @property
    def remaining(self) -> int:
        """How many scripted turns have not been requested yet."""
        return len(self.turns) - self.position


class ReplayBackend:
    """A scripted backend that picks the turn by the conversation's length, not by arrival order.

    Turn N answers a request holding N-1 assistant messages, so a run resumed from a step cache
    (which skips the model requests of the cached steps) continues the same script. A request
    that does not match its turn raises :class:`ScriptMismatch` naming the turn and what differed.
    """

    def __init__(self, turns: list[Turn]):
        self.turns = list(turns)

    def respond(self, request: dict) -> dict:
        """The reply of the turn this conversation has reached, if the request matches it."""
        number = 1 + sum(m.get("role") == "assistant" for m in request.get("messages", []))
        if number > len(self.turns):
            raise ScriptMismatch(
                f"request for turn {number} but the script has {len(self.turns)} turns; "
                f"last message: {_summarise(request)}"
            )
        return _answer(self.turns, number, request)


def _answer(turns: list[Turn], number: int, request: dict) -> dict:
    """Turn ``number``'s reply to ``request``, or ScriptMismatch naming the turn and the difference."""
    turn = turns[number - 1]
    if (found := turn.mismatch(request)) is not None:
        raise ScriptMismatch(f"scripted turn {number} of {len(turns)} does not match: {found}")
    return complete_message(turn.reply, request.get("model", "scripted"), _word_count(request.get("messages")))


def _summarise(request: dict) -> str:
    messages = request.get("messages") or []
    return json.dumps(messages[-1], ensure_ascii=False)[:300] if messages else "(no messages)"


# --- the live backend ---------------------------------------------------------------------------


class AnthropicBackend:
    """Forwards each request to the live Anthropic API (key from ``ANTHROPIC_API_KEY``)."""

    def __init__(self, api_key: str | None = None):
        import anthropic

        api_key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not api_key:
            raise BlogtoolsError("--llm anthropic: ANTHROPIC_API_KEY is not set")
        self._client = anthropic.Anthropic(api_key=api_key)

    def respond(self, request: dict) -> dict:
        """The live API's answer to ``request`` (never streamed; the server streams it if asked)."""
        import anthropic

        body = {key: value for key, value in request.items() if key != "stream"}
        try:
            message = self._client.post("/v1/messages", cast_to=anthropic.types.Message, body=body)
        except anthropic.APIStatusError as exc:
            error = BackendError(f"live API answered {exc.status_code}: {exc.message}")
            error.status = exc.status_code
            raise error from exc
        return message.to_dict()


# --- choosing a backend from the command line ---------------------------------------------------


def make_backend(kind: str, *, script: list[Turn] | None = None, model: str | None = None) -> Backend:
    """The backend named by ``--llm``: ``scripted`` (needs ``script``), ``anthropic``, or ``local``
    (needs ``model``, a local directory with a transformers model)."""
    if kind == "scripted":
        if script is None:
            raise BlogtoolsError("--llm scripted: this program has no scripted conversation")
        return ScriptedBackend(script)
    if kind == "anthropic":
        return AnthropicBackend()
    if kind == "local":
        if not model:
            raise BlogtoolsError("--llm local needs --model PATH (a local transformers model directory)")
        from blogtools.harness.llm.local import LocalBackend

        return LocalBackend(model)
    raise BlogtoolsError(f"--llm {kind}: unknown backend (choose from {', '.join(LLM_KINDS)})")


def add_llm_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--llm`` and ``--model`` to an argparse parser; pass them on to :func:`make_backend`."""
    parser.add_argument("--llm", choices=LLM_KINDS, default="scripted", help=LLM_HELP)
    parser.add_argument("--model", help=MODEL_HELP)


