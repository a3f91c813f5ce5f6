"""The 2025-10-17 essay's agent: a model that writes throwaway Python, run in the Pyodide sandbox,
in a loop whose every step is cached under ``<task id>:<step>`` so a crashed run resumes.

``agent_loop`` is the essay's ``myAgenticLoop``; a step (``AgentStep``) is one model request plus
the ``execute_python`` calls it asks for. The state after each step — the conversation, the
/output files, whether the model ended its turn, a record of the step for printing — is what the
store keeps: ``FileStore`` (``agent-cache/task-<id>-step-<n>.json``, as in the essay's transcript)
or ``PostgresStore`` (one row per key).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from agent_script import ESSAY_IP_ADDRESS, essay_turns
from syncfetch import FetchError, fetch

from blogtools.errors import BlogtoolsError
from blogtools.files import write_atomic
from blogtools.harness.http import fixed_responses
from blogtools.harness.llm import MessagesServer, ReplayBackend, make_backend
from blogtools.sandbox import Limits, Sandbox, Unit, write_output

if TYPE_CHECKING:  # imported where a model is asked: block 02's loop and a run answered from the cache need no SDK
    import anthropic

MAX_STEPS = 10
DEFAULT_MODEL = "claude-sonnet-4-5"
MAX_TOKENS = 8192

SYSTEM_PROMPT = """\
You solve the user's task by writing Python and running it with the execute_python tool. The code \
runs in a sandbox (Pyodide, CPython on WebAssembly) with the standard library and pypng, and no \
network. Files: /network/<name> are read-only resources fetched for you when read \
(/network/current-ip holds the machine's current IP address); /data holds read-only inputs; files \
written to /output are handed to the user. Each call starts with fresh globals."""

EXECUTE_PYTHON_TOOL = {
    "name": "execute_python",
    "description": "Run Python code in the sandbox; returns its stdout, stderr and success.",
    "input_schema": {
        "type": "object",
        "properties": {"code": {"type": "string", "description": "the Python source to run"}},
        "required": ["code"],
    },
}


# --- the step cache -------------------------------------------------------------------------------


class StepStore(Protocol):
    """Where step states live, by cache key ``<task id>:<step>``."""

    def load(self, key: str) -> dict | None:
        """The state saved under ``key``, or None."""

    def save(self, key: str, state: dict) -> None:
        """Save ``state`` under ``key``."""

    def locate(self, key: str) -> str:
        """Where the state for ``key`` lives, for the log line."""


def _split_key(key: str) -> tuple[str, int]:
    task_id, _, step = key.rpartition(":")
    if not task_id or not step.isdigit():
        raise BlogtoolsError(f"cache key {key!r}: expected '<task id>:<step number>'")
    return task_id, int(step)


class FileStore:
    """One JSON file per step: ``<directory>/task-<id>-step-<n>.json``, written atomically."""

    def __init__(self, directory: Path | str = "agent-cache"):
        self.directory = Path(directory)

    def path(self, key: str) -> Path:
        """The JSON file for ``key``; a task id other than letters, digits, '-' and '_' is an error."""
        task_id, step = _split_key(key)
        if not task_id.replace("-", "").replace("_", "").isalnum():
            raise BlogtoolsError(f"task id {task_id!r}: use letters, digits, '-' and '_' only")
        return self.directory / f"task-{task_id}-step-{step}.json"

    def load(self, key: str) -> dict | None:
        """The state saved under ``key``, or None; a file that is not JSON is an error."""
        path = self.path(key)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise BlogtoolsError(f"{path}: not a JSON step state ({exc})") from None

    def save(self, key: str, state: dict) -> None:
        """Write ``state`` as the JSON file for ``key`` (temp file, then replace)."""
        write_atomic(self.path(key), json.dumps(state, ensure_ascii=False, indent=1).encode("utf-8"))

    def locate(self, key: str) -> str:
        """The JSON file's path."""
        return str(self.path(key))


class PostgresStore:
    """One row per step in ``agent_step_cache (cache_key, state jsonb, saved_at)``."""

    TABLE_SQL = """
        CREATE TABLE IF NOT EXISTS agent_step_cache (
            cache_key text PRIMARY KEY,
            state jsonb NOT NULL,
            saved_at timestamptz NOT NULL DEFAULT now()
        )"""

    def __init__(self, dsn: str):
        import psycopg

        try:
            self._conn = psycopg.connect(dsn, autocommit=True)
        except psycopg.OperationalError as exc:
            raise BlogtoolsError(f"agent cache database: cannot connect: {exc}") from None
        self._conn.execute(self.TABLE_SQL)

    def load(self, key: str) -> dict | None:
        """The state in the row for ``key``, or None."""
        _split_key(key)
        row = self._conn.execute("SELECT state FROM agent_step_cache WHERE cache_key = %s", (key,)).fetchone()
        return None if row is None else row[0]

    def save(self, key: str, state: dict) -> None:
        """Insert or replace the row for ``key``."""
        from psycopg.types.json import Jsonb

        _split_key(key)
        self._conn.execute(
            "INSERT INTO agent_step_cache (cache_key, state) VALUES (%s, %s) ON CONFLICT (cache_key) "
            "DO UPDATE SET state = EXCLUDED.state, saved_at = now()",
            (key, Jsonb(state)),
        )

    def locate(self, key: str) -> str:
        """The table and key, for the log line."""
        return f"postgres agent_step_cache[{key}]"

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()


# --- the loop -------------------------------------------------------------------------------------


@dataclass
class StepReport:
    """What ``agent_loop`` tells its caller after each step."""

    step: int
    state: dict
    cached: bool
    where: str


def initial_state(prompt: str) -> dict:
    """The state before step 1: the prompt as the first user message."""
    return {"prompt": prompt, "messages": [{"role": "user", "content": prompt}], "output": {},
            "done": False, "record": None}


def agent_loop(
    task_id: str,
    state: dict,
    run_step: Callable[[dict], dict],
    store: StepStore,
    max_steps: int = MAX_STEPS,
    report: Callable[[StepReport], None] = lambda report: None,
) -> dict:
    """Run ``run_step`` until the state says done or ``max_steps``; each step's result is cached
    under ``f"{task_id}:{step}"`` and taken from the cache when present (steps count from 1)."""
    for step in range(1, max_steps + 1):
        key = f"{task_id}:{step}"
        cached = store.load(key)
        if cached is not None:
            if cached.get("prompt") != state.get("prompt"):
                raise BlogtoolsError(f"step cache {key}: saved for another prompt ({cached.get('prompt')!r})")
            state = cached
        else:
            state = run_step(state)
            store.save(key, state)
        report(StepReport(step, state, cached is not None, store.locate(key)))
        if state["done"]:
            break
    return state


@dataclass
class AgentStep:
    """One agentic step: ask the model, run the ``execute_python`` calls it makes in the sandbox.

    The task is one trust unit of the sandbox, started on the first tool call (a run answered
    from the cache never starts it) with /output as the state before that step, so a resumed
    run sees earlier files. ``close`` ends the sandbox too unless ``shared`` (its owner ends it).
    """

    client: anthropic.Anthropic
    sandbox: Callable[[], Sandbox]
    model: str = DEFAULT_MODEL
    shared: bool = False
    requests: int = 0
    _sandbox: Sandbox | None = field(default=None, repr=False)
    _unit: Unit | None = field(default=None, repr=False)

    def __call__(self, state: dict) -> dict:
        import anthropic

        state = copy.deepcopy(state)
        self.requests += 1
        try:
            response = self.client.messages.create(
                model=self.model, max_tokens=MAX_TOKENS, system=SYSTEM_PROMPT,
                tools=[EXECUTE_PYTHON_TOOL], messages=state["messages"],
            )
        except anthropic.APIError as exc:
            raise BlogtoolsError(f"model request for step {len(state['messages']) // 2 + 1} failed: {exc}") from None
        content = [block.to_dict() for block in response.content]
        state["messages"].append({"role": "assistant", "content": content})
        record = {"stop_reason": response.stop_reason, "tool_calls": [], "text": ""}
        results = []
        for block in content:
            if block["type"] == "text":
                record["text"] += block["text"]
            elif block["type"] == "tool_use":
                result = self._execute(block, state)
                record["tool_calls"].append({"name": block["name"], "input": block["input"], "result": result})
                results.append({"type": "tool_result", "tool_use_id": block["id"],
                                "content": json.dumps(result, ensure_ascii=False), "is_error": not result["success"]})
        if results:
            state["messages"].append({"role": "user", "content": results})
        state["record"] = record
        state["done"] = response.stop_reason != "tool_use"
        return state

    def _execute(self, block: dict, state: dict) -> dict:
        code = block["input"].get("code") if isinstance(block["input"], dict) else None
        if block["name"] != EXECUTE_PYTHON_TOOL["name"] or not isinstance(code, str):
            return {"stdout": "", "stderr": f"unknown tool call {block['name']} {block['input']!r}", "success": False}
        if self._unit is None:
            self._sandbox = self.sandbox()
            output = {f"output/{name}": data for name, data in decode_files(state["output"]).items()}
            self._unit = self._sandbox.unit(output)
        result = self._unit.run(code)
        state["output"] = encode_files(result.output_files)
        return {"stdout": result.stdout, "stderr": result.stderr, "success": result.success}

    def close(self) -> None:
        """End the task's sandbox unit, if a tool call started one (and its sandbox, unless shared)."""
        if self._unit is not None:
            self._unit.close()
        if self._sandbox is not None and not self.shared:
            self._sandbox.close()


def encode_files(files: dict[str, bytes]) -> dict[str, str]:
    """/output files as JSON-safe base64 text."""
    return {path: base64.b64encode(data).decode("ascii") for path, data in sorted(files.items())}


def decode_files(files: dict[str, str]) -> dict[str, bytes]:
    """The inverse of ``encode_files``."""
    return {path: base64.b64decode(data) for path, data in files.items()}


# --- printing, as in the essay's transcript ---------------------------------------------------------


def format_step(report: StepReport) -> str:
    """The transcript lines for one step (``[Cache] Saved`` or ``[Cache] Loaded``)."""
    record = report.state["record"]
    lines = [f"Step {report.step}:", f"Stop reason: {record['stop_reason']}"]
    for call in record["tool_calls"]:
        lines.append(f"Tool call: {call['name']} {json.dumps(call['input'], ensure_ascii=False, indent=2)}")
        lines.append(f"Tool result: {json.dumps(call['result'], ensure_ascii=False, indent=2)}")
    if report.state["done"]:
        lines += ["", f"Final result: {record['text']}"]
    verb = "Loaded state from" if report.cached else "Saved state to"
    lines.append(f"[Cache] {verb}: {report.where}")
    return "\n".join(lines) + "\n"


# --- a whole run, for agent_run.main ------------------------------------------------------------------------

LIVE_RESOURCES = {"current-ip": "https://api.ipify.org"}


def _project_file(relative: str, env_var: str) -> Path:
    """Find ``relative`` under $env_var, the working directory or a parent of this package."""
    if os.environ.get(env_var):
        path = Path(os.environ[env_var])
        if not path.exists():
            raise BlogtoolsError(f"{path} (from ${env_var}): no such directory")
        return path
    for base in [Path.cwd(), *Path(__file__).resolve().parents]:
        if (base / relative).exists():
            return base / relative
    raise BlogtoolsError(f"{relative} not found (set {env_var}, or run `make test` to install it)")


def essay_wheels() -> list[bytes]:
    """The pure-Python wheels the essay's sandbox offers (pypng), downloaded into ``.cache/wheels``."""
    return [path.read_bytes() for path in sorted(_project_file(".cache/wheels", "BLOGTOOLS_WHEEL_DIR").glob("*.whl"))]


def resource_reader(resources: dict[str, str], timeout: float = 10.0) -> Callable[[str], bytes]:
    """The sandbox's ``on_read`` for the essay's /network allowlist: a name the allowlist gives is
    fetched afresh on every read; the sandbox never sees the URL."""

    def read(name: str) -> bytes:
        url = resources.get(name)
        if url is None:
            raise FileNotFoundError(f"no such resource (allowed: {', '.join(sorted(resources)) or 'none'})")
        try:
            return fetch(url, timeout=timeout)
        except FetchError as exc:
            raise OSError(f"fetch failed: {exc}") from None

    return read


def essay_sandbox(resources: dict[str, str], time_limit: float = 30.0, wheels: list[bytes] | None = None) -> Sandbox:
    """The sandbox the essay's agent runs its code in: the allowlist as ``on_read``, pypng."""
    limits = Limits(cpu_seconds=time_limit, wall_seconds=2 * time_limit)
    return Sandbox(limits, on_read=resource_reader(resources), wheels=essay_wheels() if wheels is None else wheels)


def default_task_id(prompt: str) -> str:
    """A task id derived from the prompt, so the same prompt resumes the same cache."""
    return hashlib.sha256(prompt.encode()).hexdigest()[:8]


def parse_resources(pairs: tuple[str, ...]) -> dict[str, str]:
    """``NAME=URL`` options as the /network allowlist."""
    resources = {}
    for pair in pairs:
        name, sep, url = pair.partition("=")
        if not sep or not name or "/" in name or not url.startswith(("http://", "https://")):
            raise BlogtoolsError(f"--resource {pair!r}: expected NAME=http(s)://URL (NAME without '/')")
        resources[name] = url
    return resources


@contextlib.contextmanager
def essay_ip_server() -> Iterator[str]:
    """A local stand-in for the IP lookup of a scripted run: answers the essay's redacted address."""
    with fixed_responses({"/ip": (200, ESSAY_IP_ADDRESS.encode())}) as base_url:
        yield f"{base_url}/ip"


@contextlib.contextmanager
def model_client(llm: str, local_model: str | None, base_url: str | None) -> Iterator[anthropic.Anthropic]:
    """The anthropic SDK client for ``--llm``: the essay's conversation replayed by a local Messages
    server (scripted), the live API (anthropic), a local transformers model, or ``base_url``."""
    import anthropic

    if base_url:
        yield anthropic.Anthropic(base_url=base_url, api_key=os.environ.get("ANTHROPIC_API_KEY", "local"))
    elif llm == "anthropic":
        if not os.environ.get("ANTHROPIC_API_KEY"):
            raise BlogtoolsError("--llm anthropic: ANTHROPIC_API_KEY is not set")
        yield anthropic.Anthropic()
    else:
        backend = ReplayBackend(essay_turns()) if llm == "scripted" else make_backend(llm, model=local_model)
        with MessagesServer(backend) as server:
            yield server.client()


@contextlib.contextmanager
def postgres_store(dsn: str | None) -> Iterator[PostgresStore]:
    """A PostgresStore on ``dsn``, or on the blogtools Postgres server (configured or embedded)."""
    if dsn is None:
        from blogtools.harness import postgres

        dsn = postgres.server_url()
    store = PostgresStore(dsn)
    try:
        yield store
    finally:
        store.close()


@dataclass
class RunSummary:
    """What ``run_agent`` did: steps in all, those answered from the cache, model requests, files written."""

    steps: int
    cached_steps: int
    model_requests: int
    files: list[Path]


def run_agent(
    prompt: str,
    client: anthropic.Anthropic,
    store: StepStore,
    resources: dict[str, str],
    task_id: str,
    output_dir: Path = Path("output"),
    model: str = DEFAULT_MODEL,
    time_limit: float = 30.0,
    echo: Callable[[str], None] = print,
    sandbox: Sandbox | None = None,
) -> RunSummary:
    """Run the agent on ``prompt``, printing each step as the essay's transcript does, then copy
    the final /output files into ``output_dir``. The code runs in a unit of ``sandbox`` when given
    (one the caller started and ends, serving its own /network allowlist: several runs of one
    process share its pre-started interpreters, each task still a fresh one), else of an
    ``essay_sandbox(resources, time_limit)`` made at the first tool call and ended after the run."""
    echo(f"Prompt: {prompt}\n")
    if sandbox is None:
        step = AgentStep(client, lambda: essay_sandbox(resources, time_limit), model)
    else:
        step = AgentStep(client, lambda: sandbox, model, shared=True)
    reports: list[StepReport] = []

    def report(item: StepReport) -> None:
        reports.append(item)
        echo(format_step(item))

    try:
        state = agent_loop(task_id, initial_state(prompt), step, store, report=report)
    finally:
        step.close()
    echo(f"Total steps: {len(reports)}\n")
    files = write_output(decode_files(state["output"]), output_dir)
    echo(f"Making {len(files)} file(s) available in ./{output_dir}:")
    for path in files:
        echo(f"  ✓ {path.relative_to(output_dir).as_posix()}")
    if not state["done"]:
        raise BlogtoolsError(f"task {task_id}: no final answer within {MAX_STEPS} steps")
    return RunSummary(len(reports), sum(r.cached for r in reports), step.requests, files)
