"""The 2025-11-22 essay's claim, measured: resending the history is quadratic, appending is linear.

Runs a conversation of ``--turns`` turns (default 50) through the real anthropic SDK against the
local backend (the tiny random model from ``blogtools.harness.llm.tiny_model``, on CPU) and measures:

- bytes sent per turn: the whole Messages API request (resend-everything, what the API does)
  against an append-only sync message carrying only the new user message (the server already
  holds the rest of the log, its own replies included);
- prompt tokens computed per turn: with the KV cache of the longest matching prefix kept between
  requests, against recomputing every request from scratch (the same requests replayed).

Writes ``sync-cost.svg`` (the figure), ``sync-cost.json`` (every number) and ``sync-cost.md``
(a Markdown section for the essay's page) into ``--out``, by default the folder ``blogtools run``
names in ``BLOGTOOLS_FIGURES_DIR`` (the site's figures folder for this post, which render reads).
``--record FILE`` also keeps the numbers in FILE; ``--from FILE`` draws the figure from numbers
recorded earlier without measuring (no torch needed): `make figures` records ``sync-cost.json``
beside this module, `make site` draws from it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from blogtools.files import write_if_changed

FIGURES_VARIABLE = "BLOGTOOLS_FIGURES_DIR"  # set by `blogtools run` to where render reads this post's figures
QUESTIONS = [
    "What changed in the repository since the last step?",
    "Run the tests again and summarise the failures.",
    "Which file holds the configuration for the parser?",
    "Explain why the cache was invalidated.",
    "Write the next step of the plan.",
]


@dataclass
class Measurement:
    """Per-turn numbers of one measured conversation (lists are indexed by turn)."""

    resend_bytes: list[int]
    append_bytes: list[int]
    prompt_tokens: list[int]
    computed_with_reuse: list[int]
    computed_without_reuse: list[int]


def append_message(conversation: str, offset: int, message: dict) -> bytes:
    """What an append-only sync sends for one turn: the new message and where it goes in the log."""
    return json.dumps({"conversation": conversation, "after": offset, "append": [message]}).encode()


def measure(model_dir: Path, turns: int, max_tokens: int = 16) -> Measurement:
    """Hold a ``turns``-turn conversation with the local backend and measure both ways of syncing."""
    from blogtools.harness.llm import MessagesServer
    from blogtools.harness.llm.local import LocalBackend

    reusing = LocalBackend(model_dir, device="cpu")
    messages: list[dict] = []
    append_bytes = []
    with MessagesServer(reusing) as server:
        client = server.client()
        for turn in range(turns):
            question = {"role": "user", "content": f"Turn {turn + 1}. {QUESTIONS[turn % len(QUESTIONS)]}"}
            append_bytes.append(len(append_message("c1", len(messages), question)))
            messages.append(question)
            reply = client.messages.create(model="tiny", max_tokens=max_tokens, system="You are a coding agent.",
                                           messages=messages)
            messages.append({"role": "assistant", "content": [block.model_dump(exclude_none=True)
                                                              for block in reply.content]})
        requests, resend_bytes = server.requests, server.request_sizes

    recomputing = LocalBackend(model_dir, device="cpu", reuse_prefix=False)
    for request in requests:
        recomputing.respond(request)
    return Measurement(
        resend_bytes=list(resend_bytes),
        append_bytes=append_bytes,
        prompt_tokens=[stats.prompt_tokens for stats in reusing.history],
        computed_with_reuse=[stats.computed_prompt_tokens for stats in reusing.history],
        computed_without_reuse=[stats.computed_prompt_tokens for stats in recomputing.history],
    )


def _cumulative(values: list[int]) -> list[int]:
    total, out = 0, []
    for value in values:
        total += value
        out.append(total)
    return out


def _ticks(top: float) -> list[float]:
    """Round axis values from 0 to ``top``: steps of 1, 2 or 5 times a power of ten, 3 to 7 of them."""
    step = 10.0 ** (len(str(int(max(top, 1)))) - 1)
    if top / step < 2:
        step /= 5
    elif top / step < 4:
        step /= 2
    return [step * i for i in range(int(top // step) + 1)]


def _panel(left: int, title: str, unit: str, series: list[tuple[str, str, list[int]]]) -> list[str]:
    width, height, top, bottom = 330, 220, 50, 270
    peak = max(max(values) for _, _, values in series)
    count = len(series[0][2])

    def x(index: int) -> float:
        return left + width * (index / max(count - 1, 1))

    def y(value: float) -> float:
        return bottom - height * (value / peak)

    parts = [f'<text x="{left + width / 2}" y="30" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" y1="{bottom}" x2="{left + width}" y2="{bottom}" stroke="#444"/>',
             f'<line x1="{left}" y1="{top - 5}" x2="{left}" y2="{bottom}" stroke="#444"/>',
             f'<text x="{left + width / 2}" y="{bottom + 32}" text-anchor="middle">turn</text>',
             f'<text x="{left - 48}" y="{top - 12}" font-size="11">{escape(unit)}</text>']
    for value in _ticks(peak):
        parts.append(f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11">{value:,.0f}</text>')
        parts.append(f'<line x1="{left}" y1="{y(value):.1f}" x2="{left + width}" y2="{y(value):.1f}" stroke="#ddd"/>')
    for turn in {1, count // 2, count}:
        parts.append(f'<text x="{x(turn - 1):.1f}" y="{bottom + 16}" text-anchor="middle" font-size="11">{turn}</text>')
    for row, (label, colour, values) in enumerate(series):
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2.5" points="{points}"/>')
        parts.append(f'<rect x="{left + 12}" y="{top + 4 + 18 * row}" width="14" height="4" fill="{colour}"/>')
        parts.append(f'<text x="{left + 32}" y="{top + 10 + 18 * row}" font-size="12">{escape(label)}</text>')
    return parts


def figure(result: Measurement) -> str:
    """An SVG with two panels: cumulative bytes sent, and cumulative prompt tokens computed."""
    parts = [('<svg xmlns="http://www.w3.org/2000/svg" width="820" height="320" viewBox="0 0 820 320" '
              'font-family="sans-serif" font-size="13" role="img">'),
             '<title>Resending the whole history grows quadratically; appending grows linearly</title>',
             '<rect width="820" height="320" fill="white"/>']
    parts += _panel(70, "Bytes sent, total", "bytes", [
        ("resend everything", "#c0392b", _cumulative(result.resend_bytes)),
        ("append-only sync", "#2471a3", _cumulative(result.append_bytes))])
    parts += _panel(480, "Prompt tokens computed, total", "tokens", [
        ("recompute every request", "#c0392b", _cumulative(result.computed_without_reuse)),
        ("resume cached prefix", "#2471a3", _cumulative(result.computed_with_reuse))])
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def summary(result: Measurement, image: str) -> str:
    """The Markdown section for the essay's page: the figure and a table of the numbers."""
    turns = len(result.resend_bytes)
    rows = sorted({1, 10, 25, turns} & set(range(1, turns + 1)))
    lines = [
        "## Measured: resending against appending",
        "",
        (f"A {turns}-turn conversation through the anthropic SDK with the local backend (a tiny random "
         "model on CPU, so the replies are noise but the bytes and tokens are real). "
         "Regenerate with `blogtools run 2025-11-22-llm-apis/sync-cost`."),
        "",
        f"![Cumulative bytes sent and prompt tokens computed over {turns} turns]({image})",
        "",
        "| turn | bytes sent: resend | bytes sent: append | tokens computed: recompute | tokens computed: resume |",
        "|---:|---:|---:|---:|---:|",
    ]
    for turn in rows:
        i = turn - 1
        lines.append(f"| {turn} | {result.resend_bytes[i]:,} | {result.append_bytes[i]:,} | "
                     f"{result.computed_without_reuse[i]:,} | {result.computed_with_reuse[i]:,} |")
    lines.append(f"| **total** | **{sum(result.resend_bytes):,}** | **{sum(result.append_bytes):,}** | "
                 f"**{sum(result.computed_without_reuse):,}** | **{sum(result.computed_with_reuse):,}** |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=os.environ.get(FIGURES_VARIABLE),
                        help=f"folder for the svg, json and md files (default: ${FIGURES_VARIABLE}, set by `blogtools run`)")
    parser.add_argument("--turns", type=int, default=50, help="conversation length")
    parser.add_argument("--record", type=Path, help="also keep the measured numbers in this JSON file")
    parser.add_argument("--from", dest="recorded", type=Path, help="draw from numbers recorded earlier; measure nothing")
    args = parser.parse_args([] if argv is None else argv)
    if args.out is None:
        parser.error(f"--out is required outside `blogtools run` (which sets {FIGURES_VARIABLE})")
    args.out = Path(args.out)

    if args.recorded:
        result = Measurement(**json.loads(args.recorded.read_text()))
    else:
        from blogtools.harness.llm.tiny_model import make_tiny_model

        with tempfile.TemporaryDirectory() as model_dir:
            print(f"measuring {args.turns} turns with a tiny local model...", flush=True)
            result = measure(make_tiny_model(model_dir), args.turns)
    numbers = (json.dumps(asdict(result), indent=1) + "\n").encode()
    if args.record:
        write_if_changed(args.record, numbers)
    write_if_changed(args.out / "sync-cost.svg", figure(result).encode())
    write_if_changed(args.out / "sync-cost.json", numbers)
    write_if_changed(args.out / "sync-cost.md", summary(result, "sync-cost.svg").encode())
    print(f"wrote {args.out}/sync-cost.svg, .json, .md: bytes {sum(result.resend_bytes):,} resent vs "
          f"{sum(result.append_bytes):,} appended; tokens {sum(result.computed_without_reuse):,} recomputed vs "
          f"{sum(result.computed_with_reuse):,} with prefix reuse")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
