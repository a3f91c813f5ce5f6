"""How tests/conftest.py hands the suite to xdist workers, checked in a pytest child with two
workers: a module fixture is made once (its tests on one worker), fixtures used by no common test
go to workers apart, the slow tests come first, and a test an entry names keeps its node id."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = '''
import os
import pytest

LOG = os.environ["SETUPS_LOG"]


def note(what):
    with open(LOG, "a") as log:
        log.write(f"{what} {os.getpid()}\\n")


@pytest.fixture(scope="module", params=["a", "b"])
def site(request):
    note(f"site={request.param}")
    return request.param


@pytest.fixture(scope="module")
def sandbox():
    note("sandbox")


def test_reads_the_site(site):
    pass


def test_reads_it_again(site):
    pass


def test_uses_the_sandbox(sandbox):
    pass


def test_alone():
    pass


def test_alone_too(sandbox):
    pass


@pytest.mark.slow
def test_slow_and_alone(request):
    note("first " + request.session.items[0].name)
'''


@pytest.mark.slow
def test_each_shared_fixture_is_made_once_on_one_worker_and_slow_tests_come_first(tmp_path):
    (tmp_path / "tests").mkdir()
    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path / "tests/conftest.py")
    (tmp_path / "tests/test_shared.py").write_text(TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: slow\n")
    (tmp_path / "snippets").mkdir()  # an entry names a test: it keeps its node id (the evidence's key)
    (tmp_path / "snippets/manifest.toml").write_text('["p/01"]\ntests = ["tests/test_shared.py::test_alone_too"]\n')
    log = tmp_path / "setups.log"
    done = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "--no-loadscope-reorder",
                           "-p", "no:cacheprovider", "-p", "no:blogtools", "-v", "tests"], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "SETUPS_LOG": str(log)}, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    setups = [line.rsplit(" ", 1)[0] for line in log.read_text().splitlines()]
    # each made once, but the sandbox where the test an entry names ran on the other worker
    assert sorted(set(setups)) == ["first test_slow_and_alone", "sandbox", "site=a", "site=b"]
    assert len(setups) - setups.count("sandbox") == 3
    ran: dict[str, set[str]] = {}
    for worker, name in re.findall(r"\[(gw\d)\] \[[ \d%]+\] PASSED \S+::(\w+(?:\[\w\])?)", done.stdout):
        ran.setdefault(name, set()).add(worker)
    assert len(ran) == 8 and all(len(workers) == 1 for workers in ran.values()), done.stdout
    assert re.search(r"PASSED tests/test_shared.py::test_alone_too\s*$", done.stdout, re.M), done.stdout
    assert re.search(r"PASSED tests/test_shared.py::test_uses_the_sandbox@", done.stdout), done.stdout
    for param in "ab":  # a fixture's tests on one worker
        assert ran[f"test_reads_the_site[{param}]"] == ran[f"test_reads_it_again[{param}]"]
