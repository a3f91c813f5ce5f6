"""The GitHub Actions workflow `blogtools new` writes: it passes the linter, and its `run:` steps,
executed in order in a clean virtualenv, install blogtools, test and build a fresh site."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from blogtools.scaffold import WORKFLOW

ROOT = Path(__file__).resolve().parents[1]
FEED = ROOT / "tests" / "data" / "lucumr-2025-12-13.atom"
JACTIONLINT = Path(sys.executable).parent / "jactionlint"  # from the test extra's jactionlint wheel


def new_site(folder: Path) -> Path:
    made = subprocess.run([sys.executable, "-m", "blogtools", "new", str(folder), "--feed", str(FEED)],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    return folder


def lint(path: Path) -> subprocess.CompletedProcess:
    """jactionlint's default profile (actionlint's checks and its security rules), offline, any
    finding an error."""
    assert JACTIONLINT.is_file(), f"{JACTIONLINT}: missing; install the test extra (pip install -e '.[test]')"
    return subprocess.run([str(JACTIONLINT), "--no-online", "--strict-exit", "--no-color", str(path)],
                          cwd=path.parent, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return new_site(tmp_path_factory.mktemp("workflow") / "essays")


def test_new_writes_a_workflow_that_installs_its_own_release(site):
    flow = yaml.safe_load((site / WORKFLOW).read_text())
    assert flow["env"]["BLOGTOOLS_PACKAGE"] == \
        f"blogtools[sandbox] @ git+https://github.com/blogtools/blogtools@v{version('blogtools')}"
    assert set(flow[True]) == {"push", "pull_request", "workflow_dispatch"}  # YAML 1.1 reads `on` as true
    assert flow[True]["push"] == {"branches": ["main"]}
    deploy = flow["jobs"]["deploy"]
    assert deploy["needs"] == "build" and "refs/heads/main" in deploy["if"] and "pull_request" in deploy["if"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert flow["permissions"] == {"contents": "read"}  # the build job gets no write access
    said = " ".join(line.strip().lstrip("# ") for line in (site / WORKFLOW).read_text().splitlines())
    assert "blogtools is not on PyPI" in said  # the install it makes says why it is not a plain pin
    assert f'"blogtools[sandbox]=={version("blogtools")}" is the line to put here instead' in said


def test_the_workflow_passes_the_linter(site):
    checked = lint(site / WORKFLOW)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(("before", "after", "finding"), [
    ("    needs: build\n", "    needs: biuld\n", "[undefined-job-needs]"),
    ("          path: site/\n", "          paths: site/\n", "[unknown-action-input]"),
    ("github.event_name != 'pull_request'", "github.evnt_name != 'pull_request'", "[undefined-property]"),
    ("        with:\n          persist-credentials: false\n", "", "[artipacked]"),  # the token left in .git
])
def test_the_linter_fails_a_broken_copy(site, tmp_path, before, after, finding):
    text = (site / WORKFLOW).read_text()
    assert before in text
    broken = tmp_path / ".github" / "workflows" / "blogtools.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(text.replace(before, after, 1))
    checked = lint(broken)
    assert checked.returncode == 1 and finding in checked.stdout, checked.stdout + checked.stderr


def test_new_refuses_a_folder_that_already_has_a_workflow(tmp_path):
    mine = tmp_path / "essays" / WORKFLOW
    mine.parent.mkdir(parents=True)
    mine.write_text("name: mine\n")
    made = subprocess.run([sys.executable, "-m", "blogtools", "new", str(tmp_path / "essays"), "--feed", str(FEED)],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 1 and "not empty" in made.stderr
    assert mine.read_text() == "name: mine\n"
    assert [p.name for p in (tmp_path / "essays").iterdir()] == [".github"]


def checkout_wheel(tmp: Path) -> Path:
    """A wheel of this checkout's blogtools, built from a copy of its sources (so that no build
    output lands in the checkout)."""
    source = tmp / "source"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp / "wheels"), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp / "wheels").glob("blogtools-*.whl")
    return wheel


@pytest.mark.slow
def test_the_workflows_run_steps_pass_on_a_new_site_in_a_clean_virtualenv(tmp_path):
    """Every `run:` step of the build job, in order, with bash as the workflow sets it, in the new
    site's folder (the checkout), with a fresh virtualenv's python first on PATH (what setup-python
    does). The install step reads BLOGTOOLS_PACKAGE, pointed here at a wheel of this checkout;
    everything else comes from the package index as it would on GitHub."""
    site = new_site(tmp_path / "essays")
    flow = yaml.safe_load((site / WORKFLOW).read_text())
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env |= flow["env"] | {"BLOGTOOLS_PACKAGE": f"blogtools[sandbox] @ {checkout_wheel(tmp_path).as_uri()}",
                          "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}"}
    assert flow["defaults"]["run"]["shell"] == "bash"
    uses, printed = [], {}
    for step in flow["jobs"]["build"]["steps"]:
        if "uses" in step:
            uses.append(step["uses"].split("@")[0])
            continue
        ran = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=site,
                             env=env, capture_output=True, text=True, timeout=600)
        assert ran.returncode == 0, f"{step['name']}:\n{ran.stdout}\n{ran.stderr}"
        printed[step["run"]] = ran.stdout
    # The actions stand in here: the site folder is the checkout, the virtualenv the set-up Python.
    assert uses == ["actions/checkout", "actions/setup-python", "actions/upload-pages-artifact"]
    assert list(printed)[0] == 'python -m pip install "$BLOGTOOLS_PACKAGE"'
    assert (venv / "bin" / "blogtools").is_file() and (venv / "bin" / "deno").is_file()
    assert printed["blogtools test"].startswith("test: 0 ran, 0 current, 0 failed")
    assert "built 10 posts into site" in printed["blogtools build --require-verified"]
    upload = flow["jobs"]["build"]["steps"][-1]["with"]["path"]
    assert (site / upload / "index.html").is_file()  # what the Pages artifact holds
    assert len(list((site / upload).glob("2025/*/*/*/index.html"))) == 10
