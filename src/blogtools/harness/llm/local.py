"""A Messages API backend running a transformers model from a local directory (``--llm local``).

``LocalBackend(path)`` loads the tokenizer and model with ``local_files_only=True`` (never a hub
download), on CUDA when available, else CPU. Each request is rendered with the tokenizer's chat
template (tools included), decoded greedily (or sampled when ``temperature`` > 0), and the reply is
parsed back into content blocks: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` (the
Hermes/Qwen convention) becomes a ``tool_use`` block.

The backend keeps the KV cache of the tokens it last processed. A request whose tokens share a
prefix with them resumes from that prefix and computes only the rest, so a conversation that grows
by appending costs the new tokens per turn, not the whole history. ``usage`` reports it the way the
Anthropic API does: ``input_tokens`` computed, ``cache_read_input_tokens`` reused. ``history``
keeps the same numbers per request.

Needs the optional dependencies: ``pip install -e '.[local]'``.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from blogtools.errors import BlogtoolsError
from blogtools.harness.llm.backends import BackendError

try:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache
except ImportError as exc:  # the optional group is not installed
    raise BlogtoolsError(f"--llm local needs torch and transformers: pip install -e '.[local]' ({exc})") from exc

TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)


@dataclass(frozen=True)
class RequestStats:
    """Token counts of one request: its prompt, the prefix reused from the cache, what was computed."""

    prompt_tokens: int
    reused_tokens: int
    output_tokens: int

    @property
    def computed_prompt_tokens(self) -> int:
        """Prompt tokens the model actually ran: the whole prompt less the reused cached prefix."""
        return self.prompt_tokens - self.reused_tokens


def chat_messages(request: dict) -> list[dict]:
    """The request's system prompt and messages in the transformers chat-template format."""
    chat = []
    if system := request.get("system"):
        chat.append({"role": "system", "content": _text_of(system)})
    for message in request["messages"]:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        texts, calls = [], []
        for block in blocks:
            kind = block.get("type")
            if kind == "text":
                texts.append(block["text"])
            elif kind == "tool_use":
                calls.append({"id": block["id"], "type": "function",
                              "function": {"name": block["name"], "arguments": block["input"]}})
            elif kind == "tool_result":
                chat.append({"role": "tool", "tool_call_id": block["tool_use_id"],
                             "content": _text_of(block.get("content", ""))})
            elif kind not in ("thinking", "redacted_thinking"):
                raise BackendError(f"local backend: content blocks of type {kind!r} are not supported")
        if texts or calls:
            turn = {"role": message["role"], "content": "\n".join(texts)}
            if calls:
                turn["tool_calls"] = calls
            chat.append(turn)
    return chat


def _text_of(content: str | list) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(block.get("text", "") for block in content if block.get("type") == "text")


def chat_tools(request: dict) -> list[dict] | None:
    """The request's tools as the JSON-schema function descriptions chat templates expect."""
    tools = request.get("tools")
    if not tools:
        return None
    return [{"type": "function", "function": {"name": tool["name"], "description": tool.get("description", ""),
                                              "parameters": tool.get("input_schema", {})}} for tool in tools]


def parse_reply(text: str) -> list[dict]:
    """Content blocks for generated ``text``: text around ``<tool_call>`` JSON, which becomes tool_use.

    A tool call whose body is not a JSON object with a ``name`` stays in the text.
    """
    blocks: list[dict] = []
    pending = ""
    position = 0
    for match in TOOL_CALL.finditer(text):
        pending += text[position:match.start()]
        position = match.end()
        try:
            call = json.loads(match.group(1))
        except ValueError:
            call = None
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            pending += match.group(0)
            continue
        if pending.strip():
            blocks.append({"type": "text", "text": pending.strip()})
        pending = ""
        arguments = call.get("arguments", {})
        blocks.append({"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": call["name"],
                       "input": arguments if isinstance(arguments, dict) else {"value": arguments}})
    pending += text[position:]
    if pending.strip() or not blocks:
        blocks.append({"type": "text", "text": pending.strip()})
    return blocks


def _common_prefix(left: list[int], right: list[int]) -> int:
    length = 0
    for a, b in zip(left, right):
        if a != b:
            break
        length += 1
    return length


def _reuse_is_exact(config) -> bool:
    """Cropping a cache back to a prefix is exact only when every layer keeps all past keys."""
    layer_types = getattr(config, "layer_types", None)
    if layer_types:
        return all(kind == "full_attention" for kind in layer_types)
    return not getattr(config, "sliding_window", None)


class LocalBackend:
    """Answers Messages API requests from a local transformers model, reusing the cached prefix.

    ``device``: ``"cuda"`` / ``"cpu"``; default CUDA when available. ``reuse_prefix=False``
    recomputes every request from scratch (for comparison).
    """

    def __init__(self, model_path: str | Path, *, device: str | None = None, reuse_prefix: bool = True):
        path = Path(model_path)
        if not (path / "config.json").is_file():
            raise BlogtoolsError(f"--model {path}: not a local transformers model directory (no config.json)")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        if not self.tokenizer.chat_template:
            raise BlogtoolsError(f"--model {path}: the tokenizer has no chat template")
        self.model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype="auto").to(self.device)
        self.model.eval()
        self.model_name = path.name
        self.reuse_prefix = reuse_prefix and _reuse_is_exact(self.model.config)
        self.history: list[RequestStats] = []
        self.last_reused = 0  # tokens the latest next_token_logits call took from the cache
        self._cached_tokens: list[int] = []
        self._cache = None
        self._lock = threading.Lock()
        eos = self.model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos]
        self._stop_ids = {token for token in [*eos, self.tokenizer.eos_token_id] if token is not None}

    def prompt_tokens(self, request: dict) -> list[int]:
        """The token ids of the request rendered by the chat template, ready for the reply."""
        ids = self.tokenizer.apply_chat_template(chat_messages(request), tools=chat_tools(request),
                                                 add_generation_prompt=True, tokenize=True, return_dict=False)
        return list(ids)

    @torch.inference_mode()
    def next_token_logits(self, tokens: list[int], reuse: bool | None = None) -> torch.Tensor:
        """Logits for the token after ``tokens``, resuming from the longest cached prefix.

        ``reuse`` (default: ``reuse_prefix``) False starts from an empty cache. Afterwards the cache
        holds exactly ``tokens``. Returns a 1-D float tensor over the vocabulary.
        """
        if not tokens:
            raise BackendError("local backend: the rendered prompt is empty")
        reuse = self.reuse_prefix if reuse is None else reuse
        reused = _common_prefix(self._cached_tokens, tokens) if reuse else 0
        reused = min(reused, len(tokens) - 1)  # at least one token must run to produce logits
        if reused == 0 or self._cache is None:
            self._cache, reused = DynamicCache(config=self.model.config), 0
        else:
            self._cache.crop(reused - self._cache.get_seq_length())
        fresh = torch.tensor([tokens[reused:]], device=self.device)
        output = self.model(input_ids=fresh, past_key_values=self._cache, use_cache=True)
        self._cache = output.past_key_values
        self._cached_tokens = list(tokens)
        self.last_reused = reused
        return output.logits[0, -1].float()

    def respond(self, request: dict) -> dict:
        """Answer one Messages API request with the model, reusing the longest cached token prefix."""
        with self._lock:
            return self._respond(request)

    def _respond(self, request: dict) -> dict:
        prompt = self.prompt_tokens(request)
        limit = int(request["max_tokens"])
        temperature = float(request.get("temperature") or 0.0)
        stops = list(request.get("stop_sequences") or [])
        generated: list[int] = []
        stop_reason, stop_sequence = "max_tokens", None
        logits = self.next_token_logits(prompt)
        reused = self.last_reused
        while len(generated) < limit:
            token = self._choose(logits, temperature)
            if token in self._stop_ids:
                stop_reason = "end_turn"
                break
            generated.append(token)
            so_far = self.tokenizer.decode(generated)
            if found := next((stop for stop in stops if so_far.endswith(stop)), None):
                stop_reason, stop_sequence = "stop_sequence", found
                break
            if len(generated) < limit:
                logits = self.next_token_logits(prompt + generated, reuse=True)  # one new token
        text = self.tokenizer.decode(generated)
        if stop_sequence:
            text = text[: -len(stop_sequence)]
        content = parse_reply(text)
        if stop_reason == "end_turn" and any(block["type"] == "tool_use" for block in content):
            stop_reason = "tool_use"
        stats = RequestStats(prompt_tokens=len(prompt), reused_tokens=reused, output_tokens=len(generated))
        self.history.append(stats)
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": request.get("model") or self.model_name,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": stop_sequence,
            "usage": {"input_tokens": stats.computed_prompt_tokens, "cache_read_input_tokens": reused,
                      "cache_creation_input_tokens": 0, "output_tokens": len(generated)},
        }

    def _choose(self, logits: torch.Tensor, temperature: float) -> int:
        if temperature <= 0:
            return int(torch.argmax(logits))
        return int(torch.multinomial(torch.softmax(logits / temperature, dim=-1), 1))
