"""The product's tests on pytest-xdist workers (`make test`: `-n auto --dist loadgroup`).

A test file with a module- or class-scoped fixture (a built site, a warm sandbox, an ingested
feed) keeps its tests together on one worker, so that fixture is made once; every other test goes
to whichever worker is free. Only tests under tests/ are grouped: an entry's tests in snippets/ keep
their node ids (the evidence matches them by id).
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        scopes = {fixture.scope for fixtures in (info.name2fixturedefs.values() if info else ()) for fixture in fixtures}
        if scopes & {"module", "class"} and item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
