"""The ``blogtools`` command line: one subcommand per stage, feeds → content → snippets → site.

Starting it imports nothing heavy: ``--help`` and ``--version`` load only click. Each command
imports the stages it uses INSIDE its function (``from blogtools import feeds`` as its first
lines), never at the top of this module; an option whose default is a stage's constant names it
with ``cls=_StageDefault`` (read when that command runs or shows its help). Commands of installed
packages (the ``blogtools.commands`` entry point) are loaded when the group first lists or looks
up a command, and follow the same rule. ``tests/test_cli.py`` checks what start-up imports.
"""

from __future__ import annotations

import functools
import importlib
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import click

from blogtools import __version__
from blogtools.errors import BlogtoolsError

COMMANDS_ENTRY_POINT = "blogtools.commands"


class _Group(click.Group):
    """Turns a BlogtoolsError (bad input) into one error line on stderr and exit status 1.

    Any other exception is a bug in blogtools and keeps its traceback. ``--help`` lists blogtools'
    own commands first, then those that installed packages add (see :func:`register_plugin_commands`).
    """

    plugin_commands: frozenset[str] | None = None  # None: the entry points are not loaded yet

    def list_commands(self, ctx):
        register_plugin_commands(self)
        return super().list_commands(ctx)

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands:
            register_plugin_commands(self)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx, formatter):
        own = [name for name in self.list_commands(ctx) if name not in self.plugin_commands]
        for title, names in (("Commands", own), ("Commands added by installed packages", sorted(self.plugin_commands))):
            rows = [(name, self.commands[name].get_short_help_str(formatter.width)) for name in names]
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BlogtoolsError as exc:
            click.echo(f"blogtools: error: {exc}", err=True)
            sys.exit(1)


class _StageDefault(click.Option):
    """An option whose default is a stage module's constant (``stage_default="blogtools.feeds.DEFAULT_TIMEOUT"``),
    imported only when its command runs or shows its help, so the CLI's start imports no stage."""

    def __init__(self, *args, stage_default: str, **kwargs):
        self.stage_default = stage_default
        super().__init__(*args, show_default=True, **kwargs)

    def get_default(self, ctx, call=True):
        module, _, name = self.stage_default.rpartition(".")
        return getattr(importlib.import_module(module), name)


class _Site:
    """The invocation's project, read from mkdocs.yml when a command first asks for it (so `new`
    and `--help` read nothing)."""

    def __init__(self, config_file: Path | None):
        self.config_file = config_file

    @functools.cached_property
    def project(self):
        """The site's Project, loaded from mkdocs.yml once, on first use."""
        from blogtools import project

        return project.load(self.config_file)

    def with_overrides(self, content_dir: Path | None = None, snippets_dir: Path | None = None):
        """The project with ``--content-dir`` / ``--snippets-dir`` applied."""
        return self.project.with_overrides(content_dir, snippets_dir)


_pass_site = click.make_pass_decorator(_Site)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="blogtools")
@click.option("--config-file", "-f", type=click.Path(dir_okay=False, path_type=Path),
              help="The site's mkdocs.yml (default: the nearest one from the current folder up); "
                   "paths and settings come from it.")
@click.pass_context
def main(ctx, config_file):
    """Essays from RSS/Atom feeds into a static site that shows the evidence behind each code example."""
    ctx.obj = _Site(config_file)


def _progress(label: str):
    """For a stage's ``progress``: a bar on stderr for long lists (50 or more), nothing for short ones."""

    def wrap(items):
        if len(items) < 50:
            return nullcontext(items)
        return click.progressbar(items, label=label, file=sys.stderr)

    return wrap


def _warn(message: str) -> None:
    click.echo(f"blogtools: warning: {message}", err=True)


_content_dir = click.option(
    "--content-dir", type=click.Path(file_okay=False, path_type=Path),
    help="The content folder, its posts/<slug>.md the pages (default: the site's, content/).",
)


@main.command()
@click.argument("sources", nargs=-1, metavar="[SOURCE]...")
@_content_dir
@click.option("--feeds", "feeds_toml", type=click.Path(dir_okay=False, path_type=Path),
              help="The list of sources and their attribution (default: the site's, feeds/feeds.toml).")
@click.option("--timeout", type=float, cls=_StageDefault, stage_default="blogtools.feeds.DEFAULT_TIMEOUT",
              help="Seconds to wait for a feed URL.")
@_pass_site
def ingest(site, sources, content_dir, feeds_toml, timeout):
    """Turn RSS/Atom feeds into Markdown pages, one per entry.

    SOURCE is a feed file or an http(s) URL; without one, every source in feeds.toml is read.
    Pages of entries that left a feed stay; an unchanged feed writes nothing.
    """
    from blogtools import feeds
    from blogtools import ingest as ingest_stage

    content_dir = site.with_overrides(content_dir).content_dir
    root = None if feeds_toml else site.project.root  # a --feeds file's labels are relative to its site
    feeds_toml = feeds_toml or site.project.feeds_toml
    configured = feeds.load_sources(feeds_toml, root) if feeds_toml.exists() or not sources else []
    chosen = [feeds.source_for(s, configured) for s in sources] or configured
    if not chosen:
        raise BlogtoolsError(f"{feeds_toml}: lists no [[source]]")

    summary = ingest_stage.ingest(chosen, content_dir, timeout=timeout, progress=_progress("Converting entries"),
                                  warn=_warn)
    _echo_migrated(summary.migrated)
    click.echo(summary.line())


@main.command()
@_content_dir
@_pass_site
def migrate(site, content_dir):
    """Rewrite pages of an older format in the current one (in place, atomically)."""
    from blogtools import content

    click.echo(_migrated_line(content.migrate(site.with_overrides(content_dir).content_dir)))


def _migrated_line(pages: list[Path]) -> str:
    from blogtools import content

    return f"migrate: {len(pages)} pages rewritten as format {content.FORMAT}"


def _echo_migrated(pages: list[Path]) -> None:
    """A stage's migration line on stderr, when it migrated any page."""
    if pages:
        click.echo(_migrated_line(pages), err=True)


_queue = click.option(
    "--queue", "queue_dsn", metavar="DSN",
    help="Triage on the workers of this Postgres queue (`blogtools worker --queue DSN`, on any machine) "
         "instead of here; needs blogtools[queue].")


@main.command()
@click.option("--offline", is_flag=True, help="Skip ingesting feeds; build from content/ as it is.")
@click.option("--require-verified", "require", is_flag=False, flag_value="yes", default=None,
              type=click.Choice(["yes", "strict"]),
              help="Refuse to build, naming them, while runnable blocks are failing, out of date or "
                   "not verified yet (=strict: or skipped here too).")
@_queue
@_pass_site
def build(site, offline, require, queue_dsn):
    """Ingest feeds, extract code, render build/docs/ and build site/ with the site's engine
    (mkdocs by default; extra.blogtools.engine in mkdocs.yml: mkdocs, properdocs or zensical).

    Strict: any MkDocs warning fails the build, except those about a post's own content (it comes
    from a feed), which are one warning line per post.
    """
    from blogtools import content, evidence, feeds
    from blogtools import extract as extract_stage
    from blogtools import ingest as ingest_stage
    from blogtools import site as site_stage

    project = site.project.require_site()
    started = time.monotonic()
    _echo_migrated(content.migrate(project.content_dir))
    if not offline and not project.feeds_toml.exists():
        click.echo(f"ingest: no {project.feeds_toml}: the site's pages are its content as it is", err=True)
    elif not offline:
        sources = feeds.load_sources(project.feeds_toml, project.root)
        summary = ingest_stage.ingest(sources, project.content_dir, progress=_progress("Converting entries"), warn=_warn)
        click.echo(f"ingest: {summary.line()}", err=True)
    extracted = extract_stage.extract(project.posts_dir, project.snippets_dir, progress=_progress("Reading posts"))
    click.echo(f"extract: {extracted.line()}", err=True)
    triaged = _triage(project, queue_dsn=queue_dsn)
    click.echo(f"triage: {triaged.line()}", err=True)
    if require:
        refused = evidence.unverified(evidence.states(project, not_triaged=triaged.not_triaged),
                                      strict=require == "strict")
        if refused:
            raise BlogtoolsError(f"--require-verified: {len(refused)} runnable block(s) not verified: "
                                 + "; ".join(refused) + " (run `blogtools test`)")
    click.echo(f"render: {project.content_dir}/ → {project.docs_dir}/", err=True)
    count = site_stage.render(project, triaged.not_triaged)
    click.echo(f"{project.engine} build (strict but for the feeds' content) → {project.site_dir}/", err=True)
    warnings = site_stage.build(project)
    for line in warnings:
        _warn(line)
    noted = f" ({len(warnings)} with warnings from their feed)" if warnings else ""
    pages = len(content.other_pages(project.content_dir))
    built = f"{count} posts{noted}" + (f" and {pages} pages" if pages else "")
    click.echo(f"built {built} into {project.site_dir} in {time.monotonic() - started:.1f} s")


def _echo(line: str) -> None:
    from blogtools import untrusted

    click.echo(untrusted.line(line, limit=1000), err=True)


def _triage(project, ids=(), everything=False, queue_dsn=None, wait=True, collect=False):
    """Triage (the blocks whose verdict is not current), here or on a queue's workers, with its
    progress and summary on stderr, one warning line for the blocks it could not triage (the
    sandbox is unavailable or failed its self-check, say) and one for those the budget left."""
    from blogtools import untrusted, verdicts

    if queue_dsn:
        from blogtools import queue

        summary = queue.triage_site(project, queue_dsn, ids, everything, echo=_echo, wait=wait, collect=collect)
    else:
        summary = verdicts.triage_site(project, ids, everything, echo=_echo)
    if summary.refused:
        _warn(untrusted.line(f"triage refused: {summary.refused}", limit=1000))
    reasons = sorted({summary.not_triaged[ident] for ident in summary.failed})
    if reasons:
        count = len(summary.failed)
        _warn(untrusted.line(f"{count} block{'s' * (count != 1)} not triaged: {reasons[0]}"
                             + (f" (and {len(reasons) - 1} other reasons)" if len(reasons) > 1 else ""), limit=1000))
    if summary.waiting:
        count = len(summary.waiting)
        _warn(f"{count} block{'s' * (count != 1)} left for a later build: {summary.not_triaged[summary.waiting[0]]} "
              "(extra.blogtools.triage_build_seconds and triage_post_seconds in mkdocs.yml)")
    return summary


@main.command("triage")
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--all", "everything", is_flag=True, help="Triage every chosen block again, current or not.")
@_queue
@click.option("--no-wait", is_flag=True, help="With --queue: enqueue the posts and store nothing yet.")
@click.option("--collect", is_flag=True, help="With --queue: store the verdicts the workers have finished, "
                                              "without waiting for the rest.")
@_pass_site
def triage_command(site, ids, everything, queue_dsn, no_wait, collect):
    """Give uncurated blocks a verdict by running them as published, only in the sandbox.

    Without ID, every block. Verdicts (runs, needs-context, illustrative) go to
    snippets/results.json; a block whose verdict is current (same text, same runtime) is not run
    again unless --all; a curated block is skipped. Blocks the budget did not reach are left for a
    later run (exit 0); exit 1 when any block could not be triaged for another reason.
    With --queue, the posts become tasks on a shared Postgres queue that `blogtools worker`s run.
    """
    if (no_wait or collect) and not queue_dsn:
        raise BlogtoolsError("--no-wait and --collect need --queue DSN")
    summary = _triage(site.project, ids, everything, queue_dsn, wait=not (no_wait or collect), collect=collect)
    click.echo(f"triage: {summary.line()}")
    if summary.failed:
        sys.exit(1)


@main.command()
def doctor():
    """Check every ring of the sandbox with canary attacks, as triage does before any block.

    Prints each ring's state; where the sandbox cannot run here, says why and what to do instead.
    Exit 0 when every ring holds, 1 otherwise.
    """
    from blogtools import triage
    from blogtools.sandbox import SandboxUnavailable, selfcheck, unavailable_reason

    reason = unavailable_reason()
    if reason is None:
        try:
            states, seconds = selfcheck.doctor(triage.LIMITS)
        except SandboxUnavailable as exc:
            reason = exc.reason
    if reason is not None:
        click.echo(f"doctor: the sandbox cannot run here: {reason}")
        click.echo(f"doctor: instead: {selfcheck.advice(reason)}")
        sys.exit(1)
    for state in states:
        click.echo(f"doctor: {state.line()}")
    failed = [state.ring for state in states if not state.holds]
    unchecked = [ring for ring in selfcheck.RINGS if ring not in {state.ring for state in states}]
    click.echo(f"doctor: {len(states) - len(failed)} of {len(selfcheck.RINGS)} rings hold"
               + (f"; failed: {', '.join(failed)}" if failed else "")
               + (f"; not checked: {', '.join(unchecked)}" if unchecked else "") + f" ({seconds:.1f} s)")
    if failed or unchecked:
        sys.exit(1)


@main.command()
@click.option("--queue", "queue_dsn", metavar="DSN", required=True,
              help="The Postgres database of the queue (Absurd's schema is installed there if missing).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Tasks (posts) run at once, each with its own warm sandboxes.")
@click.option("--claim-timeout", type=click.IntRange(5, 3600), default=None,
              help="Seconds a claimed task stays this worker's without news (renewed after every block); "
                   "past it another worker retries the task.  [default: 60]")
def worker(queue_dsn, concurrency, claim_timeout):
    """Run triage tasks from a shared Postgres queue (Absurd) until SIGTERM or Ctrl-C.

    Any number of workers, on any machines that reach the database, share the queue that
    `blogtools triage --queue DSN` fills. On SIGTERM a worker claims nothing more and hands its
    running task back after the current block (it is retried); a killed worker's task is retried
    once its claim times out. A worker whose sandbox fails its self-check hands its task back
    unfailed, claims nothing more and exits 1 with the failed ring. Needs blogtools[queue] and
    blogtools[sandbox].
    """
    from blogtools import queue

    count = queue.work(queue_dsn, concurrency=concurrency, claim_timeout=claim_timeout or queue.CLAIM_TIMEOUT,
                       echo=_echo)
    click.echo(f"worker: stopped after {count} task(s)")


@main.command()
@click.option("--dev-addr", "-a", default="127.0.0.1:8000", show_default=True,
              help="Address to serve on.")
@_pass_site
def serve(site, dev_addr):
    """Render build/docs/ from content/ and serve the site with live reload (mkdocs serve).

    An edit in content/, snippets/ (manifest, modules, results.json) or the feeds folder renders the
    pages again, and the browser reloads them.

    SIGINT, SIGTERM and SIGHUP stop the server with it: no mkdocs process outlives this one.
    """
    from blogtools import content
    from blogtools import site as site_stage

    project = site.project.require_site()
    _echo_migrated(content.migrate(project.content_dir))
    count = site_stage.render(project)
    click.echo(f"rendered {count} posts into {project.docs_dir}; starting mkdocs serve", err=True)
    status = site_stage.serve(project, dev_addr, lambda changed: _rebuild(project, changed))
    sys.exit(128 - status if status < 0 else status)


def _rebuild(project, changed: set[Path]) -> None:
    """What `serve` does when sources change: a feed ingested again, posts extracted again (their
    manifest entries follow), then the pages rendered; an error is one warning line, and the
    server goes on with the pages it has."""
    from blogtools import extract as extract_stage
    from blogtools import feeds
    from blogtools import ingest as ingest_stage
    from blogtools import site as site_stage

    def under(folder: Path) -> bool:
        return any(path.is_relative_to(folder) for path in changed)

    try:
        if under(project.feeds_toml.parent):
            sources = feeds.load_sources(project.feeds_toml, project.root)
            click.echo(f"serve: ingest: {ingest_stage.ingest(sources, project.content_dir, warn=_warn).line()}", err=True)
        if under(project.content_dir) or under(project.feeds_toml.parent):
            click.echo(f"serve: extract: {extract_stage.extract(project.posts_dir, project.snippets_dir).line()}", err=True)
        count = site_stage.render(project)
        click.echo(f"serve: rendered {count} posts again ({len(changed)} changed files)", err=True)
    except BlogtoolsError as exc:
        _warn(f"serve: not rendered again: {exc}")


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--feed", "feeds", required=True, multiple=True,
              help="The feed to publish: a file or an http(s) URL; several (repeat it) make a planet of blogs.")
@click.option("--site-url", default="http://127.0.0.1:8000/", show_default=True,
              help="Where the site will be published (its own feed links use it).")
def new(folder, feeds, site_url):
    """Start a new site in FOLDER for someone's feed: mkdocs.yml, feeds/feeds.toml, content/,
    snippets/ and .github/workflows/blogtools.yml (GitHub Actions: test, build, publish to Pages).
    Several --feed make a planet: every blog's posts, each attributed to its blog.

    Then run `blogtools build` in FOLDER.
    """
    from blogtools import scaffold

    name = scaffold.new_site(folder, list(feeds), site_url=site_url)
    click.echo(f"created {folder} for {name!r}: cd {folder} && blogtools build")


_snippets_dir = click.option(
    "--snippets-dir", type=click.Path(file_okay=False, path_type=Path),
    help="Folder of extracted blocks, runnable modules and manifest.toml (default: the site's, snippets/).",
)


@main.command("extract")
@_content_dir
@_snippets_dir
@click.option("--accept", "accept", multiple=True, metavar="ID",
              help="Record block ID's current text as reviewed, promoting its .new file (repeatable); "
                   "an ID whose block is gone is dropped.")
@_pass_site
def extract_command(site, content_dir, snippets_dir, accept):
    """Write every fenced code block of the posts to snippets/ and update snippets/manifest.toml.

    A curated block the essay changed keeps its reviewed file; the new text goes beside it as
    NN-name.ext.new until `--accept ID`. An uncurated block is simply rewritten.
    """
    from blogtools import extract as extract_stage

    project = site.with_overrides(content_dir, snippets_dir)
    summary = extract_stage.extract(project.posts_dir, project.snippets_dir, accept, progress=_progress("Reading posts"))
    for ident in summary.drifted:
        click.echo(f"drift: {ident} changed since it was reviewed; see it with `blogtools review {ident}`, "
                   f"update its runnable form, then `blogtools extract --accept {ident}`", err=True)
    for ident in summary.orphaned:
        click.echo(f"orphaned: {ident} has no block in content any more; `--accept {ident}` drops its entry", err=True)
    click.echo(f"extract: {summary.line()}")


@main.command("review")
@click.argument("snippet_id", required=False, metavar="[ID]")
@_content_dir
@_snippets_dir
@_pass_site
def review_command(site, snippet_id, content_dir, snippets_dir):
    """Show how drifted blocks changed since review: a unified diff from the reviewed text to the essay's.

    Without ID, every drifted block. Accept a change with `blogtools extract --accept ID`.
    """
    from blogtools import manifest, review

    project = site.with_overrides(content_dir, snippets_dir)
    entries = manifest.read(project.snippets_dir)
    if snippet_id is not None and snippet_id not in entries:
        raise BlogtoolsError(f"{snippet_id}: no such entry in {project.snippets_dir / manifest.NAME}")
    chosen = {snippet_id: entries[snippet_id]} if snippet_id else entries
    drifts = review.drifted(project, chosen)
    for drift in drifts.values():
        click.echo(drift.diff(), nl=False)
    if snippet_id and not drifts:
        click.echo(f"review: {snippet_id} has not drifted: its block is the reviewed text")
        return
    accept = " ".join(f"--accept {ident}" for ident in drifts)
    click.echo(f"review: {len(drifts)} drifted" + (f"; accept with `blogtools extract {accept}`" if drifts else ""))


@main.command("snippets")
@_snippets_dir
@click.option("--json", "as_json", is_flag=True, help="Print the entries as a JSON list.")
@_pass_site
def snippets_command(site, snippets_dir, as_json):
    """List the manifest: each block's id, language, its curated status (runnable: its modules or
    tests; illustrative: the reason) or else its triage verdict."""
    import json

    from blogtools import annotate, badges, evidence, manifest, untrusted

    project = site.with_overrides(snippets_dir=snippets_dir)
    entries = manifest.read(project.snippets_dir)
    verdicts = evidence.current_verdicts(evidence.load(project), entries)
    left = evidence.waiting(project, entries)
    if as_json:  # "anchor": the block's id on its post page (…/#code-01), as /examples/ links it
        click.echo(json.dumps([{**entry.as_json(), "status": entry.status if entry.curated else "",
                                "triage": _triage_json(verdicts[entry.id]) if entry.id in verdicts else None,
                                "anchor": annotate.anchor(entry.ordinal if entry.is_block else entry.id.rpartition("/")[2]),
                                **({"not_triaged": evidence.triage_state(None, left[entry.id]).state}
                                   if entry.id in left and entry.id not in verdicts else {})}
                               for entry in entries.values()], indent=2, ensure_ascii=False))
        return
    for entry in entries.values():
        if entry.status == manifest.RUNNABLE:
            status, detail = entry.status, ", ".join(entry.modules) or ", ".join(entry.tests)
        elif entry.curated:
            status, detail = entry.status, entry.reason
        elif entry.id in verdicts:
            stored = verdicts[entry.id]
            found = evidence.triage_state(stored.verdict, since=stored.since)
            status, detail = "triaged", f"{badges.badge(found.state).icon} {found.label}"
        elif entry.id in left:
            status, detail = "-", evidence.triage_state(None, left[entry.id]).label
        else:
            status, detail = "-", badges.headline(evidence.NOT_TRIAGED)
        click.echo(f"{entry.id:<40} {entry.language or '-':<11} {status:<12} {untrusted.line(detail)}")
    runnable = sum(entry.status == manifest.RUNNABLE for entry in entries.values())
    curated = sum(entry.curated for entry in entries.values())
    uncurated = [(len(verdicts), "triaged"), (len(entries) - curated - len(verdicts), "not triaged")]
    click.echo(f"{len(entries)} entries: {runnable} runnable, {curated - runnable} illustrative"
               + "".join(f", {count} {word}" for count, word in uncurated if count))


def _triage_json(stored) -> dict:
    """A triage record for `snippets --json`: the verdict, its evidence state and page label, since when."""
    from blogtools import evidence

    found = evidence.triage_state(stored.verdict, since=stored.since)
    return {**stored.verdict.as_json(), "state": found.state, "label": found.label, "since": stored.since}


@main.command("check")
@_content_dir
@_snippets_dir
@click.option("--json", "as_json", is_flag=True,
              help="Print the counts and each problem (kind, id, path, line, message) as one JSON object.")
@_pass_site
def check_command(site, content_dir, snippets_dir, as_json):
    """Fail (exit 1) naming each block without an entry, drifted text, missing module or test, missing reason."""
    import json

    from blogtools import check as check_stage
    from blogtools import evidence

    project = site.with_overrides(content_dir, snippets_dir)
    try:  # evidence is reported, never a problem: tests run after check refresh it
        states, unreadable = evidence.states(project), None
    except BlogtoolsError as exc:
        states, unreadable = {}, check_stage.Problem("results", str(exc), path=str(evidence.path(project)))
    report = check_stage.check(project.posts_dir, project.snippets_dir, project.root,
                               progress=lambda message: click.echo(f"check: {message}", err=True),
                               verdicts={ident: item.verdict.verdict for ident, item in states.items() if item.verdict})
    report.problems += [unreadable] if unreadable else []
    found = {ident: item for ident, item in states.items() if item.record or item.state == evidence.NOT_VERIFIED}
    if as_json:
        waiting = {ident: item.state for ident, item in states.items()
                   if item.state in (evidence.NOT_TRIAGED_BUDGET, evidence.NOT_TRIAGED_SELF_CHECK)}
        click.echo(json.dumps({**report.as_json(), "evidence": {ident: item.state for ident, item in found.items()},
                               "not_triaged": waiting}, indent=2))
    else:
        click.echo(f"check: evidence: {evidence.counts_phrase(found.values(), 'runnable example')}", err=True)
        for problem in report.problems:
            click.echo(f"problem: {problem}")
        unavailable = sorted(item.label.partition(": ")[2] for item in states.values()
                             if item.state == evidence.NOT_TRIAGED and evidence.UNAVAILABLE in item.label)
        left = [item for item in states.values() if item.state in (evidence.NOT_TRIAGED_BUDGET,
                                                                     evidence.NOT_TRIAGED_SELF_CHECK)]
        if left:
            click.echo(f"check: left by the last triage: {evidence.counts_phrase(left, 'block')}", err=True)
        if report.untriaged and unavailable:
            _warn(f"{report.untriaged} block{'s' * (report.untriaged != 1)} not triaged: {unavailable[0]}")
        elif untriaged := report.untriaged_line():
            click.echo(f"check: {untriaged}")
        click.echo(f"check: {report.line()}")
    if report.problems:
        sys.exit(1)


@main.command("curate")
@click.argument("snippet_id", metavar="ID")
@click.option("--illustrative", "reason", metavar="REASON",
              help="The block is shown, not run: say why (what it needs, what it is for).")
@click.option("--runnable", "modules", multiple=True, metavar="MODULE",
              help="A Python file in snippets/<post>/ that makes the block runnable; the first one's main() "
                   "is what `blogtools run ID` calls (repeatable; needs --tests).")
@click.option("--tests", "tests", multiple=True, metavar="TEST",
              help="A pytest node id, relative to the site's folder, that tests the block "
                   "(repeatable: --tests A --tests B).")
@click.option("--note", "notes", multiple=True, metavar="TEXT",
              help="How the runnable form differs from the published block (repeatable; replaces the notes).")
@click.option("--language", metavar="NAME", help="The block's language, when the page's markup or the guess got it wrong.")
@click.pass_context
def curate_command(ctx, snippet_id, reason, modules, tests, notes, language):
    """Decide block ID in snippets/manifest.toml, then run `blogtools check` (its exit status is check's).

    Illustrative with a reason, or runnable with its modules and tests (the lists given replace the
    entry's), and/or its language. The entry is checked before anything is written: an unknown ID,
    module, test or language is one error line and the manifest stays as it was. Only this entry's
    lines change; comments and every other entry keep their bytes.
    """
    from blogtools import curate, manifest, untrusted

    entry = curate.curate(ctx.find_object(_Site).project, snippet_id, reason=reason, modules=modules,
                          tests=tests, notes=notes, language=language)
    detail = entry.reason if entry.status == manifest.ILLUSTRATIVE else ", ".join(entry.modules + entry.tests)
    click.echo(f"curate: {entry.id} is {entry.status} ({entry.language or 'untagged'}): {untrusted.line(detail)}")
    ctx.invoke(check_command, content_dir=None, snippets_dir=None, as_json=False)


@main.command("test")
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--all", "run_all", is_flag=True, help="Run every chosen entry, current or not.")
@click.option("--time-limit", type=float, cls=_StageDefault, stage_default="blogtools.testrun.DEFAULT_TIME_LIMIT",
              help="Seconds an entry's tests may take; past it they are recorded as failed.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="pytest-xdist workers for the tests (default: one per CPU, at most one per entry; 1: no xdist).")
@_pass_site
def test_command(site, ids, run_all, time_limit, workers):
    """Run the tests of runnable entries and record the evidence in snippets/results.json.

    Without ID, every runnable entry. Only entries with no record, a failure, or a changed
    fingerprint (their block, inputs or lock files) run; --all runs them all. Exit 1 when any failed.
    """
    from blogtools import testrun

    summary = testrun.run_tests(site.project, ids, run_all, time_limit, echo=lambda line: click.echo(line, err=True),
                                workers=workers)
    for ident in summary.failed:
        click.echo(f"failed: {ident}: {summary.ran[ident]}")
    click.echo(f"test: {summary.line()}")
    if summary.failed:
        sys.exit(1)


@main.command("run", context_settings={"ignore_unknown_options": True})
@_snippets_dir
@click.argument("snippet_id")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@_pass_site
def run_command(site, snippets_dir, snippet_id, args):
    """Run the runnable form of SNIPPET_ID (<post>/<NN>, as `blogtools snippets` lists): its module's main().

    ARGS go to main(argv); put `--` before them when one looks like an option of its own, e.g.
    `blogtools run <post>/03 -- "a prompt" --llm anthropic`. A drifted entry is refused until its
    change is reviewed. The module gets the folder for its figures in BLOGTOOLS_FIGURES_DIR
    (<figures>/<post>, under build/ by default).
    """
    from blogtools import check as check_stage
    from blogtools import evidence, manifest, untrusted

    project = site.with_overrides(snippets_dir=snippets_dir)
    entry = manifest.read(project.snippets_dir).get(snippet_id)
    if entry is not None and entry.untriaged:  # nothing curated to run: say what the page says
        found = evidence.states(project)[snippet_id]
        raise BlogtoolsError(f"{snippet_id}: not curated, so there is no runnable form to run; the page says: "
                             f"{untrusted.line(found.label)} (make it runnable in {manifest.NAME} to run it here)")
    result = check_stage.run_snippet(project, snippet_id, args)
    sys.exit(result if isinstance(result, int) else 0)


def register_plugin_commands(group: _Group) -> None:
    """Let each installed ``blogtools.commands`` entry point add commands: its object is called
    with the ``blogtools`` group (as sqlite-utils' ``register_commands`` hook is)."""
    if group.plugin_commands is not None:
        return
    from importlib.metadata import entry_points

    own = set(group.commands)
    group.plugin_commands = frozenset()
    for entry_point in entry_points(group=COMMANDS_ENTRY_POINT):
        entry_point.load()(group)
    group.plugin_commands = frozenset(group.commands) - own
