"""Published forms: a curated JavaScript or TypeScript block run as published, inside a declared harness.

A block's manifest entry may name, under ``snippets/<post>/``: a ``prelude`` and an ``epilogue``
(harness code put before and after the block: imports, clients on the harness's services, the names
the essay leaves out, a driver), a ``patch`` (a unified diff of the block: the smallest edit that
fills an elision such as ``/* tool definition here */``) and a ``working_patch`` (for a block that
fails as published: the diff to its nearest working form). ``assemble`` joins prelude, the
(patched) block text and epilogue into one module with a line map back to each part, ``locate``
maps a compiler's or runtime's references to its lines back to the block, ``write_post`` writes
every form of a post (a prelude may import a sibling block's form, ``./<block file stem>.mts``)
and refuses a block whose text no longer matches its reviewed sha256: only reviewed blocks run on
the host (``blogtools.review``). Running and type-checking them needs Node, so it is the harness's
job (``blogtools.harness.forms``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from blogtools import languages, manifest, review
from blogtools.errors import BlogtoolsError
from blogtools.files import write_if_changed
from blogtools.manifest import Entry
from blogtools.project import Project

TSCONFIG = "tsconfig.published.json"  # in the snippets folder, committed: how published forms are type-checked
FOLDER = "published"  # under the build folder: the assembled modules
_EXTENSIONS = {"javascript": "mjs", "typescript": "mts"}  # ES modules, whatever package.json says
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def has_form(entry: Entry) -> bool:
    """Whether an entry declares a published form (a prelude or an epilogue)."""
    return bool(entry.prelude or entry.epilogue)


def extension(entry: Entry) -> str:
    """The assembled module's extension: ``mts`` for TypeScript, ``mjs`` for JavaScript."""
    language = languages.lookup(entry.language)
    name = language.name if language else entry.language
    if name not in _EXTENSIONS:
        raise BlogtoolsError(f"{entry.id}: a published form runs JavaScript or TypeScript, not {entry.language or 'untagged'} code")
    return _EXTENSIONS[name]


def is_typescript(entry: Entry) -> bool:
    return has_form(entry) and extension(entry) == "mts"


@dataclass(frozen=True)
class Form:
    """One assembled module: its text, where it is written, and for each of its lines where it came from."""

    entry: Entry
    text: str
    path: Path  # absolute, under <build>/published/<post>/
    origins: tuple[str, ...]  # per line: "04-ctx-sleep.js:1", "absurd.prelude.ts:12", "03-single-step.js:7 (patched)"
    around: int  # harness lines: prelude, epilogue and the lines a patch adds

    def origin(self, line: int) -> str:
        """Where line ``line`` (1-based) of the module came from."""
        return self.origins[line - 1] if 1 <= line <= len(self.origins) else f"{self.path.name}:{line}"


def apply_patch(text: str, diff: str, name: str) -> tuple[str, list[tuple[int, bool]]]:
    """``text`` with the unified ``diff`` applied, and for each resulting line the original line
    (1-based) it is or, for a line the patch added, the first line it replaces (else the line it
    follows), with whether the patch added it. A hunk whose context differs is an error naming ``name``."""
    old = text.splitlines(keepends=True)
    out: list[str] = []
    source: list[tuple[int, bool]] = []
    at = 0  # lines of ``old`` consumed
    lines = diff.splitlines(keepends=True)
    hunks = [n for n, line in enumerate(lines) if line.startswith("@@")]
    if not hunks:
        raise BlogtoolsError(f"{name}: not a unified diff (no @@ hunk)")
    for number, start in enumerate(hunks):
        match = _HUNK.match(lines[start])
        if not match:
            raise BlogtoolsError(f"{name}: malformed hunk header {lines[start].strip()!r}")
        first = max(int(match.group(1)) - (1 if match.group(2) != "0" else 0), 0)
        if first < at:
            raise BlogtoolsError(f"{name}: hunks overlap or are out of order")
        out += old[at:first]
        source += [(n, False) for n in range(at + 1, first + 1)]
        at = first
        replaced = 0  # the first line removed since the last context line: what added lines replace
        end = hunks[number + 1] if number + 1 < len(hunks) else len(lines)
        for line in lines[start + 1 : end]:
            kind, body = line[:1], line[1:]
            if kind in (" ", "-"):
                if at >= len(old) or old[at].rstrip("\n") != body.rstrip("\n"):
                    raise BlogtoolsError(f"{name}: does not apply: line {at + 1} of the block is not {body.rstrip()!r}")
                if kind == " ":
                    out.append(old[at])
                    source.append((at + 1, False))
                    replaced = 0
                else:
                    replaced = replaced or at + 1
                at += 1
            elif kind == "+":
                out.append(body if body.endswith("\n") else body + "\n")
                source.append((replaced or max(at, 1), True))
            elif kind != "\\":  # "\ No newline at end of file"
                raise BlogtoolsError(f"{name}: unexpected line in a hunk: {line.rstrip()!r}")
    out += old[at:]
    source += [(n, False) for n in range(at + 1, len(old) + 1)]
    return "".join(out), source


def _read(path: Path, entry: Entry, field: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BlogtoolsError(f"{entry.id}: {field} {path} cannot be read ({exc})") from None


def module_path(project: Project, entry: Entry, working: bool = False) -> Path:
    """Where the entry's assembled module goes: ``<build>/published/<post>/<block stem>[.working].<ext>``."""
    stem = Path(entry.file).stem + (".working" if working else "")
    return (project.build_dir / FOLDER / entry.post / f"{stem}.{extension(entry)}").resolve()


def _patched_block(folder: Path, entry: Entry, working: bool) -> tuple[str, list[tuple[int, bool]]]:
    """The reviewed block's text with its patch (and, ``working``, its working_patch) applied, and
    for each line the block line it is or replaces, and whether a patch added it."""
    block = _read(folder / entry.file, entry, "block")
    lines = [(n, False) for n in range(1, len(block.splitlines()) + 1)]
    for field in ("patch", "working_patch") if working else ("patch",):
        name = getattr(entry, field)
        if name:
            block, mapped = apply_patch(block, _read(folder / name, entry, field), name)
            base = lines or [(1, False)]  # an empty block: what a patch adds is at its line 1
            lines = [(base[n - 1][0], added or base[n - 1][1]) for n, added in mapped]
    return (block if not block or block.endswith("\n") else block + "\n"), lines


def assemble(project: Project, entry: Entry, working: bool = False) -> Form:
    """The entry's published form (``working``: its nearest working form, the ``working_patch``
    applied on top of the ``patch``), read from the reviewed block file and the harness files."""
    if not has_form(entry):
        raise BlogtoolsError(f"{entry.id}: no published form (the manifest names no prelude or epilogue)")
    if working and not entry.working_patch:
        raise BlogtoolsError(f"{entry.id}: no working form (the manifest names no working_patch)")
    folder = project.snippets_dir / entry.post
    block, lines = _patched_block(folder, entry, working)
    origins: list[str] = []
    parts: list[str] = []
    if entry.prelude:
        text = _read(folder / entry.prelude, entry, "prelude")
        parts.append(text if text.endswith("\n") else text + "\n")
        origins += [f"{entry.prelude}:{n}" for n in range(1, len(text.splitlines()) + 1)]
    origins += [f"{entry.file}:{line}" + (" (patched)" if added else "") for line, added in lines]
    parts.append(block)
    if entry.epilogue:
        text = _read(folder / entry.epilogue, entry, "epilogue")
        parts.append(text)
        origins += [f"{entry.epilogue}:{n}" for n in range(1, len(text.splitlines()) + 1)]
    around = len(origins) - sum(not added for _, added in lines)
    return Form(entry, "".join(parts), module_path(project, entry, working), tuple(origins), around)


def harness_text(snippets_dir: Path, entry: Entry, field: str) -> str:
    """The text of one of the entry's harness files (``prelude``, ``epilogue``, ``patch``, ``working_patch``)."""
    return _read(Path(snippets_dir) / entry.post / getattr(entry, field), entry, field)


def problems(snippets_dir: Path, entry: Entry) -> list[str]:
    """What is wrong with an entry's published form, for ``blogtools check``: a language Node does
    not run, a missing harness file, a patch that does not apply, a working form of a block not
    expected to fail, a TypeScript form without the committed tsconfig."""
    if not has_form(entry):
        named = [field for field in ("patch", "working_patch") if getattr(entry, field)]
        return [f"{named[0]} without a published form: name a prelude or an epilogue"] if named else []
    try:
        typescript = extension(entry) == "mts"
    except BlogtoolsError as exc:
        return [str(exc).partition(": ")[2]]
    found = []
    folder = Path(snippets_dir) / entry.post
    for field in ("prelude", "epilogue", "patch", "working_patch"):
        name = getattr(entry, field)
        if name and not (folder / name).is_file():
            found.append(f"{field} {folder / name} does not exist")
    if entry.working_patch and not entry.expect_error:
        found.append("working_patch is the nearest working form of a block that fails as published: set expect_error")
    if not found:
        for working in (False, True) if entry.working_patch else (False,):
            try:
                _patched_block(folder, entry, working)
            except BlogtoolsError as exc:
                found.append(str(exc))
    if typescript and not (Path(snippets_dir) / TSCONFIG).is_file():
        found.append(f"a TypeScript published form is type-checked against {Path(snippets_dir) / TSCONFIG}, which does not exist")
    return found


_IMPORT = re.compile(r"""^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]""", re.M)


def npm_packages(project: Project, entry: Entry) -> dict[str, str]:
    """The npm packages a published form imports (following its imports of sibling forms), with the
    versions ``package-lock.json`` pins: what ran, while the lock file's hash is in the record."""
    forms = {module_path(project, sibling).name: sibling for sibling in manifest.read(project.snippets_dir).values()
             if sibling.post == entry.post and sibling.is_block and has_form(sibling)}
    try:
        lock = json.loads((project.root / "package-lock.json").read_text(encoding="utf-8")).get("packages", {})
    except (OSError, ValueError):
        lock = {}
    found: dict[str, str] = {}
    seen, todo = set(), [entry]
    while todo:
        current = todo.pop()
        seen.add(current.id)
        for match in _IMPORT.finditer(assemble(project, current).text):
            specifier = match.group(1) or match.group(2)
            if specifier.startswith("./"):
                sibling = forms.get(specifier[2:])
                if sibling is not None and sibling.id not in seen:
                    todo.append(sibling)
            elif not specifier.startswith(("node:", "/", "../")):
                name = "/".join(specifier.split("/")[: 2 if specifier.startswith("@") else 1])
                found[name] = str(lock.get(f"node_modules/{name}", {}).get("version", ""))
    return {name: version for name, version in sorted(found.items()) if version}


def write_post(project: Project, entry: Entry, working: bool = False) -> tuple[Form, dict[Path, Form]]:
    """Write every reviewed published form of ``entry``'s post (its siblings may import each other)
    and return ``entry``'s (refused when its block drifted) and all of them by path. A drifted
    sibling's module is removed rather than left stale. Only a runnable (so curated, reviewed)
    entry's form is written: unreviewed feed code runs only in the sandbox."""
    if entry.status != manifest.RUNNABLE:
        raise BlogtoolsError(f"{entry.id}: not runnable: only a block an author reviewed and made runnable runs on the host")
    review.ensure_reviewed(project, entry)
    entries = manifest.read(project.snippets_dir)
    forms: dict[Path, Form] = {}
    for sibling in entries.values():
        if sibling.post != entry.post or not sibling.is_block or not has_form(sibling) or sibling.status != manifest.RUNNABLE:
            continue
        variants = (False, True) if sibling.working_patch else (False,)
        if review.drift_of(project, sibling) is not None:
            for variant in variants:
                module_path(project, sibling, variant).unlink(missing_ok=True)
            continue
        for variant in variants:
            form = assemble(project, sibling, variant)
            write_if_changed(form.path, form.text.encode("utf-8"))
            forms[form.path] = form
    return forms[module_path(project, entry, working)], forms


def locate(text: str, forms: Mapping[Path, Form], root: Path | None = None) -> str:
    """``text`` (a compiler's or runtime's output) with every reference to a line of an assembled
    module (``path:12:5``, ``path(12,5)``, ``file://path:12:5``) replaced by where that line came from."""
    for path, form in forms.items():
        pattern = re.compile(r"(?:file://)?" + re.escape(str(path)) + r"(?::(\d+)(?::(\d+))?|\((\d+),(\d+)\))")
        text = pattern.sub(lambda m: _where(form, m), text)
        relative = _relative(path, root)
        if relative != str(path):
            pattern = re.compile(re.escape(relative) + r"\((\d+),(\d+)\)")
            text = pattern.sub(lambda m: _where(form, m, 1), text)
    return text


def _where(form: Form, match: re.Match, first: int | None = None) -> str:
    groups = match.groups()
    line, column = (groups[first - 1], groups[first]) if first else (groups[0] or groups[2], groups[1] or groups[3])
    if line is None:
        return form.path.name
    where = form.origin(int(line))
    return f"{where}:{column}" if column and "(patched)" not in where else where


def _relative(path: Path, root: Path | None) -> str:
    try:
        return str(path.relative_to(Path(root or Path.cwd()).resolve()))
    except ValueError:
        return str(path)
