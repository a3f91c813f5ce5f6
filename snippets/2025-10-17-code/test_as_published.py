"""The essay's myAgenticLoop (block 02) run as published (blogtools.published): the block's own
JavaScript on Node 24, with agentic-loop.prelude.mjs supplying what it calls and the essay leaves
out (MAX_STEPS, the cache, a stand-in step, the end condition). The tests read the cache files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blogtools import manifest, project
from blogtools.harness import forms

pytestmark = pytest.mark.node
SITE = project.load(start=Path(__file__).resolve().parent)


def loop(cache: Path, task: str, steps: int, crash_at: int | None = None) -> forms.Result:
    entry = manifest.read(SITE.snippets_dir)["2025-10-17-code/02"]
    env = {"AGENT_CACHE_DIR": str(cache), "CRASH_AT_STEP": str(crash_at or "")}
    return forms.run(SITE, entry, [task, str(steps)], env=env)


def cached(cache: Path) -> dict[str, dict]:
    return {file.name: json.loads(file.read_text()) for file in sorted(cache.glob("*.json"))}


def test_a_run_killed_in_step_3_resumes_from_the_cache_and_a_third_runs_nothing(tmp_path):
    crashed = loop(tmp_path, "7", 4, crash_at=3)
    assert crashed.returncode == 3 and crashed.stdout.splitlines() == ["ran step 1", "ran step 2", "crashed in step 3"]
    assert list(cached(tmp_path)) == ["task-7-step-0.json", "task-7-step-1.json"]
    assert cached(tmp_path)["task-7-step-1.json"] == {"state": {"steps": 4, "log": ["step 1", "step 2"], "done": False}}

    resumed = loop(tmp_path, "7", 4)
    assert resumed.ok, resumed.error
    *ran, final = resumed.stdout.splitlines()
    assert ran == ["ran step 3", "ran step 4"]  # steps 1 and 2 came from the cache
    assert json.loads(final) == {"steps": 4, "log": ["step 1", "step 2", "step 3", "step 4"], "done": True}
    assert list(cached(tmp_path)) == [f"task-7-step-{n}.json" for n in range(4)]

    again = loop(tmp_path, "7", 4)
    assert again.stdout.splitlines() == [final]  # every step answered from the cache


def test_the_loop_stops_at_max_steps(tmp_path):
    done = loop(tmp_path, "8", 25)
    *ran, final = done.stdout.splitlines()
    assert ran == [f"ran step {n}" for n in range(1, 11)]
    assert json.loads(final)["done"] is False and len(cached(tmp_path)) == 10
