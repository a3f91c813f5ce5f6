"""Triage for a site: give every uncurated block a verdict by running it, only in the sandbox.

``triage_site`` picks the posts with a block whose verdict is missing or no longer current (its
fingerprint, ``evidence.triage_fingerprint``: the post's blocks up to it and the runtime's version),
hands each post's blocks to the engine (``blogtools.triage.triage_post``: one fresh interpreter
per post; or to the workers of a Postgres queue, ``blogtools.queue``), and stores the verdicts of its uncurated blocks in ``snippets/results.json`` beside the
test evidence, made safe first (``blogtools.untrusted``: the sandbox's output is the attacker's),
dated ``since`` the day the block first got that verdict.
A curated block (runnable, or illustrative with a reason) is never given a verdict: the author's
choice wins. The file is rewritten only when a verdict changes.

Budgets (``extra: blogtools:`` in mkdocs.yml, ``project.Settings``): a triage stops running blocks
at ``triage_build_seconds`` and a post's at ``triage_post_seconds`` (a run still going then is
stopped, and its block gets no verdict); the blocks left wait for a later build, which takes posts
with a block never triaged first, then the others, each group oldest first (by page name, which
ingest starts with the post's date), and runs only the blocks whose verdict is not current. The
sandbox's processes at once are bounded so that together they stay within ``triage_memory_mb``.
Before any block, the first unit passes the sandbox's self-check (``sandbox.selfcheck``) or
nothing is triaged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from blogtools import evidence, manifest, triage, untrusted
from blogtools.blocks import block_id, content_blocks
from blogtools.errors import BlogtoolsError
from blogtools.manifest import Entry
from blogtools.project import Project
from blogtools.sandbox import SandboxUnavailable, runtime, selfcheck


@dataclass
class TriageSummary:
    """What one triage did: the blocks it gave a verdict, those already current, the curated ones it
    left alone, and why it could not triage others (by id: the sandbox is unavailable, the engine failed)."""

    triaged: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    curated: list[str] = field(default_factory=list)
    not_triaged: dict[str, str] = field(default_factory=dict)
    queued: list[str] = field(default_factory=list)  # handed to a queue's workers, not back yet
    seconds: float = 0.0
    refused: str = ""  # the self-check's one line, when the sandbox failed it

    @property
    def waiting(self) -> list[str]:
        """The blocks left only because a budget was spent: a later build triages them."""
        return [ident for ident, why in self.not_triaged.items() if why in _BUDGETS]

    @property
    def failed(self) -> list[str]:
        """The blocks that could not be triaged for another reason (no sandbox, its self-check, an error)."""
        return [ident for ident, why in self.not_triaged.items() if why not in _BUDGETS]

    def line(self) -> str:
        """``3 triaged, 10 current, 2 skipped (curated) in 4.1 s`` (and how many could not be, were
        left for a later build by the budget, or were queued)."""
        failed = f", {len(self.failed)} not triaged" if self.failed else ""
        waiting = f", {len(self.waiting)} left for a later build (budget spent)" if self.waiting else ""
        queued = f", {len(self.queued)} queued" if self.queued else ""
        return (f"{len(self.triaged)} triaged, {len(self.current)} current, {len(self.curated)} skipped (curated)"
                f"{failed}{waiting}{queued} in {self.seconds:.1f} s")


_BUDGETS = (evidence.BUDGET_SPENT, evidence.POST_BUDGET_SPENT)
# The most sandbox processes a triage holds at once besides its spares: a post's two Python units
# (alone, then after earlier blocks) and one JavaScript or TypeScript run.
_UNITS_BESIDE_SPARES = 3


class _Spent(Exception):
    """The budget ran out while a post's blocks ran."""


def python_spares(memory_mb: int) -> int:
    """How many Python sandboxes (each with one started spare) keep every sandbox process of a
    triage at once within ``memory_mb``, each bounded by its own limit; one error naming the
    setting when not even one fits."""
    each = triage.LIMITS.memory_mb + runtime.DATA_OVERHEAD_MB
    spares = memory_mb // each - _UNITS_BESIDE_SPARES
    if spares < 1:
        least = (1 + _UNITS_BESIDE_SPARES) * each
        raise BlogtoolsError(f"extra.blogtools.triage_memory_mb: {memory_mb} MB is less than the {least} MB that "
                             f"{1 + _UNITS_BESIDE_SPARES} sandbox processes of {each} MB each need")
    return spares


def safe(verdict: triage.Verdict) -> triage.Verdict:
    """The verdict with every string the sandbox produced made safe to store, print and render."""
    shows_output = verdict.verdict in (triage.RUNS, triage.MATCHES, triage.DIFFERS)
    return replace(verdict, reason=untrusted.line(verdict.reason),
                   needs=tuple(replace(need, what=untrusted.line(need.what)) for need in verdict.needs),
                   output=untrusted.text(verdict.output) if shows_output else "",
                   names=tuple(untrusted.line(name, 80) for name in verdict.names[:20]),
                   diff=untrusted.text(verdict.diff, 1_500) if verdict.verdict == triage.DIFFERS else "")


def _chosen(entries: dict[str, Entry], ids: Sequence[str]) -> list[Entry]:
    for ident in ids:
        if ident not in entries or not entries[ident].is_block:
            raise BlogtoolsError(f"{ident}: no such block in the manifest (`blogtools snippets` lists them)")
    return [entries[ident] for ident in ids] if ids else [entry for entry in entries.values() if entry.is_block]


@dataclass
class Due:
    """What a triage has to do (``due``): the manifest's entries, the stored results, every block's
    current fingerprint, the summary so far (curated and current blocks) and the ids due, by post."""

    entries: dict[str, Entry]
    results: evidence.Results
    now: dict[str, str]
    summary: TriageSummary
    posts: dict[str, list[str]]
    started: float = field(default_factory=time.monotonic)


def due(project: Project, ids: Sequence[str] = (), everything: bool = False) -> Due:
    """The chosen blocks (all without ``ids``) whose verdict is not current (all with ``everything``)."""
    entries = manifest.read(project.snippets_dir)
    chosen = _chosen(entries, ids)
    found = Due(entries, evidence.load(project), evidence.triage_fingerprints(entries, triage.runtime_version()),
                TriageSummary(), {})
    for entry in chosen:
        if not entry.untriaged:
            found.summary.curated.append(entry.id)
        elif not everything and _is_current(found.results, entry.id, found.now):
            found.summary.current.append(entry.id)
        else:
            found.posts.setdefault(entry.post, []).append(entry.id)
    return found


def triage_site(project: Project, ids: Sequence[str] = (), everything: bool = False,
                echo: Callable[[str], None] = lambda line: None) -> TriageSummary:
    """Triage the chosen blocks (all without ``ids``) whose verdict is not current (all of them with
    ``everything``) and store the verdicts, within the project's budgets. The sandbox being
    unavailable or failing its self-check is no error here: the reason goes to ``not_triaged`` for
    every block that needed a run, as does a spent budget (``echo`` hears each post run)."""
    todo = due(project, ids, everything)
    summary, settings = todo.summary, project.settings
    posts = content_blocks(project.posts_dir) if todo.posts else {}
    deadline = todo.started + settings.triage_build_seconds
    spares = python_spares(settings.triage_memory_mb) if todo.posts else 1
    refused: selfcheck.SelfCheckFailed | None = None
    never_first = sorted(todo.posts, key=lambda post: (any(i in todo.results.verdicts for i in todo.posts[post]), post))
    # one sandbox per language, made when a block first needs it; the first unit checks the rings
    with triage.Sandboxes(python_spares=spares, check=selfcheck.check_unit) as sandboxes:
        for post in never_first:
            wanted = todo.posts[post]
            if refused:
                summary.not_triaged.update(dict.fromkeys(wanted, evidence.self_check_failed(refused.ring)))
                continue
            post_deadline = min(deadline, time.monotonic() + settings.triage_post_seconds)
            sandboxes.deadline = post_deadline
            try:
                given = _triage_post(post, posts.get(post, []), todo, sandboxes, echo,
                                     () if everything else wanted, post_deadline)
                summary.triaged += [ident for ident in wanted if ident in given]
                why = evidence.BUDGET_SPENT if post_deadline == deadline else evidence.POST_BUDGET_SPENT
                summary.not_triaged.update({ident: why for ident in wanted if ident not in given})
            except selfcheck.SelfCheckFailed as exc:  # no verdict from this sandbox: every block waits
                refused, summary.refused = exc, str(exc)
                summary.not_triaged.update(dict.fromkeys(wanted, evidence.self_check_failed(exc.ring)))
            except SandboxUnavailable as exc:
                summary.not_triaged.update(dict.fromkeys(wanted, evidence.unavailable(untrusted.line(exc.reason))))
            except Exception as exc:  # noqa: BLE001 - a feed never fails the build: its blocks say why instead
                summary.not_triaged.update(dict.fromkeys(wanted, failed(exc)))
    return finish(project, todo)


def failed(exc: Exception) -> str:
    """Why a post's blocks have no verdict when triaging it raised ``exc``."""
    return f"triage failed: {untrusted.line(f'{type(exc).__name__}: {exc}')}"


def finish(project: Project, todo: Due) -> TriageSummary:
    """Store the verdicts kept (dropping those of blocks curated since, or gone); the summary."""
    results, entries = todo.results, todo.entries
    for ident in [ident for ident in results.verdicts if ident not in entries or not entries[ident].untriaged]:
        del results.verdicts[ident]  # curated since, or gone: the verdict no longer stands for anything
    evidence.save(project, results)
    evidence.save_waiting(project, {ident: (todo.now[ident], why) for ident, why in todo.summary.not_triaged.items()
                                    if why in _BUDGETS or why.startswith(evidence.SELF_CHECK_FAILED)})
    todo.summary.seconds = time.monotonic() - todo.started
    return todo.summary


def _is_current(results: evidence.Results, ident: str, now: dict[str, str]) -> bool:
    """Whether the block's stored verdict was given for its text (and the earlier blocks') as it is now."""
    stored = results.verdicts.get(ident)
    return stored is not None and stored.fingerprint == now.get(ident)


def ordered(post: str, blocks, entries: dict[str, Entry]) -> list[tuple[Entry, triage.Block]]:
    """A post's blocks as the engine takes them, each beside its manifest entry (content_blocks'
    ``blocks`` of ``post``); one error when the page changed since `blogtools extract`."""
    pairs = []
    for block in blocks:
        entry = entries.get(block_id(post, block.ordinal))
        if entry is None or block.sha256 != (entry.changed_sha256 or entry.sha256):
            raise BlogtoolsError(f"{post}: its page changed since `blogtools extract`; run it first")
        pairs.append((entry, triage.Block(block.ordinal, entry.language, block.text)))
    return pairs


def keep(todo: Due, pairs: list[tuple[Entry, triage.Block]], found: Sequence[triage.Verdict]) -> None:
    """Keep a post's verdicts (``found``, one per block of ``pairs``) for its uncurated blocks, made safe."""
    today = datetime.now(timezone.utc).date().isoformat()
    for (entry, _), verdict in zip(pairs, found, strict=True):
        if entry.untriaged:  # an unchanged verdict serialises to the same bytes: the file stays as it is
            old = todo.results.verdicts.get(entry.id) or evidence.Triaged("", verdict, today)
            todo.results.verdicts[entry.id] = old.given(todo.now[entry.id], safe(verdict), today)


def _triage_post(post: str, blocks, todo: Due, sandboxes: triage.Sandboxes, echo: Callable[[str], None],
                 wanted: Sequence[str], deadline: float) -> set[str]:
    """Run one post's blocks through the engine until ``deadline`` (``time.monotonic()``) and keep its
    uncurated blocks' verdicts; the ids given one. Only the blocks in ``wanted`` run (every block
    when it is empty): the others' current verdicts stand for them."""
    pairs = ordered(post, blocks, todo.entries)
    known = {block.ordinal: todo.results.verdicts[entry.id].verdict for entry, block in pairs
             if wanted and entry.id not in wanted and _is_current(todo.results, entry.id, todo.now)}
    given = [block for _, block in pairs]
    found: dict[int, triage.Verdict] = {}

    def reached(block: triage.Block, verdict: triage.Verdict) -> None:
        if time.monotonic() > deadline:  # its run may have been stopped by the deadline: no verdict
            raise _Spent
        found[block.ordinal] = verdict

    try:
        if time.monotonic() >= deadline:
            raise _Spent
        if any(triage.static_verdict(block) is None for block in given if block.ordinal not in known):
            echo(f"triage: {untrusted.line(post)}: running {len(given) - len(known)} block(s) in the sandbox ...")
        triage.triage_post(given, sandboxes=sandboxes, progress=reached, known=known)
    except (_Spent, selfcheck.DeadlinePassed):  # the blocks not reached that need no run still get their verdict
        done = found.keys() | known.keys()
        found.update({block.ordinal: verdict for _, block in pairs if block.ordinal not in done
                      and (verdict := triage.static_verdict(block)) is not None})
    kept = [(entry, block) for entry, block in pairs if block.ordinal in found]
    keep(todo, kept, [found[block.ordinal] for _, block in kept])
    return {entry.id for entry, _ in kept if entry.untriaged}
