"""2025-11-22-llm-apis: the measured illustration (resend vs append, recompute vs resume)."""

import importlib
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[local]'")
pytest.importorskip("transformers", reason="transformers is not installed: pip install -e '.[local]'")

SNIPPET_DIR = Path(__file__).resolve().parent
TURNS = 8


@pytest.fixture(scope="module")
def produced(tmp_path_factory):
    out = tmp_path_factory.mktemp("sync-cost")
    sys.path.insert(0, str(SNIPPET_DIR))
    try:
        sys.modules.pop("sync_cost", None)
        module = importlib.import_module("sync_cost")
        module.main(["--out", str(out), "--turns", str(TURNS)])
    finally:
        sys.path.remove(str(SNIPPET_DIR))
    return out, module


def test_resending_grows_while_appending_stays_flat(produced):
    out, _ = produced
    numbers = json.loads((out / "sync-cost.json").read_text())
    resend, append = numbers["resend_bytes"], numbers["append_bytes"]
    assert len(resend) == len(append) == TURNS
    assert all(later > earlier for earlier, later in zip(resend, resend[1:])), "each request carries more history"
    assert max(append) < 2 * min(append), "an append carries one new message, never the history"
    assert resend[-1] > 5 * append[-1]


def test_prefix_reuse_computes_only_the_new_suffix(produced):
    out, _ = produced
    numbers = json.loads((out / "sync-cost.json").read_text())
    prompts, reuse, full = numbers["prompt_tokens"], numbers["computed_with_reuse"], numbers["computed_without_reuse"]
    assert full == prompts, "without reuse every request is computed whole"
    assert reuse[0] == prompts[0]
    for before, now, computed in zip(prompts, prompts[1:], reuse[1:]):
        assert computed <= now - before, "with reuse only what the request added"
    assert sum(full) > 3 * sum(reuse)


def test_figure_and_markdown_are_written(produced):
    out, module = produced
    svg = ET.parse(out / "sync-cost.svg").getroot()
    lines = svg.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(lines) == 4 and all(len(line.get("points").split()) == TURNS for line in lines)
    numbers = json.loads((out / "sync-cost.json").read_text())
    markdown = (out / "sync-cost.md").read_text()
    assert "![Cumulative bytes sent and prompt tokens computed over 8 turns](sync-cost.svg)" in markdown
    assert f"**{sum(numbers['resend_bytes']):,}**" in markdown and f"**{sum(numbers['append_bytes']):,}**" in markdown
    assert module.figure(module.Measurement(**numbers)) == (out / "sync-cost.svg").read_text()


def test_the_figure_drawn_from_recorded_numbers_is_the_measured_one(produced, tmp_path):
    out, module = produced
    module.main(["--from", str(out / "sync-cost.json"), "--out", str(tmp_path)])
    for name in ("sync-cost.svg", "sync-cost.json", "sync-cost.md"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes()
