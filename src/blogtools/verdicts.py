"""Triage for a site: give every uncurated block a verdict by running it, only in the sandbox.

``triage_site`` picks the posts with a block whose verdict is missing or no longer current (its
fingerprint, ``evidence.triage_fingerprint``: the post's blocks up to it and the runtime's version),
hands each post's blocks to the engine (``blogtools.triage.triage_post``: one fresh interpreter
per post), and stores the verdicts of its uncurated blocks in ``snippets/results.json`` beside the
test evidence, made safe first (``blogtools.untrusted``: the sandbox's output is the attacker's).
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
        """``3 triaged, 10 current, 2 skipped (curated) in 4.1 s`` (and how many could not be, or
        were left for a later build by the budget)."""
        failed = f", {len(self.failed)} not triaged" if self.failed else ""
        waiting = f", {len(self.waiting)} left for a later build (budget spent)" if self.waiting else ""
        return (f"{len(self.triaged)} triaged, {len(self.current)} current, {len(self.curated)} skipped (curated)"
                f"{failed}{waiting} in {self.seconds:.1f} s")


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
    return replace(verdict, reason=untrusted.line(verdict.reason),
                   needs=tuple(replace(need, what=untrusted.line(need.what)) for need in verdict.needs),
                   output=untrusted.text(verdict.output) if verdict.verdict == triage.RUNS else "")


def _chosen(entries: dict[str, Entry], ids: Sequence[str]) -> list[Entry]:
    for ident in ids:
        if ident not in entries or not entries[ident].is_block:
            raise BlogtoolsError(f"{ident}: no such block in the manifest (`blogtools snippets` lists them)")
    return [entries[ident] for ident in ids] if ids else [entry for entry in entries.values() if entry.is_block]


def triage_site(project: Project, ids: Sequence[str] = (), everything: bool = False,
                echo: Callable[[str], None] = lambda line: None) -> TriageSummary:
    """Triage the chosen blocks (all without ``ids``) whose verdict is not current (all of them with
    ``everything``) and store the verdicts, within the project's budgets. The sandbox being
    unavailable or failing its self-check is no error here: the reason goes to ``not_triaged`` for
    every block that needed a run, as does a spent budget (``echo`` hears each post run)."""
    started = time.monotonic()
    settings = project.settings
    entries = manifest.read(project.snippets_dir)
    chosen = _chosen(entries, ids)
    results = evidence.load(project)
    runtime_version = triage.runtime_version()
    now = evidence.triage_fingerprints(entries, runtime_version)
    summary = TriageSummary()
    due: dict[str, list[str]] = {}
    for entry in chosen:
        if not entry.untriaged:
            summary.curated.append(entry.id)
        elif not everything and _is_current(results, entry.id, now):
            summary.current.append(entry.id)
        else:
            due.setdefault(entry.post, []).append(entry.id)
    posts = content_blocks(project.posts_dir) if due else {}
    deadline = started + settings.triage_build_seconds
    spares = python_spares(settings.triage_memory_mb) if due else 1
    refused: selfcheck.SelfCheckFailed | None = None
    # one sandbox per language, made when a block first needs it; the first unit checks the rings
    with triage.Sandboxes(python_spares=spares, check=selfcheck.check_unit) as sandboxes:
        for post in sorted(due, key=lambda post: (any(ident in results.verdicts for ident in due[post]), post)):
            wanted = due[post]
            if refused:
                summary.not_triaged.update(dict.fromkeys(wanted, evidence.self_check_failed(refused.ring)))
                continue
            post_deadline = min(deadline, time.monotonic() + settings.triage_post_seconds)
            sandboxes.deadline = post_deadline
            try:
                given = _triage_post(post, posts.get(post, []), entries, now, results, sandboxes, echo,
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
                why = untrusted.line(f"{type(exc).__name__}: {exc}")
                summary.not_triaged.update(dict.fromkeys(wanted, f"triage failed: {why}"))
    for ident in [ident for ident in results.verdicts if ident not in entries or not entries[ident].untriaged]:
        del results.verdicts[ident]  # curated since, or gone: the verdict no longer stands for anything
    evidence.save(project, results)
    evidence.save_waiting(project, {ident: (now[ident], why) for ident, why in summary.not_triaged.items()
                                    if why in _BUDGETS or why.startswith(evidence.SELF_CHECK_FAILED)})
    summary.seconds = time.monotonic() - started
    return summary


def _is_current(results: evidence.Results, ident: str, now: dict[str, str]) -> bool:
    """Whether the block's stored verdict was given for its text (and the earlier blocks') as it is now."""
    stored = results.verdicts.get(ident)
    return stored is not None and stored.fingerprint == now.get(ident)


def _triage_post(post: str, blocks, entries: dict[str, Entry], now: dict[str, str], results: evidence.Results,
                 sandboxes: triage.Sandboxes, echo: Callable[[str], None], wanted: Sequence[str],
                 deadline: float) -> set[str]:
    """Run one post's blocks through the engine until ``deadline`` (``time.monotonic()``) and keep its
    uncurated blocks' verdicts in ``results``; the ids given one. Only the blocks in ``wanted`` run
    (every block when it is empty): the others' current verdicts stand for them."""
    ordered = []
    for block in blocks:
        entry = entries.get(block_id(post, block.ordinal))
        if entry is None or block.sha256 != (entry.changed_sha256 or entry.sha256):
            raise BlogtoolsError(f"{post}: its page changed since `blogtools extract`; run it first")
        ordered.append((entry, triage.Block(block.ordinal, entry.language, block.text)))
    known = {block.ordinal: results.verdicts[entry.id].verdict for entry, block in ordered
             if wanted and entry.id not in wanted and _is_current(results, entry.id, now)}
    given = [block for _, block in ordered]
    found: dict[int, triage.Verdict] = {}

    def keep(block: triage.Block, verdict: triage.Verdict) -> None:
        if time.monotonic() > deadline:  # its run may have been stopped by the deadline: no verdict
            raise _Spent
        found[block.ordinal] = verdict

    try:
        if time.monotonic() >= deadline:
            raise _Spent
        if any(triage.static_verdict(block) is None for block in given if block.ordinal not in known):
            echo(f"triage: {untrusted.line(post)}: running {len(given) - len(known)} block(s) in the sandbox ...")
        triage.triage_post(given, sandboxes=sandboxes, progress=keep, known=known)
    except (_Spent, selfcheck.DeadlinePassed):  # the blocks not reached that need no run still get their verdict
        reached = found.keys() | known.keys()
        found.update({block.ordinal: verdict for _, block in ordered if block.ordinal not in reached
                      and (verdict := triage.static_verdict(block)) is not None})
    kept = set()
    for entry, block in ordered:
        if entry.untriaged and block.ordinal in found:  # an unchanged verdict serialises to the same bytes
            results.verdicts[entry.id] = evidence.Triaged(now[entry.id], safe(found[block.ordinal]))
            kept.add(entry.id)
    return kept
