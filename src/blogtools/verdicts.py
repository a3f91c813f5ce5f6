"""Triage for a site: give every uncurated block a verdict by running it, only in the sandbox.

``triage_site`` picks the posts with a block whose verdict is missing or no longer current (its
fingerprint, ``evidence.triage_fingerprint``: the post's blocks up to it and the runtime's version),
hands each post's blocks to the engine (``blogtools.triage.triage_post``: one fresh interpreter
per post; or to the workers of a Postgres queue, ``blogtools.queue``), and stores the verdicts of its uncurated blocks in ``snippets/results.json`` beside the
test evidence, made safe first (``blogtools.untrusted``: the sandbox's output is the attacker's).
A curated block (runnable, or illustrative with a reason) is never given a verdict: the author's
choice wins. The file is rewritten only when a verdict changes.
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
from blogtools.sandbox import SandboxUnavailable


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

    def line(self) -> str:
        """``3 triaged, 10 current, 2 skipped (curated) in 4.1 s`` (and how many could not be)."""
        failed = f", {len(self.not_triaged)} not triaged" if self.not_triaged else ""
        queued = f", {len(self.queued)} queued" if self.queued else ""
        return (f"{len(self.triaged)} triaged, {len(self.current)} current, {len(self.curated)} skipped (curated)"
                f"{failed}{queued} in {self.seconds:.1f} s")


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
    ``everything``) and store the verdicts. The sandbox being unavailable is no error here: its
    reason goes to ``not_triaged`` for every block that needed a run (``echo`` hears each post run)."""
    todo = due(project, ids, everything)
    summary = todo.summary
    posts = content_blocks(project.posts_dir) if todo.posts else {}
    with triage.Sandboxes() as sandboxes:  # one per language, made when a block first needs it
        for post, wanted in todo.posts.items():
            try:
                _triage_post(post, posts.get(post, []), todo, sandboxes, echo)
                summary.triaged += wanted
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
    for (entry, _), verdict in zip(pairs, found, strict=True):
        if entry.untriaged:  # an unchanged verdict serialises to the same bytes: the file stays as it is
            todo.results.verdicts[entry.id] = evidence.Triaged(todo.now[entry.id], safe(verdict))


def _triage_post(post: str, blocks, todo: Due, sandboxes: triage.Sandboxes, echo: Callable[[str], None]) -> None:
    """Run one post's blocks through the engine and keep its uncurated blocks' verdicts."""
    pairs = ordered(post, blocks, todo.entries)
    given = [block for _, block in pairs]
    if any(triage.static_verdict(block) is None for block in given):
        echo(f"triage: {untrusted.line(post)}: running {len(given)} block(s) in the sandbox ...")
    keep(todo, pairs, triage.triage_post(given, sandboxes=sandboxes))
