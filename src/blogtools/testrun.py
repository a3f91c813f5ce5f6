"""``blogtools test``: run the tests of runnable entries whose evidence is not current, and record it.

Cached by fingerprint (the model is Go's test cache: keyed on inputs, not on time): an entry runs
when it has no record, its record failed, or its fingerprint is no longer current; ``--all`` runs
every one. The chosen entries' tests run in ONE pytest child process (one start of pytest, its
plugins and the harness's services for all of them), where the blogtools plugin records the
evidence as under ``make test``. With pytest-xdist installed and several entries due, that child
spreads their test modules over xdist workers, one per CPU (at most one per entry): many tests wait
on a child process, a server or a sandbox start, so a second worker uses what the first leaves
idle. The child logs each test's start and end; an entry whose tests pass the per-entry time limit
gets the child killed, its unfinished tests recorded as failed with that reason, and the entries
not finished yet run on in a new child.
"""

from __future__ import annotations

import importlib.util
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
DISTRIBUTION = "loadscope"  # a test module's tests stay on one worker: its module fixtures are made once


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


def default_workers(entries: int) -> int:
    """xdist workers for ``entries`` due: one per CPU this process may use, at most one per entry;
    1 (no xdist) when pytest-xdist is not installed."""
    if importlib.util.find_spec("xdist") is None:
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), entries))


def run_tests(project: Project, ids: Sequence[str] = (), run_all: bool = False,
              time_limit: float = DEFAULT_TIME_LIMIT, echo: Callable[[str], None] = print,
              workers: int | None = None) -> TestSummary:
    """Run the chosen entries whose evidence is not current (all of them with ``run_all``) in one
    pytest child on ``workers`` xdist workers (1: in the child itself; None: ``default_workers``),
    and return what happened; the child records results.json."""
    started = time.monotonic()
    entries = chosen(project, ids)
    try:
        records = evidence.load(project).records
    except BlogtoolsError as exc:
        echo(f"blogtools: warning: {exc}")
        records = {}
    summary = TestSummary()
    due = []
    for entry in entries:
        if run_all or needs_run(project, entry, records.get(entry.id)):
            due.append(entry)
        else:
            summary.current.append(entry.id)
    if due:
        workers = default_workers(len(due)) if workers is None else workers
        on = f" on {workers} workers" if workers > 1 else ""
        echo(f"test: running the tests of {len(due)} entr{'y' if len(due) == 1 else 'ies'} in one pytest session{on} ...")
        summary.ran = run_entries(project, due, time_limit, workers)
        for entry in due:
            echo(f"test: {entry.id}: {summary.ran[entry.id]}")
    summary.seconds = time.monotonic() - started
    return summary


def run_entries(project: Project, entries: Sequence[Entry], time_limit: float, workers: int = 1) -> dict[str, str]:
    """Run the entries' tests in one pytest child (another for those left when one overruns its
    ``time_limit``) on ``workers`` xdist workers; return the outcome recorded for each, by id."""
    outcomes: dict[str, str] = {}
    pending = list(entries)
    while pending:
        session = _Session(project, pending, time_limit, workers)
        status = session.run()
        records = evidence.load(project).records
        left = []
        for entry in pending:
            run = entry_run(project, entry, session.states, session.collected)
            if run is not None and session.overran is None and status >= 0:
                record = records.get(entry.id)  # every test ran and the child ended: it recorded the entry
                outcomes[entry.id] = record.outcome if record else "not recorded"
            elif run is not None:  # every test ran, but the child was killed before it recorded anything
                outcomes[entry.id] = evidence.record(project, {entry.id: run})[entry.id].outcome
            elif session.overran in (None, entry.id):
                reason = (f"did not finish within the time limit of {time_limit:g} s" if session.overran
                          else f"did not run: pytest exited with status {status}: {session.last_line}")
                outcomes[entry.id] = _record_unfinished(project, entry, session, reason)
            else:
                left.append(entry)  # not reached before the child was killed: it runs in the next one
        pending = left
    return outcomes


def _record_unfinished(project: Project, entry: Entry, session: _Session, reason: str) -> str:
    """Record the entry with every test of it that did not finish failed with ``reason``; its outcome."""
    states = dict(session.states)
    for node in [node for node in session.collected if node not in states] + [
            test_id for test_id in entry.tests
            if not any(matches(test_id, node) for node in session.collected | set(states))]:
        states[node] = TestState(evidence.FAILED, reason, finished=True)
    return evidence.record(project, {entry.id: entry_run(project, entry, states)})[entry.id].outcome


class _Session:
    """One pytest child running the given entries' tests, watched through its log: the tests it
    collected, the states of those that finished, and the entry that overran its time limit."""

    POLL = 0.2  # seconds between looks at the log

    def __init__(self, project: Project, entries: Sequence[Entry], time_limit: float, workers: int = 1):
        self.project, self.entries, self.time_limit = project, list(entries), time_limit
        self.workers = min(workers, len(self.entries))
        self.collected: set[str] = set()
        self.states: dict[str, TestState] = {}
        self.overran: str | None = None
        self.last_line = ""
        self._started: dict[str, float] = {}  # node -> when its start was seen
        self._elapsed: dict[str, float] = {}  # node -> seconds it took (finished ones)

    def run(self) -> int:
        """Run the child to its end (or kill it when an entry overruns); its exit status."""
        root = self.project.root.resolve()
        tests = list(dict.fromkeys(test for entry in self.entries for test in entry.tests))
        with tempfile.TemporaryDirectory(prefix="blogtools-test-") as scratch:
            log, output = Path(scratch) / "log.jsonl", Path(scratch) / "output.txt"
            log.touch()
            spread = ["-n", str(self.workers), "--dist", DISTRIBUTION] if self.workers > 1 else []
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--rootdir={root}", *spread, *tests]
            with open(output, "wb") as out:
                child = subprocess.Popen(command, cwd=root, env=dict(os.environ, **{LOG_VARIABLE: str(log)}),
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
                try:
                    with open(log, "rb") as reading:
                        while child.poll() is None:
                            time.sleep(self.POLL)
                            self._read(reading)
                            if self._overrunning():
                                os.killpg(child.pid, signal.SIGKILL)
                                child.wait()
                        self._read(reading)
                except BaseException:  # Ctrl-C: the child (in a session of its own) goes with us
                    if child.poll() is None:
                        os.killpg(child.pid, signal.SIGKILL)
                        child.wait()
                    raise
            self.last_line = _last_line(output.read_text(encoding="utf-8", errors="replace"))
        return child.returncode

    def _read(self, reading) -> None:
        """Take in the log lines written since the last look (a partial last line waits for the next)."""
        now = time.monotonic()
        while (line := reading.readline()).endswith(b"\n"):
            item = json.loads(line)
            if "collected" in item:
                self.collected.update(item["collected"])
            elif "start" in item:
                self._started[item["start"]] = now
            else:
                node = item["nodeid"]
                self.states[node] = TestState(item["outcome"], item["error"], item["seconds"], set(item["reads"]), True)
                self._elapsed[node] = item["seconds"]
        reading.seek(-len(line), os.SEEK_CUR)  # an unfinished line is read again next time

    def _overrunning(self) -> bool:
        """Whether an entry's tests have taken longer than the limit (setting ``overran``)."""
        now = time.monotonic()
        for entry in self.entries:
            nodes = [node for node in self._started if any(matches(test, node) for test in entry.tests)]
            spent = sum(self._elapsed.get(node, now - self._started[node]) for node in nodes)
            if spent > self.time_limit:
                self.overran = entry.id
                return True
        return False


def _last_line(output: str) -> str:
    return next((line.strip() for line in reversed(output.splitlines()) if line.strip()), "no output")
