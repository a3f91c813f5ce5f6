"""The ``blogtools`` command line: one subcommand per stage, feeds → content → snippets → site."""

from __future__ import annotations

import json
import sys
import time
from contextlib import nullcontext
from importlib.metadata import entry_points
from pathlib import Path

import click

from blogtools import __version__, manifest, scaffold
from blogtools import check as check_stage
from blogtools import extract as extract_stage
from blogtools import ingest as ingest_stage
from blogtools import site as site_stage
from blogtools.errors import BlogtoolsError

COMMANDS_ENTRY_POINT = "blogtools.commands"


class _Group(click.Group):
    """Turns a BlogtoolsError (bad input) into one error line on stderr and exit status 1.

    Any other exception is a bug in blogtools and keeps its traceback. ``--help`` lists blogtools'
    own commands first, then those that installed packages add (see :func:`register_plugin_commands`).
    """

    plugin_commands: frozenset[str] = frozenset()

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


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="blogtools")
def main():
    """Essays from RSS/Atom feeds into a static site whose code examples are extracted and tested."""


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
    "--content-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("content"),
    show_default=True, help="The content folder: its posts/<slug>.md are the pages.",
)


_config_file = click.option(
    "--config-file", "-f", default="mkdocs.yml", show_default=True,
    help="The site's mkdocs.yml; content/ and feeds/ sit beside it.",
)


@main.command()
@click.argument("sources", nargs=-1, metavar="[SOURCE]...")
@_content_dir
@click.option("--feeds", "feeds_toml", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("feeds/feeds.toml"), show_default=True,
              help="The list of sources (and their attribution).")
@click.option("--timeout", type=float, default=ingest_stage.DEFAULT_TIMEOUT, show_default=True,
              help="Seconds to wait for a feed URL.")
def ingest(sources, content_dir, feeds_toml, timeout):
    """Turn RSS/Atom feeds into Markdown pages, one per entry.

    SOURCE is a feed file or an http(s) URL; without one, every source in feeds.toml is read.
    Pages of entries that left a feed stay; an unchanged feed writes nothing.
    """
    configured = ingest_stage.load_sources(feeds_toml) if feeds_toml.exists() or not sources else []
    chosen = [ingest_stage.source_for(s, configured) for s in sources] or configured
    if not chosen:
        raise BlogtoolsError(f"{feeds_toml}: lists no [[source]]")

    summary = ingest_stage.ingest(chosen, content_dir, timeout=timeout, progress=_progress("Converting entries"),
                                  warn=_warn)
    click.echo(summary.line())


@main.command()
@_config_file
@click.option("--offline", is_flag=True, help="Skip ingesting feeds; build from content/ as it is.")
def build(config_file, offline):
    """Ingest feeds, extract code, render build/docs/ and build site/ with mkdocs --strict."""
    config = site_stage.load_config(Path(config_file))
    started = time.monotonic()
    if not offline:
        sources = ingest_stage.load_sources(config.feeds_toml)
        summary = ingest_stage.ingest(sources, config.content_dir, progress=_progress("Converting entries"), warn=_warn)
        click.echo(f"ingest: {summary.line()}", err=True)
    extracted = extract_stage.extract(config.content_dir, config.snippets_dir, progress=_progress("Reading posts"))
    click.echo(f"extract: {extracted.line()}", err=True)
    click.echo("render: content/ → build/docs/", err=True)
    count = site_stage.render_site(config)
    click.echo("mkdocs build --strict → site/", err=True)
    site_stage.build(config)
    click.echo(f"built {count} posts into {config.site_dir} in {time.monotonic() - started:.1f} s")


@main.command()
@_config_file
@click.option("--dev-addr", "-a", default="127.0.0.1:8000", show_default=True,
              help="Address to serve on.")
def serve(config_file, dev_addr):
    """Render build/docs/ from content/ and serve the site with live reload (mkdocs serve)."""
    config = site_stage.load_config(Path(config_file))
    count = site_stage.render_site(config)
    click.echo(f"rendered {count} posts into {config.docs_dir}; starting mkdocs serve", err=True)
    site_stage.serve(config, dev_addr)


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--feed", "feed", required=True, help="The feed to publish: a file or an http(s) URL.")
@click.option("--site-url", default="http://127.0.0.1:8000/", show_default=True,
              help="Where the site will be published (its own feed links use it).")
def new(folder, feed, site_url):
    """Start a new site in FOLDER for someone's feed: mkdocs.yml, feeds/feeds.toml, content/.

    Then run `blogtools build` in FOLDER.
    """
    name = scaffold.new_site(folder, feed, site_url=site_url)
    click.echo(f"created {folder} for {name!r}: cd {folder} && blogtools build")


_snippets_dir = click.option(
    "--snippets-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("snippets"),
    show_default=True, help="Folder of extracted blocks, runnable modules and manifest.toml.",
)


@main.command("extract")
@_content_dir
@_snippets_dir
@click.option("--accept", "accept", multiple=True, metavar="ID",
              help="Record block ID's current text as reviewed (repeatable); an ID whose block is gone is dropped.")
def extract_command(content_dir, snippets_dir, accept):
    """Write every fenced code block of the posts to snippets/ and update snippets/manifest.toml."""
    summary = extract_stage.extract(content_dir, snippets_dir, accept, progress=_progress("Reading posts"))
    for ident in summary.drifted:
        click.echo(f"drift: {ident} changed since it was reviewed; update its runnable form, then "
                   f"`blogtools extract --accept {ident}`", err=True)
    for ident in summary.orphaned:
        click.echo(f"orphaned: {ident} has no block in content any more; `--accept {ident}` drops its entry", err=True)
    click.echo(f"extract: {summary.line()}")


@main.command("snippets")
@_snippets_dir
@click.option("--json", "as_json", is_flag=True, help="Print the entries as a JSON list.")
def snippets_command(snippets_dir, as_json):
    """List the manifest: each block's id, language, status and its modules or reason."""
    entries = list(manifest.read(snippets_dir).values())
    if as_json:
        click.echo(json.dumps([entry.as_json() for entry in entries], indent=2))
        return
    for entry in entries:
        detail = ", ".join(entry.modules) or ", ".join(entry.tests) if entry.status == manifest.RUNNABLE else entry.reason
        click.echo(f"{entry.id:<40} {entry.language or '-':<11} {entry.status:<12} {detail}")
    runnable = sum(entry.status == manifest.RUNNABLE for entry in entries)
    click.echo(f"{len(entries)} entries: {runnable} runnable, {len(entries) - runnable} illustrative")


@main.command("check")
@_content_dir
@_snippets_dir
def check_command(content_dir, snippets_dir):
    """Fail (exit 1) naming each block without an entry, drifted text, missing module or test, missing reason."""
    report = check_stage.check(content_dir, snippets_dir, progress=lambda message: click.echo(f"check: {message}", err=True))
    for problem in report.problems:
        click.echo(f"problem: {problem}")
    click.echo(f"check: {report.line()}")
    if report.problems:
        sys.exit(1)


@main.command("run", context_settings={"ignore_unknown_options": True})
@_snippets_dir
@click.argument("snippet_id")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run_command(snippets_dir, snippet_id, args):
    """Run the runnable form of SNIPPET_ID (<post>/<NN>, as `blogtools snippets` lists): its module's main().

    ARGS go to main(argv); put `--` before them when one looks like an option of its own, e.g.
    `blogtools run <post>/03 -- "a prompt" --llm anthropic`.
    """
    result = check_stage.run_snippet(snippets_dir, snippet_id, args)
    sys.exit(result if isinstance(result, int) else 0)


def register_plugin_commands(group: _Group) -> None:
    """Let each installed ``blogtools.commands`` entry point add commands: its object is called
    with the ``blogtools`` group (as sqlite-utils' ``register_commands`` hook is)."""
    own = set(group.commands)
    for entry_point in entry_points(group=COMMANDS_ENTRY_POINT):
        entry_point.load()(group)
    group.plugin_commands = frozenset(group.commands) - own


register_plugin_commands(main)
