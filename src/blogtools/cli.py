"""The ``blogtools`` command line: one subcommand per stage, feeds → content → snippets → site."""

from __future__ import annotations

import sys
import time
from contextlib import nullcontext
from pathlib import Path

import click

from blogtools import __version__
from blogtools import ingest as ingest_stage
from blogtools import scaffold
from blogtools import site as site_stage
from blogtools.errors import BlogtoolsError


class _Group(click.Group):
    """Turns a BlogtoolsError into one error line on stderr and exit status 1, never a traceback."""

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


def _progress(entries):
    """A progress bar on stderr for long lists, nothing for short ones."""
    if len(entries) < 50:
        return nullcontext(entries)
    return click.progressbar(entries, label="Converting entries", file=sys.stderr)


def _warn(message: str) -> None:
    click.echo(f"blogtools: warning: {message}", err=True)


@main.command()
@click.argument("sources", nargs=-1, metavar="[SOURCE]...")
@click.option("--content-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("content"),
              show_default=True, help="The content folder: pages go to its posts/<slug>.md.")
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

    summary = ingest_stage.ingest(chosen, content_dir, timeout=timeout, progress=_progress,
                                  warn=_warn)
    click.echo(summary.line())


@main.command()
@click.option("--config-file", "-f", default="mkdocs.yml", show_default=True,
              help="The site's mkdocs.yml; content/ and feeds/ sit beside it.")
@click.option("--offline", is_flag=True, help="Skip ingesting feeds; build from content/ as it is.")
def build(config_file, offline):
    """Ingest feeds, extract code, render build/docs/ and build site/ with mkdocs --strict."""
    config = site_stage.load_config(Path(config_file))
    started = time.monotonic()
    if not offline:
        sources = ingest_stage.load_sources(config.feeds_toml)
        summary = ingest_stage.ingest(sources, config.content_dir, progress=_progress, warn=_warn)
        click.echo(f"ingest: {summary.line()}", err=True)
    # Extraction (blogtools.extract) runs here, between ingest and render, once it exists.
    click.echo("render: content/ → build/docs/", err=True)
    count = site_stage.render_site(config)
    click.echo("mkdocs build --strict → site/", err=True)
    site_stage.build(config)
    click.echo(f"built {count} posts into {config.site_dir} in {time.monotonic() - started:.1f} s")


@main.command()
@click.option("--config-file", "-f", default="mkdocs.yml", show_default=True,
              help="The site's mkdocs.yml; content/ and feeds/ sit beside it.")
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
