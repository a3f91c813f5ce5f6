"""One agent step with the anthropic SDK: ask the model, run the tools it asks for, answer them.

Runnable form of the essay's ``singleStep`` (TypeScript, Vercel AI SDK ``generateText``). Here the
real ``anthropic`` SDK talks to a Messages API server: by default the local one from
``blogtools.harness.llm`` replaying a scripted conversation, or the live API with ``--llm anthropic``
(ANTHROPIC_API_KEY). The step's result is plain JSON, so Absurd can checkpoint it.

    python single_step.py [--llm scripted|anthropic]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import sys
import time
from collections.abc import Iterator

import anthropic

from blogtools.harness.llm import (
    MessagesServer,
    Turn,
    add_llm_arguments,
    complete_message,
    make_backend,
    text,
    tool_result,
    tool_use,
)

MODEL = "claude-haiku-4-5"
SYSTEM = "You are a helpful agent"
GET_WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name, e.g. Boston"}},
        "required": ["city"],
    },
}
CONDITIONS = ("sunny", "cloudy", "light rain", "windy", "snow showers")


def get_weather(city: str) -> str:
    """A stand-in weather service (nothing outside this machine is reachable): fixed, made-up conditions."""
    seed = int(hashlib.sha256(city.strip().lower().encode()).hexdigest(), 16)
    return f"{city}: {CONDITIONS[seed % len(CONDITIONS)]}, {seed % 30 - 5} °C"


def _run_tool(block) -> dict:
    if block.name == "get_weather":
        return {"type": "tool_result", "tool_use_id": block.id, "content": get_weather(**block.input)}
    return {"type": "tool_result", "tool_use_id": block.id, "content": f"unknown tool {block.name}", "is_error": True}


def single_step(client: anthropic.Anthropic, messages: list[dict]) -> dict:
    """Ask the model once; return ``{"new_messages": [...], "finish_reason": stop_reason}``.

    ``new_messages`` is the assistant's message and, when it asked for tools, a user message with
    one ``tool_result`` per ``tool_use`` block, ready to append to ``messages``.
    """
    response = client.messages.create(
        model=MODEL, max_tokens=1024, system=SYSTEM, messages=messages, tools=[GET_WEATHER]
    )
    new_messages = [{"role": "assistant", "content": [block.to_dict() for block in response.content]}]
    if response.stop_reason == "tool_use":
        results = [_run_tool(block) for block in response.content if block.type == "tool_use"]
        new_messages.append({"role": "user", "content": results})
    return {"new_messages": new_messages, "finish_reason": response.stop_reason}


# --- the model for runs without the live API ----------------------------------------------------


def weather_prompt(cities: list[str]) -> str:
    """The user's question about ``cities`` (the essay's own prompt for one city)."""
    if len(cities) == 1:
        return f"What's the weather like in {cities[0]}?"
    return f"What's the weather like in {', '.join(cities[:-1])} and {cities[-1]}?"


def weather_script(cities: list[str]) -> list[Turn]:
    """The conversation a model would have about ``cities``: one get_weather call per turn, then an answer.

    The first turn checks the system prompt and the tool definition; each later turn checks that
    the previous tool call was answered with that city's weather.
    """
    turns = []
    last: str | dict = weather_prompt(cities)
    for number, city in enumerate(cities, 1):
        call_id = f"toolu_{number:02d}"
        expect = {"system": SYSTEM, "tools": [GET_WEATHER]} if number == 1 else None
        turns.append(Turn(reply=[tool_use("get_weather", {"city": city}, id=call_id)], last_message=last, expect=expect))
        last = tool_result(call_id, get_weather(city))
    turns.append(Turn(reply=[text(_summary(cities))], last_message=last))
    return turns


def _summary(cities: list[str]) -> str:
    return "Here is the weather: " + "; ".join(get_weather(city) for city in cities) + "."


class WeatherModel:
    """A stateless stand-in model (a harness backend) for many conversations at once.

    It reads the cities from the first user message, asks for the weather of the next one not yet
    answered, and summarises when all are; ``delay`` seconds per reply imitate a model's latency.
    """

    def __init__(self, cities: list[str], delay: float = 0.0):
        self.cities = cities
        self.delay = delay

    def respond(self, request: dict) -> dict:
        time.sleep(self.delay)
        messages = request["messages"]
        asked = [city for city in self.cities if city in json.dumps(messages[0]["content"])]
        answered = sum(
            1 for m in messages if m["role"] == "user" and isinstance(m["content"], list)
            for block in m["content"] if block.get("type") == "tool_result"
        )
        if answered < len(asked):
            reply = [tool_use("get_weather", {"city": asked[answered]}, id=f"toolu_{answered + 1:02d}")]
        else:
            reply = [text(_summary(asked))]
        return complete_message(reply, request.get("model", MODEL), 0)


@contextlib.contextmanager
def model_client(
    llm: str = "scripted", cities: list[str] = ("Boston",), model: str | None = None
) -> Iterator[tuple[anthropic.Anthropic, MessagesServer]]:
    """An SDK client pointed at a local Messages API server: scripted about ``cities``, the live API,
    or a local model from the directory ``model``."""
    backend = make_backend(llm, script=weather_script(list(cities)), model=model)
    with MessagesServer(backend) as server:
        yield server.client(), server


def main(argv: list[str] | None = None) -> int:
    """Take one step of the essay's conversation and print what it added: the tool call and its result."""
    parser = argparse.ArgumentParser(prog="single_step", description=main.__doc__)
    add_llm_arguments(parser)
    args = parser.parse_args(argv or [])
    with model_client(args.llm, model=args.model) as (client, _server):
        messages = [{"role": "user", "content": weather_prompt(["Boston"])}]
        print(f"user: {messages[0]['content']}")
        step = single_step(client, messages)
    for message in step["new_messages"]:
        print(f"{message['role']}: {json.dumps(message['content'], ensure_ascii=False)}")
    print(f"finish_reason={step['finish_reason']}, {len(step['new_messages'])} new messages")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
