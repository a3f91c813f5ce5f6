"""The ``blogtools`` command line: one subcommand per stage, feeds → content → snippets → site."""

from __future__ import annotations

import sys
import threading

import click

from blogtools import __version__
from blogtools.errors import BlogtoolsError
from blogtools.harness.llm import llm_options


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
def llm():
    """The local Anthropic Messages API harness."""


@llm.command("serve")
@llm_options
@click.option("--port", type=int, default=8765, show_default=True, help="port on 127.0.0.1")
def llm_serve(llm, model, port):
    """Serve POST /v1/messages on 127.0.0.1 from the live API (recorded) or a local model."""
    from blogtools.harness.llm import MessagesServer, make_backend

    with MessagesServer(make_backend(llm, model=model), port=port) as server:
        click.echo(f"serving the Messages API at {server.base_url} (--llm {llm}); Ctrl-C stops", err=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    click.echo(f"served {len(server.requests)} requests, {len(server.errors)} errors", err=True)
