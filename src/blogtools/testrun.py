"""``blogtools test``: run the tests of runnable entries whose evidence is not current, and record it.

Cached by fingerprint (the model is Go's test cache: keyed on inputs, not on time): an entry runs
when it has no record, its record failed, or its fingerprint is no longer current; ``--all`` runs
every one. Each entry's tests run in a pytest child process of their own, where the blogtools
plugin records the evidence as under ``make test``; a child that passes the per-entry time limit
is killed and its unfinished tests are recorded as failed with that reason.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from blogtools import evidence, manifest
from blogtools.errors import BlogtoolsError
from blogtools.manifest import Entry
from blogtools.project import Project
from blogtools.recorder import LOG_VARIABLE, TestState, entry_run, matches

DEFAULT_TIME_LIMIT = 600.0  # seconds per entry


@dataclass
class TestSummary:
    """What ``blogtools test`` did: entries run (by outcome), current (not run), and the time taken."""

    ran: dict[str, str] = field(default_factory=dict)  # id -> outcome recorded (or "not recorded")
    current: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[str]:
        ok = (evidence.PASSED, evidence.EXPECTED_FAILURE, evidence.SKIPPED)
        return [ident for ident, outcome in self.ran.items() if outcome not in ok]

    def line(self) -> str:
        return (f"{len(self.ran)} ran, {len(self.current)} current, {len(self.failed)} failed "
                f"in {self.seconds:.1f} s")


def needs_run(project: Project, entry: Entry, record: evidence.Record | None) -> bool:
    """Whether an entry's evidence must be refreshed: no record, a failure, or a changed fingerprint."""
    if record is None or record.outcome in (evidence.FAILED, evidence.UNEXPECTED_PASS):
        return True
    return evidence.changed_input(project, entry, record) is not None


def chosen(project: Project, ids: Sequence[str]) -> list[Entry]:
    """The runnable entries ``ids`` name (all of them without ids); one error for an unknown or illustrative id."""
    entries = manifest.read(project.snippets_dir)
    for ident in ids:
        if ident not in entries:
            raise BlogtoolsError(f"{ident}: no such entry in {project.snippets_dir / manifest.NAME}")
        if not evidence.runnable([entries[ident]]):
            raise BlogtoolsError(f"{ident}: not runnable (no tests to run)")
    return evidence.runnable(entries[ident] for ident in ids) if ids else evidence.runnable(entries.values())


def run_tests(project: Project, ids: Sequence[str] = (), run_all: bool = False,
              time_limit: float = DEFAULT_TIME_LIMIT, echo: Callable[[str], None] = print) -> TestSummary:
    """Run the chosen entries whose evidence is not current (all of them with ``run_all``), one
    pytest child each, and return what happened; the children record results.json."""
    started = time.monotonic()
    entries = chosen(project, ids)
    try:
        records = evidence.load(project).records
    except BlogtoolsError as exc:
        echo(f"blogtools: warning: {exc}")
        records = {}
    summary = TestSummary()
    for entry in entries:
        if not run_all and not needs_run(project, entry, records.get(entry.id)):
            summary.current.append(entry.id)
            continue
        echo(f"test: {entry.id}: running {len(entry.tests)} test id(s) ...")
        summary.ran[entry.id] = run_entry(project, entry, time_limit)
        echo(f"test: {entry.id}: {summary.ran[entry.id]}")
    summary.seconds = time.monotonic() - started
    return summary


def run_entry(project: Project, entry: Entry, time_limit: float) -> str:
    """Run one entry's tests in a pytest child; return the outcome recorded for it."""
    root = project.root.resolve()
    with tempfile.TemporaryDirectory(prefix="blogtools-test-") as scratch:
        log = Path(scratch) / "log.jsonl"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--rootdir={root}", *entry.tests]
        child = subprocess.Popen(command, cwd=root, env=dict(os.environ, **{LOG_VARIABLE: str(log)}),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            output, _ = child.communicate(timeout=time_limit)
            reason = f"did not run: pytest exited with status {child.returncode}: {_last_line(output)}"
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            reason = f"did not finish within the time limit of {time_limit:g} s"
        except BaseException:  # Ctrl-C: the child (in a session of its own) goes with us
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            raise
        collected, states = _logged(log)
    if child.returncode >= 0 and entry_run(project, entry, states, collected) is not None:
        record = evidence.load(project).records.get(entry.id)  # every test ran: the child recorded the entry
        return record.outcome if record else "not recorded"
    # Killed, or stopped before every test ran: what did not finish fails with the reason.
    for node in [node for node in collected if node not in states] + [
            test_id for test_id in entry.tests if not any(matches(test_id, node) for node in collected | set(states))]:
        states[node] = TestState(evidence.FAILED, reason, finished=True)
    run = entry_run(project, entry, states)
    return evidence.record(project, {entry.id: run})[entry.id].outcome


def _logged(log: Path) -> tuple[set[str], dict[str, TestState]]:
    """The node ids the child collected and the states of those that finished, from its log."""
    collected, states = set(), {}
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    for item in map(json.loads, lines):
        if "collected" in item:
            collected.update(item["collected"])
        else:
            states[item["nodeid"]] = TestState(item["outcome"], item["error"], item["seconds"], set(item["reads"]), True)
    return collected, states


def _last_line(output: str) -> str:
    return next((line.strip() for line in reversed(output.splitlines()) if line.strip()), "no output")
