"""The pytest side of the evidence: record each runnable entry whose tests all ran.

Registered by the blogtools pytest plugin in every run (``make test``, ``blogtools test``'s
child runs, a plain ``pytest``). Each test's reads are collected where it runs (an xdist worker
too) and travel to the controlling process on the teardown report; at the end of the session the
controlling process hands every *complete* entry to ``evidence.record``. An entry is complete
when every test id it lists matched collected tests, none of them was deselected (``-k``, ``-m``)
and all of them ran to their teardown (not cut short by ``-x``). A test's failure that a listing
entry's ``expect_error`` matches is reported to pytest as xfailed (the run stays green) and
recorded as the failure it is, so the entry's evidence is ``expected-failure``.
"""

from __future__ import annotations

import inspect
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from blogtools import evidence, manifest
from blogtools import project as project_module
from blogtools.errors import BlogtoolsError
from blogtools.inputs import Reads, import_closure, project_file, third_party_imports

LOG_VARIABLE = "BLOGTOOLS_EVIDENCE_LOG"  # a file that gets one JSON line per finished test
_READS = "blogtools_reads"
_EXPECTED = "blogtools_expected_failure"  # the error of a failure an entry's expect_error foresees


@dataclass
class TestState:
    """What the reports of one collected test said."""

    __test__ = False
    outcome: str = evidence.PASSED
    error: str = ""
    seconds: float = 0.0
    reads: set[str] = field(default_factory=set)  # project-relative paths
    finished: bool = False

    def result(self) -> evidence.TestResult:
        return evidence.TestResult(self.outcome, self.error)


def matches(test_id: str, nodeid: str) -> bool:
    """Whether a collected node is (part of) a manifest test id: the id itself, a parametrized case, a method."""
    return nodeid == test_id or nodeid.startswith((f"{test_id}[", f"{test_id}::"))


def entry_run(project, entry, states: dict[str, TestState], collected=None, deselected=()) -> evidence.RunResult | None:
    """The run of ``entry`` from its tests' states, or None unless all its tests ran: each id
    matched collected tests (``collected``: by default those in ``states``), none deselected, all
    finished. A test file that failed to collect (its state keyed by the file's path) fails its ids."""
    states = dict(states)
    collected = set(states) if collected is None else set(collected)
    for test_id in entry.tests:
        file = test_id.partition("::")[0]
        if file in states and states[file].outcome == evidence.FAILED:
            states.setdefault(test_id, TestState(evidence.FAILED, states[file].error, finished=True))
            collected.add(test_id)
    nodes = {test_id: [node for node in collected if matches(test_id, node)] for test_id in entry.tests}
    if not all(nodes.values()) or any(matches(test_id, node) for test_id in entry.tests for node in deselected):
        return None
    if not all(node in states and states[node].finished for found in nodes.values() for node in found):
        return None
    tests = {test_id: _combined([states[node] for node in found]) for test_id, found in nodes.items()}
    read = {path for found in nodes.values() for node in found for path in states[node].reads}
    inputs = entry_inputs(project, entry, read)
    packages = third_party_imports((project.root / name for name in inputs), project.root)
    seconds = sum(states[node].seconds for node in {node for found in nodes.values() for node in found})
    return evidence.RunResult(tests, tuple(sorted(inputs)), seconds, packages)


def entry_inputs(project, entry, read: set[str]) -> set[str]:
    """Project-relative paths of what the entry's tests read, its modules, test files and their
    conftests, and every project module those import."""
    root = project.root.resolve()
    snippets = (project.snippets_dir / entry.post).resolve()
    start = {root / path for path in read} | {snippets / module for module in entry.modules}
    for test_id in entry.tests:
        test_file = root / test_id.partition("::")[0]
        start.add(test_file)
        start.update(folder / "conftest.py" for folder in test_file.parents if folder.is_relative_to(root))
    found = import_closure((path for path in start if path.is_file()), root, [snippets])
    skip = {(project.snippets_dir / name).resolve() for name in (manifest.NAME, evidence.NAME)}
    return {path.relative_to(root).as_posix() for path in found if path not in skip and path.is_file()}


def _combined(states: list[TestState]) -> evidence.TestResult:
    """A test id's result from its collected tests (a parametrized family): the first failure, else
    passed when any passed, else the skip."""
    for outcome in (evidence.FAILED, evidence.PASSED, evidence.SKIPPED):
        found = [state for state in states if state.outcome == outcome]
        if found:
            return found[0].result()
    return evidence.TestResult(evidence.SKIPPED, "no test ran")


def first_line(report) -> str:
    """The first line of a failure's error (a collection error's last ``E`` line), or a skip's reason."""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(report.longrepr, "reprcrash", None)
    if getattr(crash, "message", None):
        first = next(line.strip() for line in crash.message.splitlines() + ["failed"] if line.strip())
        return first.removeprefix("AssertionError: ")  # an assertion's message says it all, as a bare assert's does
    lines = str(report.longreprtext).splitlines()
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    return errors[-1] if errors else next((line.strip() for line in lines if line.strip()), "failed")


class Recorder:
    """A pytest plugin object: collects the reports and reads, records the evidence at the end."""

    def __init__(self, config):
        self.config = config
        self.project = project_module.load(start=Path(config.rootpath))
        self.root = self.project.root.resolve()
        self.ignored = [path.resolve() for path in (self.project.build_dir, self.project.site_dir, self.project.docs_dir)]
        self.states: dict[str, TestState] = {}
        self.collected: set[str] = set()
        self.deselected: set[str] = set()
        self._reads: set[str] | None = None
        self._fixture_reads: dict[object, set[str]] = {}  # fixturedef -> what its set-up read
        self._expecting: list[manifest.Entry] | None = None  # the entries with expect_error, read once

    # --- where tests run (this process, or an xdist worker) ---

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item):
        with Reads.recording() as reads:
            self._reads = reads
            try:
                yield
            finally:
                self._reads = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        """What a fixture's set-up reads belongs to every test using it, not only to the first one
        (a module- or session-scoped fixture is set up once, by whichever test runs first)."""
        with Reads.recording() as reads:
            yield
        self._fixture_reads.setdefault(fixturedef, set()).update(reads)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if report.when == "call" and report.failed and (error := first_line(report)) and self._expected(item.nodeid, error):
            # A failure an entry's expect_error foresees (the code fails as published): pytest counts
            # it as xfailed, so the run stays green; the evidence records it as the failure it is.
            report.outcome, report.wasxfail = "skipped", f"fails as expected: {error}"
            report.user_properties.append((_EXPECTED, error))
        if call.when == "teardown" and self._reads is not None:
            used = [self._fixture_reads.get(definition, ()) for definition in _fixture_definitions(item)]
            paths = set(self._reads).union(*used) | {str(item.path)} | _fixture_files(item)
            inside = {project_file(path, self.root, self.ignored) for path in paths}
            report.user_properties.append((_READS, sorted(p.relative_to(self.root).as_posix() for p in inside if p)))

    def _expected(self, nodeid: str, error: str) -> bool:
        """Whether a manifest entry that lists this test expects its failure (``expect_error`` matches)."""
        if self._expecting is None:
            try:
                entries = manifest.read(self.project.snippets_dir) if (self.project.snippets_dir / manifest.NAME).is_file() else {}
            except BlogtoolsError:
                entries = {}
            self._expecting = [entry for entry in entries.values() if entry.expect_error]
        return any(matches(test_id, nodeid) and evidence.matches_expected(entry, error)
                   for entry in self._expecting for test_id in entry.tests)

    def pytest_runtest_logstart(self, nodeid, location):
        """Log the test's start, so `blogtools test` can time each entry while its tests run."""
        self._log_line({"start": nodeid})

    def pytest_collection_finish(self, session):
        self.collected.update(item.nodeid for item in session.items)
        self._log_line({"collected": sorted(self.collected)})

    def pytest_deselected(self, items):
        self.deselected.update(item.nodeid for item in items)

    def pytest_sessionfinish(self, session):
        if hasattr(self.config, "workerinput"):  # an xdist worker: the controller records
            self.config.workeroutput["blogtools_collected"] = sorted(self.collected)
            self.config.workeroutput["blogtools_deselected"] = sorted(self.deselected)
            return
        if not (self.project.snippets_dir / manifest.NAME).is_file():
            return
        try:
            entries = manifest.read(self.project.snippets_dir)
            runs = {entry.id: run for entry in evidence.runnable(entries.values())
                    if (run := entry_run(self.project, entry, self.states, self.collected, self.deselected))}
            if runs:
                with Reads.paused():
                    evidence.record(self.project, runs, warn=self._warn)
        except BlogtoolsError as exc:
            self._warn(f"evidence not recorded: {exc}")

    # --- where reports arrive (this process, or the xdist controller) ---

    def pytest_runtest_logreport(self, report):
        state = self.states.setdefault(report.nodeid, TestState())
        state.seconds += report.duration
        expected = [value for key, value in report.user_properties if key == _EXPECTED]
        if (report.failed or expected) and state.outcome != evidence.FAILED:
            state.outcome, state.error = evidence.FAILED, expected[0] if expected else first_line(report)
        elif report.skipped and state.outcome == evidence.PASSED and report.when != "teardown":
            state.outcome, state.error = evidence.SKIPPED, first_line(report)
        if report.when == "teardown":
            state.finished = True
            state.reads.update(*(value for key, value in report.user_properties if key == _READS))
            self._log(report.nodeid, state)

    def pytest_collectreport(self, report):
        if report.failed and report.nodeid:
            state = self.states[report.nodeid] = TestState(evidence.FAILED, first_line(report), finished=True)
            self._log(report.nodeid, state)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error):
        output = getattr(node, "workeroutput", {}) or {}
        self.collected.update(output.get("blogtools_collected", ()))
        self._log_line({"collected": sorted(output.get("blogtools_collected", ()))})
        self.deselected.update(output.get("blogtools_deselected", ()))

    def _log(self, nodeid: str, state: TestState) -> None:
        self._log_line({"nodeid": nodeid, "outcome": state.outcome, "error": state.error, "seconds": state.seconds,
                        "reads": sorted(state.reads)})

    def _log_line(self, item: dict) -> None:
        """One JSON line to the file ``BLOGTOOLS_EVIDENCE_LOG`` names, for `blogtools test` (when it is set)."""
        log = os.environ.get(LOG_VARIABLE)
        if log and not hasattr(self.config, "workerinput"):  # under xdist the controller logs, once
            with Reads.paused(), open(log, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(item) + "\n")

    def _warn(self, message: str) -> None:
        self.config.get_terminal_writer().line(f"blogtools: warning: {message}", yellow=True)


def _fixture_definitions(item) -> list:
    """The definitions of the fixtures a test uses, directly or through other fixtures."""
    info = getattr(item, "_fixtureinfo", None)
    return [definition for definitions in (info.name2fixturedefs.values() if info else ()) for definition in definitions]


def _fixture_files(item) -> set[str]:
    """The source files of the fixtures a test uses (a plugin's fixtures are harness code it runs)."""
    files = set()
    for definition in _fixture_definitions(item):
        try:
            files.add(inspect.getsourcefile(definition.func) or "")
        except TypeError:
            continue
    return files - {""}
