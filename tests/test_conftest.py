"""How tests/conftest.py hands the suite to xdist workers, checked in a pytest child with two
workers: a module fixture is made once (its tests on one worker), fixtures used by no common test
go to workers apart, and the slow tests come first."""

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


@pytest.mark.slow
def test_slow_and_alone(request):
    note("first " + request.session.items[0].name)
'''


@pytest.mark.slow
def test_each_shared_fixture_is_made_once_on_one_worker_and_slow_tests_come_first(tmp_path):
    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "test_shared.py").write_text(TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: slow\n")
    log = tmp_path / "setups.log"
    done = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "--no-loadscope-reorder",
                           "-p", "no:cacheprovider", "-v", str(tmp_path)], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "SETUPS_LOG": str(log)}, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    setups = [line.rsplit(" ", 1)[0] for line in log.read_text().splitlines()]
    assert sorted(setups) == ["first test_slow_and_alone", "sandbox", "site=a", "site=b"]  # each made once
    ran: dict[str, set[str]] = {}
    for worker, name in re.findall(r"\[(gw\d)\] \[[ \d%]+\] PASSED \S+::(\w+(?:\[\w\])?)", done.stdout):
        ran.setdefault(name, set()).add(worker)
    assert len(ran) == 7 and all(len(workers) == 1 for workers in ran.values()), done.stdout
    for param in "ab":  # a fixture's tests on one worker
        assert ran[f"test_reads_the_site[{param}]"] == ran[f"test_reads_it_again[{param}]"]
