"""The essay's sync fetch (2025-10-17-code/01), both forms, against a local server.

The published JavaScript runs as published on Node's worker_threads: its published form
(blogtools.published) is the reviewed block (01-fetch.js) inside fetch.prelude.mjs (the class
around its method, the ``serialize`` and time limit its worker half lacks), fetch.patch (the end of
that class) and fetch.epilogue.mjs (a command line that drives it). The Python form is
``syncfetch.fetch``: an asyncio worker thread does the request while the caller parks.
``main()`` fetches a body and a 404 from a local server with each form and prints the results.
"""

from __future__ import annotations

import json
from pathlib import Path

from syncfetch import FetchError, fetch

from blogtools import manifest, project
from blogtools.errors import BlogtoolsError
from blogtools.harness import forms
from blogtools.harness.http import fixed_responses

SITE = project.load(start=Path(__file__).resolve().parent)


def published_fetch(*urls: str, timeout_ms: int = 10000) -> list[dict]:
    """Fetch ``urls`` with the published JavaScript: one URL on Node's main thread, several at once
    from one caller thread each. Returns ``{"url", "ok", "body"|"error"}`` per URL, in order."""
    entry = manifest.read(SITE.snippets_dir)["2025-10-17-code/01"]
    done = forms.run(SITE, entry, ["--timeout-ms", str(timeout_ms), *urls], timeout=60 + timeout_ms / 1000)
    if not done.ok:
        raise BlogtoolsError(f"the published fetch exited {done.returncode}: {done.error}")
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
