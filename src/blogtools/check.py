"""``blogtools check`` and ``blogtools run``: every block accounted for, every runnable form real.

The check compares content/ with snippets/manifest.toml and the files it names: a block with no
entry, an entry whose block is gone, drift (the text no longer hashes to the reviewed sha256), a
runnable entry whose module is missing or whose test ids pytest does not collect, an illustrative
entry without a reason. Test ids are collected with one ``pytest --collect-only -q`` run.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from blogtools import languages, manifest
from blogtools.blocks import block_id, content_blocks
from blogtools.errors import BlogtoolsError
from blogtools.manifest import Entry

_PYTHON = languages.named("python")


@dataclass
class CheckReport:
    """The outcome of a check: block counts and one line per problem."""

    blocks: int = 0
    runnable: int = 0
    illustrative: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        """The summary line the CLI prints: blocks by status and the number of problems."""
        return (
            f"{self.blocks} blocks: {self.runnable} runnable, {self.illustrative} illustrative, "
            f"{len(self.problems)} problems"
        )


def collect_test_ids(
    test_ids: Iterable[str], root: Path, progress: Callable[[str], None] = lambda message: None
) -> tuple[set[str], list[str]]:
    """Node ids pytest collects from the files that ``test_ids`` name, and the problems met doing so.

    Files that do not exist are reported rather than passed to pytest (which would stop at the first).
    """
    root = Path(root)
    files = sorted({test_id.split("::", 1)[0] for test_id in test_ids})
    problems = [f"test file {name} does not exist" for name in files if not (root / name).is_file()]
    files = [name for name in files if (root / name).is_file()]
    if not files:
        return set(), problems
    progress(f"collecting the test ids of {len(files)} files with pytest --collect-only ...")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", f"--rootdir={root}", *files],
        cwd=root, capture_output=True, text=True,
    )
    collected = {line.strip() for line in done.stdout.splitlines() if "::" in line and " " not in line.strip()}
    if done.returncode not in (0, 5):
        errors = [line for line in done.stdout.splitlines() if line.startswith("ERROR")] or done.stdout.splitlines()[-1:]
        problems.append(f"pytest --collect-only failed (exit {done.returncode}): {'; '.join(errors)}")
    return collected, problems


def _test_exists(test_id: str, collected: set[str]) -> bool:
    """An id names a collected test, a parametrized family (``test_x`` for ``test_x[...]``), a class or a file."""
    return test_id in collected or any(node.startswith((f"{test_id}[", f"{test_id}::")) for node in collected)


def _entry_problems(entry: Entry, snippets_dir: Path, collected: set[str]) -> list[str]:
    """The problems of one entry's curated fields."""
    if entry.status == manifest.ILLUSTRATIVE:
        return [] if entry.reason.strip() else ["illustrative entry has no reason"]
    if entry.status not in manifest.STATUSES:
        return [f"status must be {' or '.join(map(repr, manifest.STATUSES))}, not {entry.status!r}"]
    problems = [] if entry.tests else ["runnable entry lists no tests"]
    for module in entry.modules:
        path = snippets_dir / entry.post / module
        if not path.is_file():
            problems.append(f"module {path} does not exist")
        elif path.suffix != ".py" or not path.stem.isidentifier():
            problems.append(f"module {path} is not an importable Python file (snippets/<post>/<identifier>.py)")
        elif path.stem in sys.stdlib_module_names:
            problems.append(f"module {path} is named like the standard library's {path.stem}, which it would hide")
    if entry.is_block and entry.modules and languages.lookup(entry.language) != _PYTHON and not entry.notes:
        problems.append(f"the runnable form is Python but the block is {entry.language or 'untagged'}: notes must say how it differs")
    problems += [f"test {test_id} is not collected by pytest" for test_id in entry.tests if not _test_exists(test_id, collected)]
    return problems


def check(
    content_dir: Path, snippets_dir: Path, root: Path | None = None, progress: Callable[[str], None] = lambda message: None
) -> CheckReport:
    """Check content/ against the manifest; test ids are resolved from ``root`` (default: the current
    folder); ``progress`` hears about the slow step, test collection."""
    content_dir, snippets_dir = Path(content_dir), Path(snippets_dir)
    root = Path.cwd() if root is None else Path(root)
    posts = content_blocks(content_dir)
    entries = manifest.read(snippets_dir)
    runnable = [entry for entry in entries.values() if entry.status == manifest.RUNNABLE]
    collected, problems = collect_test_ids([test for entry in runnable for test in entry.tests], root, progress)
    report = CheckReport(problems=problems)
    present = set()
    for slug, blocks in posts.items():
        page = content_dir / "posts" / f"{slug}.md"
        for block in blocks:
            ident = block_id(slug, block.ordinal)
            present.add(ident)
            report.blocks += 1
            entry = entries.get(ident)
            where = f"{ident} ({page}:{block.start})"
            if entry is None:
                report.problems.append(f"{where}: no manifest entry; run `blogtools extract`")
                continue
            report.runnable += entry.status == manifest.RUNNABLE
            report.illustrative += entry.status == manifest.ILLUSTRATIVE
            if block.sha256 != entry.sha256:
                report.problems.append(
                    f"{where}: drift: the text changed since it was reviewed (sha256 {entry.sha256[:12]} is now "
                    f"{block.sha256[:12]}); bring its runnable form up to date, then `blogtools extract --accept {ident}`"
                )
            snippet = snippets_dir / slug / entry.file
            if not snippet.is_file() or snippet.read_bytes() != block.text.encode("utf-8"):
                report.problems.append(f"{where}: {snippet} does not hold the block's text; run `blogtools extract`")
            report.problems += [f"{where}: {problem}" for problem in _entry_problems(entry, snippets_dir, collected)]
    for ident in sorted(set(entries) - present):
        if not entries[ident].is_block:
            report.problems += [f"{ident}: {problem}" for problem in _entry_problems(entries[ident], snippets_dir, collected)]
            continue
        report.problems.append(
            f"{ident}: the manifest has an entry but content has no such block; "
            f"`blogtools extract --accept {ident}` drops it"
        )
    return report


def run_snippet(snippets_dir: Path, ident: str, argv: Sequence[str] = ()):
    """Import the first module of a runnable entry with ``snippets/<post>`` on sys.path; return its ``main()``.

    ``argv``, when given, is passed to ``main(argv)`` (e.g. ``--llm anthropic``).
    """
    entry = manifest.read(snippets_dir).get(ident)
    if entry is None:
        raise BlogtoolsError(f"{ident}: no such entry in {Path(snippets_dir) / manifest.NAME}")
    if entry.status != manifest.RUNNABLE:
        raise BlogtoolsError(f"{ident}: illustrative ({entry.reason or 'no reason given'}), so there is nothing to run")
    if not entry.modules:
        raise BlogtoolsError(f"{ident}: no module; the block itself is what its tests run ({', '.join(entry.tests)})")
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
    if not argv:
        return main()
    if not inspect.signature(main).parameters:
        raise BlogtoolsError(f"{ident}: {path.name}'s main() takes no arguments, got {' '.join(argv)}")
    return main(list(argv))
