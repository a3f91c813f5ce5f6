"""The sync fetch in both forms, Python (syncfetch.py) and the published JavaScript on Node's
worker_threads, against a local HTTP server: body, HTTP errors, a server that never answers, and
20 callers at once (the server answers none of them until all 20 are in flight)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from local_server import LocalServer
from sync_fetch import published_fetch
from syncfetch import FetchError, SyncFetcher

from blogtools import manifest, project
from blogtools.errors import BlogtoolsError
from blogtools.harness import forms

HERE = Path(__file__).resolve().parent


@pytest.fixture
def server():
    with LocalServer(barrier_parties=20) as srv:
        yield srv


@pytest.fixture
def fetcher():
    f = SyncFetcher()
    yield f
    f.close()


# --- Python -----------------------------------------------------------------------------------


def test_python_fetch_returns_the_body(server, fetcher):
    assert fetcher.fetch(f"{server.url}/body/hello") == b"body hello"


@pytest.mark.parametrize("status", [404, 500])
def test_python_fetch_raises_with_the_status(server, fetcher, status):
    with pytest.raises(FetchError, match=f"HTTP {status}") as info:
        fetcher.fetch(f"{server.url}/status/{status}")
    assert info.value.status == status


def test_python_fetch_times_out_on_a_server_that_never_answers(server, fetcher):
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out after 0.5 s") as info:
        fetcher.fetch(f"{server.url}/hang", timeout=0.5)
    assert info.value.status is None
    assert time.monotonic() - started < 5
    # The worker is still serving after a timeout.
    assert fetcher.fetch(f"{server.url}/body/after") == b"body after"


def test_python_fetch_reports_a_refused_connection(fetcher):
    with LocalServer() as closed:
        url = closed.url
    with pytest.raises(FetchError, match=url.replace(".", r"\.")) as info:
        fetcher.fetch(f"{url}/body/x", timeout=2)
    assert info.value.status is None


def test_python_fetch_serves_20_callers_at_once(server, fetcher):
    results: dict[int, bytes | Exception] = {}

    def call(i: int) -> None:
        try:
            results[i] = fetcher.fetch(f"{server.url}/barrier/{i}", timeout=20)
        except Exception as exc:  # recorded and asserted below
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {i: f"body {i}".encode() for i in range(20)}


# --- the published JavaScript -----------------------------------------------------------------


@pytest.mark.node
def test_js_runs_the_reviewed_block_itself(server, tmp_path):
    """What runs is the block's reviewed text: when the essay changes it, the run is refused until
    the change is accepted, and then the changed text is what runs."""
    for name in ("content", "snippets"):
        shutil.copytree(HERE.parents[1] / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(HERE.parents[1] / "mkdocs.yml", tmp_path / "mkdocs.yml")
    (tmp_path / "node_modules").symlink_to(HERE.parents[1] / "node_modules")
    page = tmp_path / "content/posts/2025-10-17-code.md"
    page.write_text(page.read_text().replace("throw new Error(`HTTP ${r.status}`)", "throw new Error(`edited ${r.status}`)"))
    site = project.load(start=tmp_path)
    url = f"{server.url}/status/404"
    with pytest.raises(BlogtoolsError, match="2025-10-17-code/01: drifted"):
        forms.run(site, manifest.read(site.snippets_dir)["2025-10-17-code/01"], [url])
    accepted = subprocess.run([sys.executable, "-m", "blogtools", "extract", "--accept", "2025-10-17-code/01"],
                              cwd=tmp_path, capture_output=True, text=True)
    assert accepted.returncode == 0, accepted.stderr
    done = forms.run(site, manifest.read(site.snippets_dir)["2025-10-17-code/01"], [url])
    assert done.ok, done.error
    assert json.loads(done.stdout) == {"url": url, "ok": False, "error": "edited 404"}


@pytest.mark.node
def test_js_fetch_returns_the_body(server):
    url = f"{server.url}/body/hello"
    assert published_fetch(url) == [{"url": url, "ok": True, "body": "body hello"}]


@pytest.mark.node
def test_js_fetch_raises_with_the_status(server):
    results = published_fetch(f"{server.url}/status/404", f"{server.url}/status/500")
    assert [(r["ok"], r["error"]) for r in results] == [(False, "HTTP 404"), (False, "HTTP 500")]


@pytest.mark.node
def test_js_fetch_times_out_on_a_server_that_never_answers(server):
    started = time.monotonic()
    [result] = published_fetch(f"{server.url}/hang", timeout_ms=500)
    assert result["ok"] is False
    assert "timeout" in result["error"]
    assert time.monotonic() - started < 20


@pytest.mark.node
def test_js_fetch_serves_20_callers_at_once(server):
    urls = [f"{server.url}/barrier/{i}" for i in range(20)]
    results = published_fetch(*urls)
    assert [r["body"] for r in results] == [f"body {i}" for i in range(20)]


@pytest.mark.node
def test_blogtools_run_fetches_with_both_forms(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "blogtools", "-f", str(HERE.parents[1] / "mkdocs.yml"), "run",
                           "2025-10-17-code/01"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["python", "python", "javascript", "javascript"]
    assert '"body": "hello from the host"' in lines[0] and '"body": "hello from the host"' in lines[2]
    assert lines[1].endswith('/missing: HTTP 404"}') and lines[3].endswith('"error": "HTTP 404"}')
