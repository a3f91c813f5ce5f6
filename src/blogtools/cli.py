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
