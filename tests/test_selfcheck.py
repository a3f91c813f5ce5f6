"""The sandbox's self-check: every ring, and every part of one that runtime.Rings can switch off,
removed on purpose, is caught by its canaries; triage then refuses (one line naming the ring) and
gives no verdict; `blogtools doctor` prints each ring's state."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from blogtools import evidence, triage
from blogtools.project import load as load_project
from blogtools.sandbox import Sandbox, channel, runtime, selfcheck, unavailable_reason
from blogtools.verdicts import triage_site
from budgets import mkdocs_yml

pytestmark = [pytest.mark.slow,  # each test starts sandboxes of its own
              pytest.mark.skipif(unavailable_reason() is not None, reason=f"the sandbox cannot run here: {unavailable_reason()}")]


def guest_without(tmp_path: Path, start: str, end: str) -> Path:
    """guest.js with the part from the line starting ``start`` up to the line starting ``end`` cut out."""
    text = runtime.GUEST_JS.read_text()
    head, found, rest = text.partition(start)
    assert found, f"guest.js has no {start!r}"
    cut, found, tail = rest.partition(end)
    assert found and cut, f"guest.js has no {end!r} after {start!r}"
    path = tmp_path / "guest.js"
    path.write_text(head + end + tail)
    return path


# The knobs: each takes one ring away, in this process only.
def no_channel(monkeypatch, tmp_path):
    monkeypatch.setattr(channel, "check_name", lambda *args, **kwargs: None)


def no_runtime(monkeypatch, tmp_path):  # guest.js keeps every permission it started with
    monkeypatch.setattr(runtime, "GUEST_JS", guest_without(
        tmp_path, 'for (const name of ["read", "write", "net", "env", "run", "ffi", "sys", "import"]) {\n  await',
        "// The self-check's canaries"))


def no_os(monkeypatch, tmp_path):  # bubblewrap shares the host's network and IPC namespaces
    monkeypatch.setattr(runtime, "_namespace_args", lambda: ["--unshare-user", "--unshare-pid", "--unshare-uts", "--die-with-parent",
                                                             "--new-session", "--cap-drop", "ALL", "--clearenv"])


def no_interpreter(monkeypatch, tmp_path):  # guest.js leaves Pyodide's FFI, js and ctypes in place
    monkeypatch.setattr(runtime, "GUEST_JS", guest_without(tmp_path, "// --- the interpreter ring", "// --- the runtime ring"))


KNOBS = {"channel": no_channel, "runtime": no_runtime, "os": no_os, "interpreter": no_interpreter}


def states_with(knob, monkeypatch, tmp_path) -> dict[str, selfcheck.RingState]:
    knob(monkeypatch, tmp_path)
    runtime.unavailable_reason.cache_clear()
    with Sandbox(triage.LIMITS) as sandbox, sandbox.unit() as unit:
        return {state.ring: state for state in selfcheck.rings(unit)}


def test_every_ring_holds_and_the_check_costs_one_run_under_a_fifth_of_a_start():
    started = time.monotonic()
    with Sandbox(triage.LIMITS) as sandbox, sandbox.unit() as unit:
        sandbox._spare.result()
        ready = time.monotonic()
        states = selfcheck.rings(unit)
        checked = time.monotonic()
        assert unit._runs == 1  # the canary run, in the unit the first block then uses
        assert unit.run("print(6 * 7)").stdout == "42\n"
    assert [(state.ring, state.holds) for state in states] == [(ring, True) for ring in selfcheck.RINGS], states
    assert checked - ready <= 0.2 * (ready - started)


def test_a_canary_that_times_out_runs_once_more_before_the_ring_is_reported(monkeypatch):
    """A loaded machine: the canary's first run passes its time limit (here: a limit too short for
    it). That is not evidence of a missing ring: it runs again, with more time, in a fresh process."""
    hurried = dataclasses.replace(triage.LIMITS, cpu_seconds=0.05, wall_seconds=0.1)
    with Sandbox(hurried) as sandbox:
        monkeypatch.setattr(selfcheck, "CANARY_PATIENCE", 1)  # no more time: both runs time out
        with sandbox.unit() as unit:
            state = selfcheck.check_interpreter(unit)
            assert (state.holds, unit._runs) == (False, 2) and "TimeoutError" in state.detail, state
        monkeypatch.setattr(selfcheck, "CANARY_PATIENCE", 300)  # 15 s of CPU the second time
        with sandbox.unit() as unit:
            assert selfcheck.check_interpreter(unit).holds and unit._runs == 2
            started = time.monotonic()
            assert unit.run("while True: pass").timed_out  # the unit's own limits apply again after
            assert time.monotonic() - started < 5


@pytest.mark.parametrize("ring", KNOBS)
def test_the_self_check_catches_a_ring_removed(ring, monkeypatch, tmp_path):
    states = states_with(KNOBS[ring], monkeypatch, tmp_path)
    assert not states[ring].holds, states[ring]
    checked_after = selfcheck.RINGS[selfcheck.RINGS.index(ring) + 1:] if ring == "runtime" else ()
    assert all(state.holds for name, state in states.items() if name != ring), states
    assert not set(checked_after) & set(states)  # a unit that did not start checks nothing more


# Each part of the rings that runtime.Rings can switch off: the ring whose canary must catch it, and
# the words that name what is missing (a knob added without a canary fails its test below).
KNOB_CANARIES = {
    "interpreter_ffi": ("interpreter", "to_js([1]) gave a JsProxy got through"),
    "frozen_realm": ("interpreter", "the realm is not frozen (Object.prototype), before any code was given"),
    "import_map": ("runtime", "a file: import got through (no import map), before any code was given"),
    "seccomp": ("os", "no seccomp filter on the unit (Seccomp: 0 in /proc/"),
    "no_nested_userns": ("os", "the unit may create user namespaces (max_user_namespaces is "),
    "minimal_files": ("os", "the host's /usr is bound in the unit"),
    "sized_tmpfs": ("os", f"/tmp is not a tmpfs of at most {runtime.SCRATCH_BYTES >> 20} MB of its own"),
    "uid_per_unit": ("os", "the unit runs as uid 65534, not a uid of its own"),
    "memory_watchdog": ("os", "the host's watchdog would not stop the unit past its memory bound"),
}


@pytest.mark.parametrize("knob", [field.name for field in dataclasses.fields(runtime.Rings)])
def test_the_self_check_catches_each_knob_switched_off(knob):
    assert knob in KNOB_CANARIES, f"Rings.{knob} has no canary in the self-check"
    if knob == "uid_per_unit" and os.geteuid() != 0:
        pytest.skip("Rings.uid_per_unit does nothing when not root: every unit runs as the caller's uid")
    ring, words = KNOB_CANARIES[knob]
    with Sandbox(triage.LIMITS, rings=runtime.Rings(**{knob: False})) as sandbox, sandbox.unit() as unit:
        states = {state.ring: state for state in selfcheck.rings(unit)}
    assert not states[ring].holds and words in states[ring].detail, states[ring]
    assert all(state.holds for name, state in states.items() if name != ring), states
    assert str(selfcheck.SelfCheckFailed(states[ring])).startswith(f"sandbox self-check failed ({ring}): {words}")


def test_the_canaries_name_what_got_through(monkeypatch, tmp_path):
    assert states_with(no_interpreter, monkeypatch, tmp_path)["interpreter"].detail.startswith("import js, import pyodide_js")
    assert states_with(no_os, monkeypatch, tmp_path)["os"].detail == "the unit shares the host's net and ipc namespace"


POST = "2025-03-01-sums"
PAGE = """---
format: 2
title: "Sums"
date: 2025-03-01T00:00:00+00:00
slug: "sums"
---
Two blocks.

```python
print(sum(range(4)))
```

```javascript
console.log(1 + 2);
```
"""


def blogtools(*args: str, cwd: Path, env: dict | None = None, knob: str = "") -> subprocess.CompletedProcess:
    """The CLI, in a process where ``knob`` (Python) ran first."""
    code = f"{knob}\nfrom blogtools.cli import main\nmain()"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, env=env)


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    (root / "content/posts").mkdir(parents=True)
    (root / "mkdocs.yml").write_text(mkdocs_yml())
    (root / f"content/posts/{POST}.md").write_text(PAGE)
    assert blogtools("extract", cwd=root).returncode == 0
    return root


CHANNEL_KNOB = "import blogtools.sandbox.channel as c\nc.check_name = lambda *a, **k: None"


def test_triage_refuses_with_one_line_and_pages_say_the_ring(site, monkeypatch, tmp_path):
    done = blogtools("triage", cwd=site, knob=CHANNEL_KNOB)
    assert done.returncode == 1, done.stderr
    refused = [line for line in done.stderr.splitlines() if "refused" in line]
    assert refused == ["blogtools: warning: triage refused: sandbox self-check failed (channel): "
                       "the host accepted an absolute output name"]
    assert "2 blocks not triaged: sandbox self-check failed (channel)" in done.stderr
    assert ", 2 not triaged in " in done.stdout
    assert not (site / "snippets/results.json").exists() or '"triage"' not in (site / "snippets/results.json").read_text()
    listed = json.loads(blogtools("snippets", "--json", cwd=site).stdout)
    assert [item.get("not_triaged") for item in listed] == ["not-triaged-self-check"] * 2
    report = json.loads(blogtools("check", "--json", cwd=site).stdout)
    assert report["not_triaged"] == dict.fromkeys([f"{POST}/01", f"{POST}/02"], "not-triaged-self-check")
    found = evidence.states(load_project(start=site))
    assert {item.label for item in found.values()} == {"◌ Not triaged: sandbox self-check failed (channel)"}
    # in this process, the interpreter ring removed: the same refusal, and no verdict stored
    no_interpreter(monkeypatch, tmp_path)
    summary = triage_site(load_project(start=site))
    assert summary.refused.startswith("sandbox self-check failed (interpreter): import js")
    assert summary.triaged == [] and set(summary.not_triaged.values()) == {"sandbox self-check failed (interpreter)"}


def test_doctor_prints_each_ring_and_exits_0_when_all_hold(tmp_path):
    done = blogtools("doctor", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[1:3] for line in lines[:-1]] == [[ring, "holds:"] for ring in selfcheck.RINGS]
    assert lines[-1].startswith("doctor: 4 of 4 rings hold (")


def test_doctor_exits_1_naming_the_ring_that_failed(tmp_path):
    done = blogtools("doctor", cwd=tmp_path, knob=CHANNEL_KNOB)
    assert done.returncode == 1
    assert "doctor: channel      FAILED: the host accepted an absolute output name" in done.stdout.splitlines()
    assert "; failed: channel" in done.stdout.splitlines()[-1]


def test_doctor_says_what_to_do_where_the_sandbox_cannot_run(tmp_path):
    shim = tmp_path / "no-sandbox-extra"
    (shim / "deno").mkdir(parents=True)
    (shim / "deno/__init__.py").write_text('raise ImportError("the sandbox extra is not installed")\n')
    done = blogtools("doctor", cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(shim)))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "doctor: the sandbox cannot run here: deno not installed (pip install 'blogtools[sandbox]')",
        "doctor: instead: install the sandbox: pip install 'blogtools[sandbox]'"]
    for platform in ("darwin", "win32"):
        assert selfcheck.advice(f"the sandbox needs Linux namespaces (bubblewrap); this is {platform}").startswith(
            "the sandbox needs Linux namespaces: run blogtools in a Linux container")
