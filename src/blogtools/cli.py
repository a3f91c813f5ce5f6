"""The ``blogtools`` command line: one subcommand per stage, feeds → content → snippets → site."""

from __future__ import annotations

import sys

import click

from blogtools import __version__
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


def _site_config(config_file: str):
    from pathlib import Path

    from blogtools import site

    return site.load_config(Path(config_file))


@main.command()
@click.option("--config-file", "-f", default="mkdocs.yml", show_default=True,
              help="The site's mkdocs.yml; content/ and feeds/ sit beside it.")
@click.option("--offline", is_flag=True, help="Skip ingesting feeds; build from content/ as it is.")
def build(config_file, offline):
    """Ingest feeds, extract code, render build/docs/ and build site/ with mkdocs --strict."""
    import time

    from blogtools import site

    config = _site_config(config_file)
    started = time.monotonic()
    if not offline:
        from blogtools import ingest

        ingest.ingest_sources(config.feeds_toml, config.content_dir)
    # Extraction (blogtools.extract) runs here, between ingest and render, once it exists.
    click.echo("render: content/ → build/docs/", err=True)
    count = site.render_site(config)
    click.echo("mkdocs build --strict → site/", err=True)
    site.build(config)
    click.echo(f"built {count} posts into {config.site_dir} in {time.monotonic() - started:.1f} s")


@main.command()
@click.option("--config-file", "-f", default="mkdocs.yml", show_default=True,
              help="The site's mkdocs.yml; content/ and feeds/ sit beside it.")
@click.option("--dev-addr", "-a", default="127.0.0.1:8000", show_default=True,
              help="Address to serve on.")
def serve(config_file, dev_addr):
    """Render build/docs/ from content/ and serve the site with live reload (mkdocs serve)."""
    from blogtools import site

    config = _site_config(config_file)
    count = site.render_site(config)
    click.echo(f"rendered {count} posts into {config.docs_dir}; starting mkdocs serve", err=True)
    site.serve(config, dev_addr)
