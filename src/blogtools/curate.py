"""``blogtools curate``: decide a block from the command line instead of editing manifest.toml.

One entry changes: illustrative with a reason, runnable with its modules and tests, or its
language. The new entry is checked as ``blogtools check`` would check it (modules exist, pytest
collects the tests, a Python form of another language's block says how it differs) before
anything is written; then manifest.toml is rewritten atomically by tomlkit, so every other byte
of it (formatting, comments, other entries) stays as it was.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import tomlkit

from blogtools import check, languages, manifest, review
from blogtools.errors import BlogtoolsError
from blogtools.manifest import Entry
from blogtools.project import Project


def curate(project: Project, ident: str, *, reason: str | None = None, modules: tuple[str, ...] = (),
           tests: tuple[str, ...] = (), notes: tuple[str, ...] = (), language: str | None = None) -> Entry:
    """Set entry ``ident`` illustrative (``reason``), runnable (``modules``, ``tests``: they replace
    the entry's lists) and/or its ``language``; ``notes`` replace its notes. Return the new entry.

    Anything wrong (no such entry, a module or test that does not exist, an unknown language, an
    uncurated entry given only a language) is a BlogtoolsError and the manifest is left untouched.
    """
    path = project.snippets_dir / manifest.NAME
    entries = manifest.read(project.snippets_dir)
    if ident not in entries:
        raise BlogtoolsError(f"{ident}: no such entry in {path} (`blogtools snippets` lists them)")
    entry = entries[ident]
    changes = _changes(entry, reason, modules, tests, notes, language)
    new = dataclasses.replace(entry, **changes)
    _validate(project, new)
    doc = manifest.load(path)
    table = doc[ident]
    for key, value in changes.items():
        table[key] = _toml(value)
    renamed = new.file != entry.file
    if renamed:
        _copy_snippet(project.snippets_dir, entry, new.file)
    manifest.save(doc, path)
    if renamed:
        _remove_snippet(project.snippets_dir, entry)
    return new


def _changes(entry: Entry, reason, modules, tests, notes, language) -> dict:
    """The fields the options change, as typed values; an error for a contradictory or empty request."""
    if reason is not None and (modules or tests):
        raise BlogtoolsError(f"{entry.id}: give --illustrative or --runnable/--tests, not both")
    changes: dict = {}
    if reason is not None:
        if not reason.strip():
            raise BlogtoolsError(f"{entry.id}: --illustrative needs a reason (why the block is shown, not run)")
        changes |= {"status": manifest.ILLUSTRATIVE, "reason": reason.strip(), "modules": (), "tests": ()}
    elif modules or tests:
        changes |= {"status": manifest.RUNNABLE, "reason": "", "modules": tuple(modules), "tests": tuple(tests)}
    if notes:
        changes["notes"] = tuple(notes)
    if language is not None:
        known = languages.lookup(language)
        if known is None or not entry.is_block:
            where = "a standalone entry has no language" if known else "not a language blogtools knows"
            raise BlogtoolsError(f"{entry.id}: --language {language}: {where}")
        changes["language"] = known.name
        if entry.file:  # the block's file takes the language's extension
            changes["file"] = f"{Path(entry.file).stem}.{languages.extension(known.name)}"
    if not changes:
        raise BlogtoolsError(f"{entry.id}: nothing to change: give --illustrative REASON, --runnable MODULE "
                             "--tests TEST, or --language NAME")
    return changes


def _validate(project: Project, entry: Entry) -> None:
    """The first problem ``blogtools check`` would find with the entry's curated fields, as an error."""
    if not entry.curated:
        raise BlogtoolsError(f"{entry.id}: not curated, so `blogtools extract` would take its language from the "
                             "page again: give --illustrative REASON or --runnable MODULE --tests TEST with --language")
    for module in entry.modules:
        if Path(module).name != module or module in (".", ".."):
            raise BlogtoolsError(f"{entry.id}: --runnable {module}: give the file's name in "
                                 f"{project.snippets_dir / entry.post}/, not a path")
    collected, problems = check.collect_test_ids(entry.tests, project.root)
    found = [problem.message for problem in problems]
    found += [message for _, message in check.entry_problems(entry, project.snippets_dir, collected)]
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise BlogtoolsError(f"{entry.id}: {found[0]}{more}; the manifest is unchanged")


def _toml(value):
    """A field's value for tomlkit: a non-empty list one item a line, as extract writes them."""
    if not isinstance(value, tuple):
        return value
    array = tomlkit.array()
    array.extend(value)
    return array.multiline(bool(value))


def _copy_snippet(snippets_dir: Path, old: Entry, name: str) -> None:
    """Put the block's reviewed file (and its drifted ``.new`` text) under the new name, before the
    manifest names it; the old files go once the manifest is written."""
    folder = snippets_dir / old.post
    for source, target in ((folder / old.file, folder / name),
                           (review.new_file(snippets_dir, old), folder / (name + review.NEW_SUFFIX))):
        if source.is_file():
            temporary = target.with_name(f".{target.name}.tmp")
            temporary.write_bytes(source.read_bytes())
            os.replace(temporary, target)


def _remove_snippet(snippets_dir: Path, old: Entry) -> None:
    for stale in (snippets_dir / old.post / old.file, review.new_file(snippets_dir, old)):
        stale.unlink(missing_ok=True)
