"""The product's tests on pytest-xdist workers (`make test`: `-n auto --dist loadgroup
--no-loadscope-reorder`).

Tests that share a module- or class-scoped fixture (a built site, a warm sandbox, an ingested
feed) stay together on one worker, so that fixture is made once: one xdist group per set of such
fixtures that a file's tests use together (two fixtures used by one test join their sets);
every other test goes to whichever worker is free. Tests marked ``slow``, and the groups holding
one, are handed out first, so the longest work does not start last on one worker while the
other idles. Only tests under tests/ that no entry of snippets/manifest.toml names are grouped:
an entry's tests keep their node ids (the evidence matches them by id).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from blogtools import manifest
from blogtools.recorder import matches

HERE = Path(__file__).parent


def _evidence_ids() -> list[str]:
    """The test ids the essays' entries name (snippets/manifest.toml): the evidence matches them."""
    doc = manifest.load_plain(HERE.parent / "snippets" / manifest.NAME)
    return [test for table in doc.values() if isinstance(table, dict) for test in table.get("tests", [])]


def _shared_fixtures(item, evidence: list[str]) -> list[tuple[Path, str]]:
    """The module- and class-scoped fixtures a test under tests/ uses, each with its file (and its
    parameter, for a parametrised one: each value is a fixture of its own). None for a test an
    entry names: grouped, its node id would change under xdist, and its evidence with it."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None or not item.path.is_relative_to(HERE) or any(matches(test, item.nodeid) for test in evidence):
        return []
    params = getattr(getattr(item, "callspec", None), "params", {})
    return sorted((item.path, f"{name}={params[name]}" if name in params else name)
                  for name, defs in info.name2fixturedefs.items()
                  if any(definition.scope in ("module", "class") for definition in defs))


def _groups(items) -> dict[str, str]:
    """Node id -> xdist group: the set its shared fixtures belong to (union-find), named after
    the file and the set's first fixture."""
    parent: dict[tuple[Path, str], tuple[Path, str]] = {}

    def find(key):
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    evidence = _evidence_ids()
    shared = {item.nodeid: _shared_fixtures(item, evidence) for item in items}
    for keys in shared.values():
        for key in keys[1:]:
            parent[find(key)] = find(keys[0])
    # xdist takes the text after the last "@" that follows the last "]" of a node id as its group
    return {nodeid: re.sub(r"[@\]]", "_", "{0.stem}-{1}".format(*find(keys[0])))
            for nodeid, keys in shared.items() if keys}


def _unit(item) -> str:
    """What xdist hands out whole: the test's group, or the test alone."""
    marker = item.get_closest_marker("xdist_group")
    return marker.args[0] if marker else item.nodeid


def _name_group(item, group: str) -> None:
    """Give an xdist worker's test the node id that `--dist loadgroup` schedules by: ``<id>@<group>``.
    xdist 3.8 writes it to ``item._nodeid``, which pytest 9.2 no longer reads (its node ids are
    structured), so every group's tests were handed out one by one and a module's fixture was made
    on each worker that ran one of its tests (pytest-xdist issue 1386); done here while it is so."""
    if "@" not in item.nodeid:
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(f"{item.nodeid}@{group}")


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    groups = _groups(items)
    for item in items:  # before any other hook, xdist's own reading the marker among them
        if item.nodeid in groups:
            item.add_marker(pytest.mark.xdist_group(groups[item.nodeid]))
    yield
    if getattr(config.option, "loadgroup", False) and hasattr(config, "workerinput"):
        for item in items:
            if item.get_closest_marker("xdist_group"):
                _name_group(item, _unit(item))
    # after pytest has ordered the items by their fixtures: slow tests and their groups first
    slow = {_unit(item) for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: _unit(item) not in slow)
