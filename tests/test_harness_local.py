"""The local transformers backend, with a tiny random model built here (no downloads)."""

import anthropic
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[local]'")
pytest.importorskip("transformers", reason="transformers is not installed: pip install -e '.[local]'")

from blogtools.errors import BlogtoolsError  # noqa: E402
from blogtools.harness.llm import MessagesServer, make_backend  # noqa: E402
from blogtools.harness.llm.local import (  # noqa: E402
    LocalBackend,
    chat_messages,
    chat_tools,
    parse_reply,
)
from blogtools.harness.llm.tiny_model import make_tiny_model  # noqa: E402

WEATHER_TOOL = {"name": "get_weather", "description": "Current weather for a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


def request_with(messages, **extra):
    return dict(model="tiny", max_tokens=8, system="Be brief.", tools=[WEATHER_TOOL], messages=messages, **extra)


FIXED_HISTORY = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": [{"type": "text", "text": "Let me look."},
                                      {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                       "input": {"city": "Paris"}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "21 C, sunny"}]},
    {"role": "assistant", "content": "Sunny, 21 degrees."},
    {"role": "user", "content": "And tomorrow?"},
]


def full_recompute_logits(backend, tokens):
    with torch.inference_mode():
        return backend.model(input_ids=torch.tensor([tokens], device=backend.device)).logits[0, -1].float()


def test_well_formed_messages_through_the_sdk(model_dir, device):
    backend = LocalBackend(model_dir, device=device)
    with MessagesServer(backend) as server:
        client = anthropic.Anthropic(base_url=server.base_url, api_key="test", max_retries=0)
        reply = client.messages.create(**request_with(FIXED_HISTORY[:1]))
        with client.messages.stream(**request_with(FIXED_HISTORY[:1])) as stream:
            streamed = stream.get_final_message()
    prompt = backend.prompt_tokens(request_with(FIXED_HISTORY[:1]))
    assert reply.type == "message" and reply.role == "assistant" and reply.id.startswith("msg_")
    assert reply.model == "tiny"
    assert reply.stop_reason in {"end_turn", "max_tokens", "tool_use"}
    assert reply.content and all(block.type in {"text", "tool_use"} for block in reply.content)
    assert reply.usage.input_tokens + reply.usage.cache_read_input_tokens == len(prompt)
    assert reply.usage.cache_read_input_tokens == 0 and 0 < reply.usage.output_tokens <= 8
    assert [b.model_dump() for b in streamed.content] == [b.model_dump() for b in reply.content], "greedy: same reply"
    assert streamed.usage.cache_read_input_tokens == len(prompt) - 1, "the repeated prompt came from the cache"
    assert server.errors == []


def test_tools_and_tool_results_reach_the_prompt(model_dir):
    backend = LocalBackend(model_dir, device="cpu")
    text = backend.tokenizer.decode(backend.prompt_tokens(request_with(FIXED_HISTORY)))
    assert '"name": "get_weather"' in text and '"description": "Current weather for a city"' in text
    assert 'Let me look.<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>' in text
    assert "<|im_start|>tool\n21 C, sunny<|im_end|>" in text
    assert text.endswith("<|im_start|>user\nAnd tomorrow?<|im_end|>\n<|im_start|>assistant\n")
    assert chat_tools({"tools": []}) is None
    assert chat_messages({"system": [{"type": "text", "text": "S"}], "messages": []}) == [
        {"role": "system", "content": "S"}]


def test_tool_calls_parse_into_tool_use_blocks():
    blocks = parse_reply('Checking. <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>')
    assert blocks[0] == {"type": "text", "text": "Checking."}
    assert blocks[1]["type"] == "tool_use" and blocks[1]["id"].startswith("toolu_")
    assert (blocks[1]["name"], blocks[1]["input"]) == ("get_weather", {"city": "Paris"})
    assert parse_reply("<tool_call>not json</tool_call> ok") == [{"type": "text", "text": "<tool_call>not json</tool_call> ok"}]
    two = parse_reply('<tool_call>{"name": "a"}</tool_call><tool_call>{"name": "b", "arguments": {"x": 1}}</tool_call>')
    assert [(b["name"], b["input"]) for b in two] == [("a", {}), ("b", {"x": 1})]


def test_resumed_logits_equal_a_full_recompute(model_dir, device):
    backend = LocalBackend(model_dir, device=device)
    first = backend.prompt_tokens(request_with(FIXED_HISTORY[:1]))
    backend.next_token_logits(first)
    extended = backend.prompt_tokens(request_with(FIXED_HISTORY))
    resumed = backend.next_token_logits(extended)
    assert backend.last_reused == len(first), "the whole first prompt is a prefix of the extended one"
    assert torch.allclose(resumed, full_recompute_logits(backend, extended), atol=1e-4, rtol=1e-4)

    edited = [*FIXED_HISTORY[:3], {"role": "assistant", "content": "Rainy."}, FIXED_HISTORY[4]]
    diverging = backend.prompt_tokens(request_with(edited))
    resumed = backend.next_token_logits(diverging)
    assert len(first) < backend.last_reused < len(extended), "cropped back to where the edit starts"
    assert torch.allclose(resumed, full_recompute_logits(backend, diverging), atol=1e-4, rtol=1e-4)


def run_conversation(backend, turns):
    """Talk through the SDK, appending each reply and a new user message; return the usages."""
    messages, usages = [], []
    with MessagesServer(backend) as server:
        client = anthropic.Anthropic(base_url=server.base_url, api_key="test", max_retries=0)
        for turn in range(turns):
            messages.append({"role": "user", "content": f"Question number {turn}: what about the weather?"})
            reply = client.messages.create(**request_with(messages))
            messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in reply.content]})
            usages.append(reply.usage)
    return usages


def test_tokens_computed_fall_from_the_whole_history_to_the_new_suffix(model_dir, device):
    reusing = LocalBackend(model_dir, device=device)
    usages = run_conversation(reusing, 5)
    recomputing = LocalBackend(model_dir, device=device, reuse_prefix=False)
    run_conversation(recomputing, 5)

    prompts = [stats.prompt_tokens for stats in reusing.history]
    assert prompts == [stats.prompt_tokens for stats in recomputing.history], "greedy: the same conversation"
    assert [stats.computed_prompt_tokens for stats in recomputing.history] == prompts
    assert reusing.history[0].computed_prompt_tokens == prompts[0]
    for before, now, stats in zip(prompts, prompts[1:], reusing.history[1:]):
        assert stats.reused_tokens >= before, "the previous prompt is reused whole"
        assert stats.computed_prompt_tokens <= now - before, "only the new suffix is computed"
    assert [u.input_tokens for u in usages] == [s.computed_prompt_tokens for s in reusing.history]
    assert [u.cache_read_input_tokens for u in usages] == [s.reused_tokens for s in reusing.history]


def test_model_directories_are_checked(tmp_path, model_dir):
    with pytest.raises(BlogtoolsError, match=f"--model {tmp_path}: not a local transformers model directory"):
        LocalBackend(tmp_path)
    assert isinstance(make_backend("local", model=str(model_dir)), LocalBackend)
