"""The ``blogtools`` command line: one subcommand per stage, feeds → content → snippets → site."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

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


@main.command()
@click.argument("prompt")
@llm_options
@click.option("--base-url", help="Send model requests to this Messages API server (overrides --llm).")
@click.option("--model-id", default="claude-sonnet-4-5", show_default=True, help="Model name in each request.")
@click.option("--task-id", help="Cache key prefix (default: derived from the prompt); reuse it to resume.")
@click.option("--store", "store_kind", type=click.Choice(["file", "postgres"]), default="file", show_default=True,
              help="Where each step's state is cached.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("agent-cache"),
              show_default=True, help="Directory of the file store.")
@click.option("--database-url", help="Postgres DSN for --store postgres (default: the blogtools db server).")
@click.option("--resource", "resources", multiple=True, metavar="NAME=URL",
              help="Allow /network/NAME in the sandbox, fetched from URL (repeatable).")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("output"),
              show_default=True, help="Where the sandbox's /output files are copied at the end.")
@click.option("--time-limit", type=float, default=30.0, show_default=True, help="Seconds per code run.")
def agent(prompt, llm, model, base_url, model_id, task_id, store_kind, cache_dir, database_url, resources,
          output_dir, time_limit):
    """Run the code-interpreter agent of the 2025-10-17 essay on PROMPT.

    The model writes Python that runs in a Pyodide sandbox; every step is cached, so a run that
    was interrupted resumes where it stopped. By default a local server replays the essay's
    conversation (the prompt must be the essay's) and /network/current-ip answers the essay's
    redacted address; --llm anthropic uses the live API (ANTHROPIC_API_KEY).
    """
    from blogtools import agent as agent_module

    resources = agent_module.parse_resources(resources)
    task_id = task_id or agent_module.default_task_id(prompt)
    with contextlib.ExitStack() as stack:
        if "current-ip" not in resources:
            if llm == "scripted" and not base_url:
                resources["current-ip"] = stack.enter_context(agent_module.essay_ip_server())
            else:
                resources.update(agent_module.LIVE_RESOURCES)
        if store_kind == "postgres":
            store = stack.enter_context(agent_module.postgres_store(database_url))
        else:
            store = agent_module.FileStore(cache_dir)
        client = stack.enter_context(agent_module.model_client(llm, model, base_url))
        summary = agent_module.run_agent(prompt, client, store, resources, task_id, output_dir, model_id,
                                         time_limit, echo=click.echo)
    click.echo(f"\nblogtools agent: task {task_id}: {summary.steps} steps ({summary.cached_steps} from the cache), "
               f"{summary.model_requests} model requests, {len(summary.files)} file(s) in {output_dir}")
