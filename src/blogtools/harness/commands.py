"""The harness's commands, ``blogtools db`` and ``blogtools llm``, added to the CLI through the
``blogtools.commands`` entry point (:func:`register_commands`). Their services load only when run."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable

import click

from blogtools.errors import BlogtoolsError
from blogtools.harness.options import LLM_HELP, LLM_KINDS, MODEL_HELP


def register_commands(cli: click.Group) -> None:
    """The ``blogtools.commands`` hook: add ``db`` and ``llm`` to the ``blogtools`` group."""
    cli.add_command(db)
    cli.add_command(llm)


def _service(name: str):
    """Import ``blogtools.harness.<name>``; without the harness extra, one clear error naming it."""
    try:
        return importlib.import_module(f"blogtools.harness.{name}")
    except ModuleNotFoundError as exc:
        raise BlogtoolsError(f"{exc.name} is not installed: pip install 'blogtools[harness]'") from None


def llm_options(function: Callable) -> Callable:
    """Click decorator adding ``--llm`` and ``--model``; pass them on to ``make_backend``."""
    function = click.option("--model", "model", type=click.Path(file_okay=False), help=MODEL_HELP)(function)
    return click.option("--llm", "llm", type=click.Choice(LLM_KINDS), default="scripted", show_default=True,
                        help=LLM_HELP)(function)


@click.group()
def llm():
    """The local Anthropic Messages API harness."""


@llm.command("serve")
@llm_options
@click.option("--port", type=int, default=8765, show_default=True, help="port on 127.0.0.1")
def llm_serve(llm, model, port):
    """Serve POST /v1/messages on 127.0.0.1 from the live API (recorded) or a local model."""
    service = _service("llm")
    with service.MessagesServer(service.make_backend(llm, model=model), port=port) as server:
        click.echo(f"serving the Messages API at {server.base_url} (--llm {llm}); Ctrl-C stops", err=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    click.echo(f"served {len(server.requests)} requests, {len(server.errors)} errors", err=True)


@click.group()
def db():
    """The PostgreSQL server the runnable snippets and their tests use.

    BLOGTOOLS_DATABASE_URL (or DATABASE_URL) names an existing server; without one, blogtools runs
    an embedded PostgreSQL 18 whose data lives in a cache directory.
    """


@db.command("url")
def db_url():
    """Print the DSN of the server in use (the embedded one must be running: `blogtools db start`)."""
    postgres = _service("postgres")
    url = postgres.configured_url() or postgres.running_embedded_url()
    if url is None:
        raise BlogtoolsError(
            f"embedded PostgreSQL ({postgres.data_dir()}) is not running: run `blogtools db start`"
        )
    click.echo(url)


@db.command("start")
def db_start():
    """Start the embedded server and keep it running until `blogtools db stop`; print its DSN."""
    postgres = _service("postgres")
    _refuse_when_configured(postgres, "start")
    click.echo(f"starting embedded PostgreSQL in {postgres.data_dir()} ...", err=True)
    click.echo(postgres.start_pinned())


@db.command("stop")
def db_stop():
    """Stop the embedded server (for every process using it)."""
    postgres = _service("postgres")
    _refuse_when_configured(postgres, "stop")
    stopped = postgres.stop_embedded()
    click.echo(f"embedded PostgreSQL {'stopped' if stopped else 'was not running'} ({postgres.data_dir()})")


def _refuse_when_configured(postgres, verb: str) -> None:
    name = postgres.configured_variable()
    if name:
        raise BlogtoolsError(f"{name} is set: blogtools does not {verb} that server, only the embedded one")
