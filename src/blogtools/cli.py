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


@main.group()
def db():
    """The PostgreSQL server the runnable snippets and their tests use.

    BLOGTOOLS_DATABASE_URL (or DATABASE_URL) names an existing server; without one, blogtools runs
    an embedded PostgreSQL 18 whose data lives in a cache directory.
    """


@db.command("url")
def db_url():
    """Print the DSN of the server in use (the embedded one must be running: `blogtools db start`)."""
    from blogtools.harness import postgres

    url = postgres.configured_url() or postgres.running_embedded_url()
    if url is None:
        raise BlogtoolsError(
            f"embedded PostgreSQL ({postgres.data_dir()}) is not running: run `blogtools db start`"
        )
    click.echo(url)


@db.command("start")
def db_start():
    """Start the embedded server and keep it running until `blogtools db stop`; print its DSN."""
    from blogtools.harness import postgres

    _refuse_when_configured(postgres, "start")
    click.echo(f"starting embedded PostgreSQL in {postgres.data_dir()} ...", err=True)
    click.echo(postgres.start_pinned())


@db.command("stop")
def db_stop():
    """Stop the embedded server (for every process using it)."""
    from blogtools.harness import postgres

    _refuse_when_configured(postgres, "stop")
    stopped = postgres.stop_embedded()
    click.echo(f"embedded PostgreSQL {'stopped' if stopped else 'was not running'} ({postgres.data_dir()})")


def _refuse_when_configured(postgres, verb: str) -> None:
    name = postgres.configured_variable()
    if name:
        raise BlogtoolsError(f"{name} is set: blogtools does not {verb} that server, only the embedded one")
