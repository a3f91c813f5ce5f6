"""``blogtools check`` and ``blogtools run``: every block accounted for, every runnable form real.

The check compares content/ with snippets/manifest.toml and the files it names: a block with no
entry, an entry whose block is gone, drift (the text no longer hashes to the reviewed sha256), a
runnable entry whose module is missing or whose test ids pytest does not collect, an illustrative
entry without a reason. Test ids are collected with one ``pytest --collect-only -q`` run. A block
nobody has curated is accounted for by its triage verdict; without one it is counted, not a problem.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from blogtools import languages, manifest, published, review
from blogtools.blocks import CodeBlock, block_id, content_blocks
from blogtools.content import content_pages
from blogtools.errors import BlogtoolsError
from blogtools.manifest import Entry
from blogtools.project import FIGURES_VARIABLE, Project

_PYTHON = languages.named("python")


@dataclass(frozen=True)
class Problem:
    """One thing check found wrong: its kind, the entry id, the page (or file) and line, and what to do.

    Kinds: ``no-entry``, ``orphaned``, ``drift``, ``stale-file`` (a snippet file does not hold its
    text), ``status``, ``no-reason``, ``no-tests``, ``module``, ``notes``, ``test`` (an id pytest does
    not collect), ``test-file`` (a test file that does not exist), ``collect`` (pytest failed to collect),
    ``published`` (a published form's harness file missing, its patch not applying, ...).
    """

    kind: str
    message: str
    id: str | None = None
    path: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.id} ({self.path}:{self.line})" if self.id and self.path and self.line else self.id
        return f"{where}: {self.message}" if where else self.message

    def as_json(self) -> dict:
        """The problem as a JSON object: kind, id, path, line, message."""
        return {"kind": self.kind, "id": self.id, "path": self.path, "line": self.line, "message": self.message}


@dataclass
class CheckReport:
    """The outcome of a check: block counts (curated, triaged by verdict, neither) and the problems found."""

    blocks: int = 0
    runnable: int = 0
    illustrative: int = 0
    triaged: Counter = field(default_factory=Counter)  # uncurated blocks with a current verdict, by verdict
    untriaged: int = 0  # uncurated blocks without one: counted, not problems
    problems: list[Problem] = field(default_factory=list)

    def line(self) -> str:
        """The summary line the CLI prints: blocks curated, triaged and neither, and the number of problems."""
        verdicts = ", ".join(f"{count} {verdict}" for verdict, count in sorted(self.triaged.items()))
        triaged = f"{self.triaged.total()} triaged" + (f" ({verdicts})" if verdicts else "")
        untriaged = f", {self.untriaged} not yet triaged" if self.untriaged else ""
        return (
            f"{self.blocks} blocks: {self.runnable + self.illustrative} curated ({self.runnable} runnable, "
            f"{self.illustrative} illustrative), {triaged}{untriaged}, {len(self.problems)} problems"
        )

    def untriaged_line(self) -> str | None:
        """The one line about the blocks not yet triaged, or None when there are none."""
        if not self.untriaged:
            return None
        return (f"not yet triaged: {self.untriaged} block{'s' if self.untriaged > 1 else ''} (run `blogtools "
                "triage`, or decide each in snippets/manifest.toml: runnable with tests, or illustrative with a reason)")

    def as_json(self) -> dict:
        """The counts and every problem, for ``check --json``."""
        return {"blocks": self.blocks, "curated": self.runnable + self.illustrative, "runnable": self.runnable,
                "illustrative": self.illustrative, "triaged": dict(sorted(self.triaged.items())),
                "untriaged": self.untriaged, "problems": [problem.as_json() for problem in self.problems]}


def collect_test_ids(
    test_ids: Iterable[str], root: Path, progress: Callable[[str], None] = lambda message: None
) -> tuple[set[str], list[Problem]]:
    """Node ids pytest collects from the files that ``test_ids`` name, and the problems met doing so.

    Files that do not exist are reported rather than passed to pytest (which would stop at the first).
    """
    root = Path(root)
    files = sorted({test_id.split("::", 1)[0] for test_id in test_ids})
    problems = [Problem("test-file", f"test file {name} does not exist", path=name)
                for name in files if not (root / name).is_file()]
    files = [name for name in files if (root / name).is_file()]
    if not files:
        return set(), problems
    progress(f"collecting the test ids of {len(files)} files with pytest --collect-only ...")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", f"--rootdir={root.resolve()}", *files],
        cwd=root, capture_output=True, text=True,
    )
    collected = {line.strip() for line in done.stdout.splitlines() if "::" in line and " " not in line.strip()}
    if done.returncode not in (0, 5):
        errors = [line for line in done.stdout.splitlines() if line.startswith("ERROR")] or done.stdout.splitlines()[-1:]
        problems.append(Problem("collect", f"pytest --collect-only failed (exit {done.returncode}): {'; '.join(errors)}"))
    return collected, problems


def _test_exists(test_id: str, collected: set[str]) -> bool:
    """An id names a collected test, a parametrized family (``test_x`` for ``test_x[...]``), a class or a file."""
    return test_id in collected or any(node.startswith((f"{test_id}[", f"{test_id}::")) for node in collected)


def entry_problems(entry: Entry, snippets_dir: Path, collected: set[str]) -> list[tuple[str, str]]:
    """The problems of one entry's curated fields, as (kind, message)."""
    if entry.status == manifest.ILLUSTRATIVE:
        return [] if entry.reason.strip() else [("no-reason", "illustrative entry has no reason")]
    if entry.status not in manifest.STATUSES:
        return [("status", f"status must be {' or '.join(map(repr, manifest.STATUSES))}, not {entry.status!r}")]
    problems = [] if entry.tests else [("no-tests", "runnable entry lists no tests")]
    for module in entry.modules:
        path = snippets_dir / entry.post / module
        if not path.is_file():
            problems.append(("module", f"module {path} does not exist"))
        elif path.suffix != ".py" or not path.stem.isidentifier():
            problems.append(("module", f"module {path} is not an importable Python file (snippets/<post>/<identifier>.py)"))
        elif path.stem in sys.stdlib_module_names:
            problems.append(("module", f"module {path} is named like the standard library's {path.stem}, which it would hide"))
    if (entry.is_block and entry.modules and not published.has_form(entry)
            and languages.lookup(entry.language) != _PYTHON and not entry.notes):
        problems.append(("notes", f"the runnable form is Python but the block is {entry.language or 'untagged'}: "
                                  "notes must say how it differs"))
    problems += [("published", message) for message in published.problems(snippets_dir, entry)]
    problems += [("test", f"test {test_id} is not collected by pytest")
                 for test_id in entry.tests if not _test_exists(test_id, collected)]
    return problems


def _file_problems(entry: Entry, block: CodeBlock, snippets_dir: Path) -> list[tuple[str, str]]:
    """Drift, and snippet files that do not hold what extract writes there, as (kind, message)."""
    snippet = snippets_dir / entry.post / entry.file
    drifted = entry.curated and block.sha256 != entry.sha256
    wanted = {snippet: entry.sha256 if drifted else block.sha256}
    if drifted:
        wanted[review.new_file(snippets_dir, entry)] = block.sha256
    problems = [("drift", f"drift: the text changed since it was reviewed (sha256 {entry.sha256[:12]} is now "
                          f"{block.sha256[:12]}); see the change with `blogtools review {entry.id}`, bring its "
                          f"runnable form up to date, then `blogtools extract --accept {entry.id}`")] if drifted else []
    for path, sha256 in wanted.items():
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
            held = "the reviewed text" if drifted and path == snippet else "the block's text"
            problems.append(("stale-file", f"{path} does not hold {held}; run `blogtools extract`"))
    return problems


def check(
    posts_dir: Path, snippets_dir: Path, root: Path | None = None, progress: Callable[[str], None] = lambda message: None,
    verdicts: Mapping[str, str] | None = None,
) -> CheckReport:
    """Check the pages of ``posts_dir`` (content/posts) against the manifest; test ids are resolved
    from ``root`` (default: the current folder); ``progress`` hears about the slow step, test
    collection; ``verdicts`` are the uncurated blocks' current triage verdicts by id."""
    verdicts = verdicts or {}
    posts_dir, snippets_dir = Path(posts_dir), Path(snippets_dir)
    root = Path.cwd() if root is None else Path(root)
    posts, paths = content_blocks(posts_dir), content_pages(posts_dir)
    entries = manifest.read(snippets_dir)
    runnable = [entry for entry in entries.values() if entry.status == manifest.RUNNABLE]
    collected, problems = collect_test_ids([test for entry in runnable for test in entry.tests], root, progress)
    report = CheckReport(problems=problems)
    present = set()
    for slug, blocks in posts.items():
        page = str(paths[slug])
        for block in blocks:
            ident = block_id(slug, block.ordinal)
            present.add(ident)
            report.blocks += 1
            entry = entries.get(ident)
            if entry is None:
                report.problems.append(Problem("no-entry", "no manifest entry; run `blogtools extract`", ident, page, block.start))
                continue
            if entry.untriaged and ident in verdicts:
                report.triaged[verdicts[ident]] += 1
            report.untriaged += entry.untriaged and ident not in verdicts
            report.runnable += entry.status == manifest.RUNNABLE
            report.illustrative += entry.status == manifest.ILLUSTRATIVE and not entry.untriaged
            found = _file_problems(entry, block, snippets_dir)
            found += [] if entry.untriaged else entry_problems(entry, snippets_dir, collected)
            report.problems += [Problem(kind, message, ident, page, block.start) for kind, message in found]
    for ident in sorted(set(entries) - present):
        if not entries[ident].is_block:
            found = entry_problems(entries[ident], snippets_dir, collected)
            report.problems += [Problem(kind, message, ident) for kind, message in found]
            continue
        report.problems.append(Problem(
            "orphaned", "the manifest has an entry but content has no such block; "
                        f"`blogtools extract --accept {ident}` drops it", ident))
    return report


def run_snippet(site: Project, ident: str, argv: Sequence[str] = ()):
    """Import the first module of a runnable entry with ``snippets/<post>`` on sys.path; return its ``main()``.

    ``argv``, when given, is passed to ``main(argv)`` (e.g. ``--llm anthropic``). A drifted entry is
    refused (only reviewed text runs on the host). The module finds the folder for what it
    measures in the environment variable ``BLOGTOOLS_FIGURES_DIR`` (``<figures>/<post>``).
    """
    snippets_dir = site.snippets_dir
    entry = manifest.read(snippets_dir).get(ident)
    if entry is None:
        raise BlogtoolsError(f"{ident}: no such entry in {Path(snippets_dir) / manifest.NAME}")
    if entry.status != manifest.RUNNABLE:
        raise BlogtoolsError(f"{ident}: illustrative ({entry.reason or 'no reason given'}), so there is nothing to run")
    if not entry.modules:
        raise BlogtoolsError(f"{ident}: no module; the block itself is what its tests run ({', '.join(entry.tests)})")
    review.ensure_reviewed(site, entry)
    path = Path(snippets_dir) / entry.post / entry.modules[0]
    if not path.is_file():
        raise BlogtoolsError(f"{ident}: module {path} does not exist")
    sys.path.insert(0, str(path.parent.resolve()))  # its sibling modules import by their plain names
    # A private name: a module called like a standard one (json.py) must not replace it in sys.modules.
    name = "blogtools_snippet_" + re.sub(r"\W", "_", f"{entry.post}_{path.stem}")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    main = getattr(module, "main", None)
    if not callable(main):
        raise BlogtoolsError(f"{ident}: module {path} has no main()")
    if argv and not inspect.signature(main).parameters:
        raise BlogtoolsError(f"{ident}: {path.name}'s main() takes no arguments, got {' '.join(argv)}")
    before = os.environ.get(FIGURES_VARIABLE)
    os.environ[FIGURES_VARIABLE] = str(site.figures_for(entry.post))
    try:
        return main(list(argv)) if argv else main()
    finally:
        if before is None:
            del os.environ[FIGURES_VARIABLE]
        else:
            os.environ[FIGURES_VARIABLE] = before
