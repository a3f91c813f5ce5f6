"""The Server-Sent Events of the Messages streaming protocol, made from a complete message."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator


def _chunks(value: str, pattern: str = r"\S+\s*|\s+") -> list[str]:
    return re.findall(pattern, value) or [""]


def sse_events(message: dict) -> Iterator[tuple[str, dict]]:
    """The ``(event, data)`` pairs of the Messages streaming protocol for a complete ``message``:
    message_start, ping, content_block_start/delta/stop per block, message_delta, message_stop."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {**usage, "output_tokens": 0}}
    yield "message_start", {"type": "message_start", "message": start}
    yield "ping", {"type": "ping"}
    for index, block in enumerate(message["content"]):
        kind = block.get("type")
        if kind == "text":
            opening, deltas = {**block, "text": ""}, [{"type": "text_delta", "text": c} for c in _chunks(block["text"])]
        elif kind == "tool_use":
            encoded = json.dumps(block["input"], ensure_ascii=False)
            opening = {**block, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": encoded[i:i + 16]} for i in range(0, len(encoded), 16)]
        elif kind == "thinking":
            opening = {**block, "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": c} for c in _chunks(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block.get("signature", "")})
        else:
            opening, deltas = block, []
        yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": opening}
        for delta in deltas:
            yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield "message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": message.get("stop_sequence")},
        "usage": usage,
    }
    yield "message_stop", {"type": "message_stop"}
