"""The essay's sync fetch (2025-10-17-code/01), both forms, against a local server.

The published JavaScript runs as published on Node's worker_threads: sync_fetch.mjs builds two
modules from the extracted block (01-fetch.js), the main-thread half in the class it needs and the
worker half with the ``serialize`` and time limit it lacks; sync_fetch_cli.mjs drives them. The Python form is
``syncfetch.fetch``: an asyncio worker thread does the request while the caller parks.
``main()`` fetches a body and a 404 from a local server with each form and prints the results.
"""

from __future__ import annotations

import json
from pathlib import Path

from syncfetch import FetchError, fetch

from blogtools.errors import BlogtoolsError
from blogtools.harness.http import fixed_responses
from blogtools.harness.node import run_node_tool

HERE = Path(__file__).resolve().parent


def published_fetch(*urls: str, timeout_ms: int = 10000) -> list[dict]:
    """Fetch ``urls`` with the published JavaScript: one URL on Node's main thread, several at once
    from one caller thread each. Returns ``{"url", "ok", "body"|"error"}`` per URL, in order."""
    done = run_node_tool("node", str(HERE / "sync_fetch_cli.mjs"), "--timeout-ms", str(timeout_ms), *urls,
                         capture_output=True, text=True, timeout=60 + timeout_ms / 1000)
    if done.returncode != 0:
        raise BlogtoolsError(f"sync_fetch_cli.mjs exited {done.returncode}: {done.stderr.strip()}")
    return [json.loads(line) for line in done.stdout.splitlines()]


def python_fetch(url: str, timeout: float = 10.0) -> dict:
    """The same result shape from the Python form, ``syncfetch.fetch``."""
    try:
        return {"url": url, "ok": True, "body": fetch(url, timeout).decode()}
    except FetchError as exc:
        return {"url": url, "ok": False, "error": str(exc)}


def main() -> None:
    with fixed_responses({"/hello": (200, b"hello from the host")}) as base:
        urls = [f"{base}/hello", f"{base}/missing"]
        for url in urls:
            print("python     ", json.dumps(python_fetch(url)))
        for result in published_fetch(*urls):
            print("javascript ", json.dumps(result))


if __name__ == "__main__":
    main()
