"""The essay's agent run (2025-10-17-code/03), reproduced: the agent of ``agent.py`` on a prompt.

    blogtools run 2025-10-17-code/03 [-- "<prompt>" [--llm anthropic] [options]]

By default a local Messages API server replays the essay's conversation to the real anthropic SDK
(the prompt must be the essay's), the code runs in the Pyodide sandbox, /network/current-ip answers
the essay's redacted address from a local server, steps are cached in ./agent-cache and the picture
lands in ./output. ``--llm anthropic`` uses the live API (ANTHROPIC_API_KEY) and looks the address
up for real.
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from pathlib import Path

import agent
from agent_script import PROMPT

from blogtools.harness.llm import add_llm_arguments


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line of a run; without arguments, the essay's prompt with the scripted model."""
    parser = argparse.ArgumentParser(prog="blogtools run 2025-10-17-code/03 --", description=__doc__.splitlines()[0])
    parser.add_argument("prompt", nargs="?", default=PROMPT, help="the task (default: the essay's prompt)")
    add_llm_arguments(parser)
    parser.add_argument("--base-url", help="send model requests to this Messages API server (overrides --llm)")
    parser.add_argument("--model-id", default=agent.DEFAULT_MODEL, help="model name in each request")
    parser.add_argument("--task-id", help="cache key prefix; reuse it to resume (default: derived from the prompt)")
    parser.add_argument("--store", choices=("file", "postgres"), default="file", help="where each step is cached")
    parser.add_argument("--cache-dir", type=Path, default=Path("agent-cache"), help="directory of the file store")
    parser.add_argument("--database-url", help="Postgres DSN for --store postgres (default: the harness server)")
    parser.add_argument("--resource", dest="resources", action="append", default=[], metavar="NAME=URL",
                        help="allow /network/NAME in the sandbox, fetched from URL (repeatable)")
    parser.add_argument("--output-dir", type=Path, default=Path("output"), help="where /output files are copied")
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds per code run")
    return parser.parse_args([] if argv is None else argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    resources = agent.parse_resources(args.resources)
    task_id = args.task_id or agent.default_task_id(args.prompt)
    with ExitStack() as stack:
        if "current-ip" not in resources:
            if args.llm == "scripted" and not args.base_url:
                resources["current-ip"] = stack.enter_context(agent.essay_ip_server())
            else:
                resources.update(agent.LIVE_RESOURCES)
        if args.store == "postgres":
            store = stack.enter_context(agent.postgres_store(args.database_url))
        else:
            store = agent.FileStore(args.cache_dir)
        client = stack.enter_context(agent.model_client(args.llm, args.model, args.base_url))
        summary = agent.run_agent(args.prompt, client, store, resources, task_id, args.output_dir,
                                  args.model_id, args.time_limit)
    print(f"\nagent: task {task_id}: {summary.steps} steps ({summary.cached_steps} from the cache), "
          f"{summary.model_requests} model requests, {len(summary.files)} file(s) in {args.output_dir}")


if __name__ == "__main__":
    main()
