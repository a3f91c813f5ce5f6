"""What a test run depends on inside the project: the files it imported or read.

Two sources, merged by ``project_files``:

- **Reads, as they happen** (``Reads``): a ``sys.addaudithook`` hook sees every ``open`` (data
  files, fixtures, modules imported for the first time, as their ``.pyc``) and every child
  process's command line (a script a test starts by its path, the module of ``python -m``);
  only paths under the project root are kept. What a child process itself reads is seen only
  that way: through its command line and the imports followed from it.
- **Imports, from the source** (``import_closure``): the Python files the given files import,
  followed transitively through the project's own modules with ``ast``. A module that an earlier
  test already imported opens nothing, so this keeps an entry's inputs the same whatever ran
  before it.

``third_party_imports`` names the installed distributions those files import, for the record's
``env``.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import importlib.util
import os
import sys
import threading
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

#: Folders whose files are never inputs: installed tools and caches.
IGNORED_PARTS = frozenset({".venv", "node_modules", ".git", "__pycache__", ".cache", ".pytest_cache"})


class Reads:
    """Paths read while ``recording()`` is active, from any thread of this process.

    Python files a process opens are left out: whether a module is opened depends on whether an
    earlier test imported it first, so imports come from ``import_closure`` instead."""

    _installed = False
    _active: list[set[str]] = []  # the sets of the recordings in progress, outermost first
    _paused = threading.local()

    @classmethod
    def _hook(cls, event: str, args: tuple) -> None:
        if not cls._active or getattr(cls._paused, "on", False):
            return
        found: list[str] = []
        if event == "open":
            path, mode, flags = args
            if isinstance(path, (str, bytes)) and _is_read(mode, flags) and not os.fsdecode(path).endswith((".py", ".pyc")):
                found.append(os.path.abspath(os.fsdecode(path)))
        elif event == "subprocess.Popen":
            argv = args[1]
            argv = [os.fsdecode(arg) for arg in ([argv] if isinstance(argv, (str, bytes)) else argv or ())
                    if isinstance(arg, (str, bytes, os.PathLike))]
            found += [os.path.abspath(arg) for arg in argv]
            found += filter(None, (_module_path(name) for flag, name in zip(argv, argv[1:]) if flag == "-m"))
        for reads in list(cls._active):
            reads.update(found)

    @classmethod
    @contextmanager
    def recording(cls):
        """Collect the paths read inside the block (recordings nest: an outer one sees them too);
        yields the set they go into."""
        if not cls._installed:
            sys.addaudithook(cls._hook)
            cls._installed = True
        reads: set[str] = set()
        cls._active.append(reads)
        try:
            yield reads
        finally:
            cls._active[:] = [active for active in cls._active if active is not reads]  # by identity: sets compare equal

    @classmethod
    @contextmanager
    def paused(cls):
        """Reads inside the block (in this thread) are not collected: blogtools' own bookkeeping."""
        cls._paused.on = True
        try:
            yield
        finally:
            cls._paused.on = False


def _module_path(name: str) -> str:
    """The file ``python -m name`` runs (a package's ``__main__.py``), or "" when it cannot be found."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return ""
    if spec is None or not spec.origin:
        return ""
    return str(Path(spec.origin).with_name("__main__.py")) if spec.submodule_search_locations else spec.origin


def _is_read(mode, flags) -> bool:
    if isinstance(mode, str):
        return not any(char in mode for char in "wax+")
    return isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR) == 0


def project_file(path: str | Path, root: Path, ignored: Iterable[Path] = ()) -> Path | None:
    """``path`` as a file inside ``root`` (an absolute path; a ``.pyc`` as its source), or None when
    it is outside, under a tool's or cache's folder or one of ``ignored`` (generated output), or not a file."""
    path = Path(path)
    if path.parent.name == "__pycache__" and path.suffix == ".pyc":
        path = path.parent.parent / (path.name.split(".", 1)[0] + ".py")
    try:
        relative = path.resolve().relative_to(root)
        if IGNORED_PARTS.intersection(relative.parts[:-1]) or not path.is_file():
            return None
    except (ValueError, OSError):  # outside root, or not a path at all (a child's argument may be any text)
        return None
    if any((root / relative).is_relative_to(folder) for folder in ignored):
        return None
    return root / relative


def import_closure(files: Iterable[Path], root: Path, search: Iterable[Path] = ()) -> set[Path]:
    """``files`` and every Python file under ``root`` they import, transitively. Imports resolve
    against the importing file's folder, ``search`` (e.g. a snippets folder a test puts on
    sys.path), ``sys.path`` and, for packages found elsewhere, ``importlib``'s finders."""
    search = [Path(folder) for folder in search]
    todo, seen = [Path(file) for file in files], set()
    while todo:
        file = todo.pop()
        if file in seen:
            continue
        seen.add(file)
        if file.suffix != ".py":
            continue
        for name, level in _imports(file):
            for found in _module_files(name, level, file, search):
                inside = project_file(found, root)
                if inside is not None and inside not in seen:
                    todo.append(inside)
    return seen


def third_party_imports(files: Iterable[Path], root: Path) -> dict[str, str]:
    """``{distribution: version}`` of the installed distributions that ``files`` import directly
    (not the project's own, installed from under ``root``)."""
    names = {name.partition(".")[0] for file in files if file.suffix == ".py" for name, level in _imports(file) if not level}
    distributions = importlib.metadata.packages_distributions()
    found = {}
    for name in names - set(sys.stdlib_module_names):
        located = _located(name)
        if located is not None and any(project_file(file, root.resolve()) for file in (
                located / name / "__init__.py", located / f"{name}.py")):
            continue  # the project's own package
        for dist in distributions.get(name, ()):
            try:
                found[dist.lower()] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                continue
    return dict(sorted(found.items()))


@functools.lru_cache(maxsize=4096)
def _imports_cached(file: Path, mtime_ns: int) -> tuple[tuple[str, int], ...]:
    try:
        tree = ast.parse(file.read_bytes(), str(file))
    except (OSError, SyntaxError, ValueError):
        return ()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            out.append((base, node.level))
            out += [(f"{base}.{alias.name}" if base else alias.name, node.level) for alias in node.names if alias.name != "*"]
    return tuple(out)


def _imports(file: Path) -> tuple[tuple[str, int], ...]:
    """Every module name a Python file imports, anywhere in it, with its relative level."""
    try:
        return _imports_cached(file, file.stat().st_mtime_ns)
    except OSError:
        return ()


def _module_files(name: str, level: int, importer: Path, search: list[Path]) -> list[Path]:
    """The files importing ``name`` loads: each package's ``__init__.py`` on the way and the module."""
    parts = [part for part in name.split(".") if part]
    if level:
        bases = [importer.parents[level - 1]] if level <= len(importer.parents) else []
    else:
        bases = [importer.parent, *search, *(Path(entry) for entry in sys.path if entry)]
        located = _located(parts[0]) if parts else None
        if located is not None:
            bases.append(located)
    for base in bases:
        found = _walk(base, parts)
        if found:
            return found
    return []


def _walk(base: Path, parts: list[str]) -> list[Path]:
    found, folder = [], base
    if not parts:
        init = folder / "__init__.py"
        return [init] if init.is_file() else []
    for index, part in enumerate(parts):
        module, package = folder / f"{part}.py", folder / part / "__init__.py"
        if package.is_file():
            found.append(package)
            folder = folder / part
        elif module.is_file():
            return found + [module]
        else:
            return found if index else []
    return found


@functools.lru_cache(maxsize=1024)
def _located(top: str) -> Path | None:
    """The folder holding top-level module ``top`` per importlib's finders (editable installs too)."""
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or spec.origin in ("built-in", "frozen"):
        return None
    origin = Path(spec.origin)
    return origin.parent.parent if spec.submodule_search_locations else origin.parent
