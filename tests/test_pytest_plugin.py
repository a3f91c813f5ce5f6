"""The blogtools pytest plugin: cheap to load, markers that skip by themselves with their reason."""

from __future__ import annotations

import os
import subprocess
import sys

MARKED = '''
import pytest

@pytest.mark.live
def test_live():
    pass

@pytest.mark.browser
def test_browser():
    pass

def test_plain(pg_dsn=None):
    pass
'''


def run_pytest(folder, *args, env=None):
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", *args],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def test_loading_the_plugin_imports_no_service():
    code = ("import sys, pytest; before = set(sys.modules); import blogtools.harness.pytest_plugin; "
            "print(sorted(m for m in set(sys.modules) - before if not m.startswith('blogtools')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = eval(done.stdout)
    assert not [name for name in loaded if name.split(".")[0] in ("psycopg", "click", "anthropic", "torch", "absurdctl")]
    assert len(loaded) <= 3, loaded


def test_each_marker_skips_by_itself_naming_what_is_missing(tmp_path):
    (tmp_path / "test_marked.py").write_text(MARKED)
    env = {key: value for key, value in os.environ.items() if key != "ANTHROPIC_API_KEY"}
    env["PATH"] = os.path.dirname(sys.executable)  # no chromium on this PATH
    done = run_pytest(tmp_path, "test_marked.py", env=env)
    assert done.returncode == 0, done.stdout
    assert "1 passed, 2 skipped" in done.stdout
    assert "no API key: ANTHROPIC_API_KEY is not set" in done.stdout
    assert "no Chromium: `chromium` is not on PATH" in done.stdout


def test_an_unknown_marker_is_an_error_under_strict_markers(tmp_path):
    (tmp_path / "test_typo.py").write_text("import pytest\n\n@pytest.mark.gpus\ndef test_x():\n    pass\n")
    done = run_pytest(tmp_path, "--strict-markers", "test_typo.py")
    assert done.returncode != 0
    assert "'gpus' not found in `markers` configuration option" in done.stdout


def test_a_required_marker_fails_instead_of_skipping(tmp_path):
    (tmp_path / "test_marked.py").write_text(MARKED)
    env = {key: value for key, value in os.environ.items() if key != "ANTHROPIC_API_KEY"}
    env["BLOGTOOLS_REQUIRE_LIVE"] = "1"
    done = run_pytest(tmp_path, "test_marked.py::test_live", env=env)
    assert done.returncode == 1
    assert "BLOGTOOLS_REQUIRE_LIVE=1 but no API key: ANTHROPIC_API_KEY is not set" in done.stdout
