"""The Messages API harness, exercised through the real anthropic SDK over HTTP."""

import argparse
import os
import subprocess
import sys

import anthropic
import click
import httpx
import pytest
from click.testing import CliRunner

from blogtools.errors import BlogtoolsError
from blogtools.harness.commands import llm_options
from blogtools.harness.llm import (
    ANY,
    AnthropicBackend,
    MessagesServer,
    ScriptedBackend,
    ScriptMismatch,
    Turn,
    add_llm_arguments,
    make_backend,
    text,
    tool_result,
    tool_use,
)

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
MODEL = "claude-sonnet-4-6"


def weather_script():
    return [
        Turn(last_message="Weather in Paris?", expect={"system": "Be brief.", "tools": [WEATHER_TOOL]},
             reply=[text("Let me check."), tool_use("get_weather", {"city": "Paris", "units": ["C"]}, id="toolu_1")]),
        Turn(last_message=tool_result("toolu_1", "21 C, sunny"), reply="Sunny and 21 °C in Paris."),
    ]


def client_for(server):
    return anthropic.Anthropic(base_url=server.base_url, api_key="test", max_retries=0)


def first_request(**overrides):
    request = dict(model=MODEL, max_tokens=256, system="Be brief.", tools=[WEATHER_TOOL],
                   messages=[{"role": "user", "content": "Weather in Paris?"}])
    request.update(overrides)
    return request


def second_messages(reply_content):
    return [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": reply_content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "21 C, sunny"}]},
    ]


def test_text_and_tool_use_replies_through_the_sdk(messages_server):
    backend = messages_server.script(weather_script())
    client = client_for(messages_server)

    first = client.messages.create(**first_request())
    assert first.stop_reason == "tool_use"
    assert [block.type for block in first.content] == ["text", "tool_use"]
    call = first.content[1]
    assert (call.id, call.name, call.input) == ("toolu_1", "get_weather", {"city": "Paris", "units": ["C"]})
    assert first.model == MODEL and first.role == "assistant" and first.id.startswith("msg_")
    assert first.usage.input_tokens > 0 and first.usage.output_tokens > 0

    second = client.messages.create(**first_request(messages=second_messages(first.content)))
    assert second.stop_reason == "end_turn"
    assert second.content[0].text == "Sunny and 21 °C in Paris."
    assert backend.remaining == 0


def test_every_request_is_recorded_as_sent(messages_server):
    messages_server.script(weather_script())
    client = client_for(messages_server)
    first = client.messages.create(**first_request())
    client.messages.create(**first_request(messages=second_messages(first.content)))

    assert len(messages_server.requests) == 2
    assert messages_server.request_sizes[1] > messages_server.request_sizes[0] > 200
    sent = messages_server.requests[1]
    assert sent["model"] == MODEL and sent["max_tokens"] == 256 and sent["system"] == "Be brief."
    assert sent["tools"] == [WEATHER_TOOL]
    assert sent["messages"][1]["content"][1] == {
        "type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris", "units": ["C"]},
    }
    assert sent["messages"][2]["content"][0]["tool_use_id"] == "toolu_1"


def test_streaming_gives_the_same_final_message(messages_server):
    messages_server.script(weather_script() + weather_script())
    client = client_for(messages_server)
    plain = client.messages.create(**first_request())
    plain_second = client.messages.create(**first_request(messages=second_messages(plain.content)))

    with client.messages.stream(**first_request()) as stream:
        deltas = [event.delta for event in stream if event.type == "content_block_delta"]
        streamed = stream.get_final_message()
    with client.messages.stream(**first_request(messages=second_messages(streamed.content))) as stream:
        streamed_text = "".join(stream.text_stream)
        streamed_second = stream.get_final_message()

    ignore = {"id"}
    assert streamed.model_dump(exclude=ignore) == plain.model_dump(exclude=ignore)
    assert streamed_second.model_dump(exclude=ignore) == plain_second.model_dump(exclude=ignore)
    assert streamed_text == "Sunny and 21 °C in Paris."
    assert {delta.type for delta in deltas} == {"text_delta", "input_json_delta"}
    assert len([d for d in deltas if d.type == "input_json_delta"]) > 1, "tool input should arrive in pieces"
    assert [r.get("stream") for r in messages_server.requests] == [None, None, True, True]


def test_raw_stream_follows_the_event_order(messages_server):
    messages_server.script(weather_script())
    with client_for(messages_server).messages.create(**first_request(), stream=True) as events:
        kinds = [event.type for event in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    blocks = kinds[1:-2]
    assert blocks[0] == "content_block_start" and blocks[-1] == "content_block_stop"
    assert blocks.count("content_block_start") == blocks.count("content_block_stop") == 2


def test_a_mismatch_fails_loudly_naming_turn_and_difference(messages_server):
    messages_server.script(weather_script())
    client = client_for(messages_server)
    client.messages.create(**first_request())
    wrong = second_messages([tool_use("get_weather", {"city": "Paris"}, id="toolu_1")])
    wrong[2]["content"][0]["tool_use_id"] = "toolu_9"

    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(**first_request(messages=wrong))
    message = caught.value.body["error"]["message"]
    assert message.startswith("scripted turn 2 of 2 does not match: ")
    assert "request.messages[-1].content[0].tool_use_id: expected 'toolu_1', got 'toolu_9'" in message
    assert messages_server.errors == [message]
    assert len(messages_server.requests) == 2, "the failed request is recorded too, and not retried"
    messages_server.errors.clear()


def test_a_request_past_the_end_of_the_script_fails(messages_server):
    messages_server.script([Turn(reply="only one")])
    client = client_for(messages_server)
    client.messages.create(**first_request())
    with pytest.raises(anthropic.BadRequestError, match="request 2 arrived but the script has only 1 turns"):
        client.messages.create(**first_request())
    messages_server.errors.clear()


def test_expectations_check_request_fields():
    turn = Turn(reply="x", expect={"system": "Be brief.", "tools": [{"name": "get_weather"}]})
    assert turn.mismatch(first_request()) is None
    assert turn.mismatch(first_request(system="Be long.")) == "request.system: expected 'Be brief.', got 'Be long.'"
    assert turn.mismatch(first_request(tools=[])) == "request.tools: expected 1 items, got 0"
    assert Turn(reply="x", expect={"metadata": ANY}).mismatch(first_request()) == "request.metadata: missing"
    by_predicate = Turn(reply="x", last_message={"content": lambda blocks: "Paris" in blocks[0]["text"]})
    assert by_predicate.mismatch(first_request()) is None


def test_a_broken_backend_is_a_500_that_is_not_retried():
    class Broken:
        def respond(self, request):
            return {"content": []}

    with MessagesServer(Broken()) as server:
        with pytest.raises(anthropic.InternalServerError, match="returned a response without id, type"):
            anthropic.Anthropic(base_url=server.base_url, api_key="test").messages.create(**first_request())
    assert len(server.requests) == 1
    assert len(server.errors) == 1


def test_a_request_without_required_fields_is_refused(messages_server):
    reply = httpx.post(f"{messages_server.base_url}/v1/messages", json={"messages": []})
    assert reply.status_code == 400
    assert reply.json()["error"] == {"type": "invalid_request_error", "message": "request lacks model, max_tokens"}
    messages_server.errors.clear()


def test_backend_choice_from_the_command_line(tmp_path, monkeypatch):
    parser = argparse.ArgumentParser()
    add_llm_arguments(parser)
    args = parser.parse_args([])
    assert isinstance(make_backend(args.llm, script=[Turn(reply="hi")], model=args.model), ScriptedBackend)

    chosen = {}

    @click.command()
    @llm_options
    def command(llm, model):
        chosen.update(llm=llm, model=model)

    assert CliRunner().invoke(command, ["--llm", "local", "--model", str(tmp_path)], catch_exceptions=False).exit_code == 0
    assert chosen == {"llm": "local", "model": str(tmp_path)}
    assert CliRunner().invoke(command, ["--llm", "gpt"], catch_exceptions=False).exit_code == 2

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(BlogtoolsError, match="ANTHROPIC_API_KEY is not set"):
        make_backend("anthropic")
    with pytest.raises(BlogtoolsError, match="needs --model PATH"):
        make_backend("local")
    with pytest.raises(BlogtoolsError, match="no scripted conversation"):
        make_backend("scripted")


def test_a_scripted_backend_mismatch_names_the_turn_and_difference_and_consumes_nothing():
    """Mismatches are BlogtoolsErrors (one error line from the CLI) that say what differed."""
    with pytest.raises(BlogtoolsError, match=r"^request 1 arrived but the script has only 0 turns; last message: "):
        ScriptedBackend([]).respond(first_request())
    backend = ScriptedBackend([Turn(last_message="Weather in London?", reply="rain")])
    with pytest.raises(ScriptMismatch) as mismatch:
        backend.respond(first_request())
    assert str(mismatch.value) == ("scripted turn 1 of 1 does not match: request.messages[-1].content[0].text: "
                                   "expected 'Weather in London?', got 'Weather in Paris?'")
    assert backend.remaining == 1
    london = first_request(messages=[{"role": "user", "content": "Weather in London?"}])
    assert backend.respond(london)["content"] == [{"type": "text", "text": "rain"}]
    assert backend.remaining == 0


@pytest.mark.live
def test_live_api_through_the_harness():
    with MessagesServer(AnthropicBackend()) as server:
        client = anthropic.Anthropic(base_url=server.base_url, api_key="unused-the-server-holds-the-key")
        reply = client.messages.create(model=os.environ.get("BLOGTOOLS_LIVE_MODEL", "claude-haiku-4-5"),
                                       max_tokens=64, tools=[WEATHER_TOOL],
                                       messages=[{"role": "user", "content": "Use the tool: weather in Paris?"}])
        with client.messages.stream(model=reply.model, max_tokens=16,
                                    messages=[{"role": "user", "content": "Say hi."}]) as stream:
            streamed = stream.get_final_message()
    assert reply.stop_reason == "tool_use" and reply.content[-1].name == "get_weather"
    assert streamed.content[0].type == "text" and streamed.usage.output_tokens > 0
    assert len(server.requests) == 2 and server.errors == []


def test_llm_serve_refuses_a_local_backend_without_a_model():
    from blogtools.cli import main

    result = CliRunner().invoke(main, ["llm", "serve", "--llm", "local"], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output.strip() == "blogtools: error: --llm local needs --model PATH (a local transformers model directory)"


def test_the_fixture_fails_a_test_whose_code_swallowed_a_mismatch(tmp_path):
    test_file = tmp_path / "test_swallowed.py"
    test_file.write_text(
        "import anthropic\n"
        "from blogtools.harness.llm import Turn\n"
        "def test_swallows(messages_server):\n"
        "    messages_server.script([Turn(last_message='expected', reply='hi')])\n"
        "    client = anthropic.Anthropic(base_url=messages_server.base_url, api_key='t', max_retries=0)\n"
        "    try:\n"
        "        client.messages.create(model='m', max_tokens=5, messages=[{'role': 'user', 'content': 'other'}])\n"
        "    except anthropic.APIError:\n"
        "        pass\n"
    )
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 1
    assert "1 passed, 1 error" in done.stdout
    assert "request.messages[-1].content[0].text: expected 'expected', got 'other'" in done.stdout
