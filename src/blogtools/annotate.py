"""The render transform that shows each code block's status right under it.

Under every fenced block of a post page goes one line: a runnable block's evidence, the recorded
result of its last run (``blogtools.evidence``: "✓ Verified since <date> · N tests · Python 3.11",
"✗ Failing since ...", "⟳ Out of date: ...", "◌ Not verified yet"), with its modules, tests
(linked), notes and versions folded into a collapsible block under it; or "Illustrative:
<reason>". A block nobody has curated shows its triage verdict ("Runs: prints 3 lines", its output folded
under it; "Defines parse_args; nothing called"; "Output differs from the post", the diff folded
under it; "Needs numpy"; "Illustrative (by triage): directory tree")
or why it has none ("◌ Not triaged: sandbox not available (...)"). When the runnable form differs from what
was published (its notes say how), the block becomes a pymdownx.tabbed pair "As published (…)" |
"Runnable (Python)" whose second tab holds the module file as it is when the site is built (read
from ``snippets/`` at each render, never a committed copy that can drift), followed by the list of
differences. A block with a published form (``blogtools.published``: the block itself runs, inside
harness files) keeps its fence; its harness (prelude, patch, epilogue) folds under the line, the
nearest working form of a block that fails as published shows as a diff, and a Python module
beside it is a "Python port" tab. The result is plain Markdown, so MkDocs and Zensical render it alike. (No Markdown
include extension is used: a feed's code block could otherwise include files into the page.)
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from blogtools import badges, languages, mdwrite, published
from blogtools.blocks import CodeBlock, block_id, find_blocks, relabel_fence
from blogtools.errors import BlogtoolsError
from blogtools.evidence import (
    EXPECTED_FAILURE,
    ILLUSTRATIVE,
    PASSED,
    SKIPPED,
    UNRECORDED,
    VERIFIED,
    Evidence,
    triage_state,
)
from blogtools.manifest import RUNNABLE, Entry

_EDIT_URI_BRANCH = re.compile(r"^(?:edit|blob|tree)/([^/]+)/")
_CODE_SPAN = re.compile(r"`([^`]+)`")
UNCHECKED = "unchecked"  # a block with no manifest entry (``blogtools.badges`` has its row)


@dataclass(frozen=True)
class SourceLinks:
    """Where links to modules and tests point: ``<repo_url>/blob/<branch>/<path>``, or nowhere."""

    root: Path
    repo_url: str | None = None
    branch: str = "main"
    snippets: str = "snippets"
    folder: str = ""  # the site's folder in its repository ("" at the top, "docs/" for one in docs/)

    def url(self, path: str, line: int | None = None) -> str | None:
        """The link to ``path`` (relative to the site's folder) in the repository (at ``line`` if
        given), or None with no repo_url."""
        if not self.repo_url:
            return None
        return f"{self.repo_url.rstrip('/')}/blob/{self.branch}/{self.folder}{path}" + (f"#L{line}" if line else "")

    @classmethod
    def for_repo(cls, root: Path, repo_url: str | None, edit_uri: str | None = None) -> SourceLinks:
        """Links from mkdocs.yml's ``repo_url``, on the branch ``edit_uri`` names (else main), to
        the site's files where its folder sits in the git checkout that holds it."""
        branch = _EDIT_URI_BRANCH.match(edit_uri or "")
        here = Path(root).resolve()
        top = next((folder for folder in (here, *here.parents) if (folder / ".git").exists()), here)
        folder = "" if top == here else here.relative_to(top).as_posix() + "/"
        return cls(Path(root), repo_url or None, branch.group(1) if branch else "main", folder=folder)


def _link(label: str, url: str | None) -> str:
    code = f"<code>{html.escape(label)}</code>"
    return f'<a href="{html.escape(url)}">{code}</a>' if url else code


def _test_line(root: Path, test_id: str) -> int | None:
    """The line of the test function a node id names, for a link straight to it."""
    path, _, rest = test_id.partition("::")
    name = rest.rsplit("::", 1)[-1].split("[", 1)[0]
    try:
        lines = (root / path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    pattern = re.compile(rf"^\s*(async\s+)?def {re.escape(name)}\b")
    return next((n for n, line in enumerate(lines, start=1) if name and pattern.match(line)), None)


def anchor(name: str | int) -> str:
    """The id a block's anchor has on its page, "code-01" (a companion: "code-" and its name), that
    its badge, /examples/ and the CLI link to."""
    text = f"{name:02}" if isinstance(name, int) else re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")
    return f"code-{text}"


def link(post_url: str, name: str | int) -> str:
    """The address of a block on its post page: ``post_url#code-NN``."""
    return f"{post_url}#{anchor(name)}"


def _anchor_html(ident: str) -> str:
    return f'<div class="bt-anchor" id="{ident}"></div>'


def _author_text(text: str) -> str:
    """Text an author wrote in the manifest (a reason, a note) as Markdown: angle brackets and
    ampersands escaped, `code spans` kept as code."""
    return _CODE_SPAN.sub(r"<code>\1</code>", html.escape(text.strip(), quote=False))


def state_of(entry: Entry | None, found: Evidence | None) -> str:
    """The evidence state a block's badge shows (``unchecked``: the block has no manifest entry)."""
    if entry is None:
        return UNCHECKED
    if not entry.untriaged and entry.status != RUNNABLE:
        return ILLUSTRATIVE
    return (found or (triage_state(None) if entry.untriaged else UNRECORDED)).state


def headline(entry: Entry | None, block: CodeBlock | None, found: Evidence | None) -> str:
    """The badge's words as Markdown: the table's icon and words (``blogtools.badges``) and what
    this block's evidence adds, naming what was verified when it is not the block itself."""
    state = state_of(entry, found)
    row = badges.badge(state)
    if entry is None:
        return f"{row.icon} {row.words}"
    if not entry.untriaged and entry.status != RUNNABLE:
        return f"{row.icon} {row.words}: {_author_text(entry.reason or 'no reason given')}"
    found = found or (triage_state(None) if entry.untriaged else UNRECORDED)
    if state == VERIFIED and found.record:
        tests = sum(result.outcome == PASSED for result in found.record.tests.values())
        if found.label.startswith(f"{row.icon} Runs as published"):
            words = "Runs as published"
        elif entry.is_block and entry.notes and entry.modules:  # the module ran, not the block as shown
            shown = languages.label(block.language if block is not None else entry.language)
            words = "Runnable form verified" if shown == "Python" else "Python port verified"
        else:
            words = row.words
        return f"{row.icon} {words} · {tests} test{'s' * (tests != 1)}{_stale(entry, block)}"
    label = found.label.lstrip(_ICONS).strip()
    return f"{row.icon} {mdwrite.escape_text(label) if found.verdict else html.escape(label, quote=False)}{_stale(entry, block)}"


def _stale(entry: Entry, block: CodeBlock | None) -> str:
    if entry.untriaged or block is None or entry.sha256 == block.sha256:
        return ""
    return " (the essay changed this block since; the runnable form may lag behind)"


_ICONS = "".join({row.icon for row in badges.BADGES.values()}) + " "


def badge(state: str, words: str, body: list[str]) -> list[str]:
    """The badge under a block: one line, "icon words", styled by its state's tone, and when there
    is more to show (``body``, Markdown) the one disclosure that opens under it."""
    row = badges.badge(state)
    title = f"{words}".replace("\n", " ")
    classes = f"bt-badge bt-{row.tone} bt-state-{state}"
    if not body:
        return [f'!!! {classes} "{title}"']
    return [f'??? {classes} "{title}"', "", *mdwrite.indent(body)]


def label_html(state: str, words: str) -> str:
    """A state's words (``headline``) as one inline HTML element in its tone (the /examples/ rows)."""
    row = badges.badge(state)
    return f'<span class="bt-label bt-{row.tone} bt-state-{state}">{words}</span>'


def output_part(found: Evidence | None) -> list[str]:
    """A triage run's output, for the disclosure (nothing when it printed nothing), or for output
    that differs from the post's, how it differs: only ever through a fence longer than any
    backtick run inside it."""
    verdict = found.verdict if found else None
    if verdict is not None and verdict.diff:
        title, text, language = "How the output differs from the post:", verdict.diff, "diff"
    else:
        title, text, language = "Output of the run in the sandbox:", verdict.output if verdict else "", "text"
    if not text:
        return []
    return [title, "", *mdwrite.fence(text, language).splitlines()]


def details(entry: Entry, links: SourceLinks, found: Evidence | None) -> list[str]:
    """What a runnable entry's disclosure holds: its modules, its tests (linked, with each one's
    recorded result), the notes on how it differs, and what the last run had (the versions of the
    packages its runnable form imports, not the tool's)."""
    record = found.record if found else None
    parts = [_link(module, links.url(f"{links.snippets}/{entry.post}/{module}")) for module in entry.modules]
    out = [f"Modules: {' · '.join(parts)}", ""] if parts else []
    out += ["Tests:", ""]
    for test in entry.tests:
        link = _link(test.rpartition("::")[2] or test, links.url(test.partition("::")[0], _test_line(links.root, test)))
        result = record.tests.get(test) if record else None
        mark = {"passed": "✓ ", "failed": "✗ ", "skipped": "◌ "}.get(result.outcome, "") if result else ""
        error = f": {html.escape(result.error)}" if result and result.error else ""
        out.append(f"- {mark}{link}{error}")
    if entry.notes:
        out += ["", "Differences from the published code:", ""] + [f"- {_author_text(note)}" for note in entry.notes]
    if found is not None and found.record is not None:
        out += ["", f"Evidence: {html.escape(found.label)} (recorded {html.escape(found.record.since)})."]
    return out


def harness(entry: Entry, snippets_dir: Path, found: Evidence | None = None) -> list[str]:
    """A published form's harness, for the disclosure: for a block that fails as published, first
    its nearest working form as a diff of the block; then the prelude and epilogue as code, the
    patch as a diff of the block, read from ``snippets/`` at each render. The working form is said
    to run only when its evidence
    (``found``) is a failure as expected with no test skipped, so the working form's own tests passed."""
    parts = (("prelude", "Before the block", entry.language), ("patch", "The patch that fills what the block elides", "diff"),
             ("epilogue", "After the block", entry.language))
    out = []
    if entry.working_patch:  # first: what a reader of a block that fails wants
        runs = found is not None and found.state == EXPECTED_FAILURE and found.record is not None \
            and all(result.outcome != SKIPPED for result in found.record.tests.values())
        out += [f"Its nearest working form, as a diff of the block{' (its tests pass)' if runs else ''}:", "",
                *mdwrite.fence(published.harness_text(snippets_dir, entry, "working_patch"), "diff").splitlines(), ""]
    out += [f"The harness it runs in ({_around(entry, snippets_dir)}):", ""]
    for field, title, language in parts:
        name = getattr(entry, field)
        if name:
            text = published.harness_text(snippets_dir, entry, field)
            out += [f"{title} (<code>{html.escape(name)}</code>):", "", *mdwrite.fence(text, language).splitlines(), ""]
    return out[:-1]


def _around(entry: Entry, snippets_dir: Path) -> str:
    counts = {field: len(published.harness_text(snippets_dir, entry, field).splitlines())
              for field in ("prelude", "epilogue") if getattr(entry, field)}
    return ", ".join(f"{count} lines {'before' if field == 'prelude' else 'after'}" for field, count in counts.items()) \
        + (", and a patch" if entry.patch else "")


def _prefix(line: str) -> str:
    """What stands before a fence marker (indentation, ``>``), as it must stand before added lines."""
    lead = re.match(r"^[^`~]*", line).group(0)
    return "".join(char if char in " >" else " " for char in lead)


def module_fence(snippets_dir: Path, entry: Entry, module: str) -> list[str]:
    """The module file as a fenced Python block, its fence longer than any backtick run inside."""
    path = Path(snippets_dir) / entry.post / module
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BlogtoolsError(f"{path}: module of {entry.id} cannot be read ({exc})") from None
    return mdwrite.fence(text, "python").splitlines()


def _as_curated(entry: Entry | None, block: CodeBlock, fence: list[str]) -> tuple[str, list[str]]:
    """The block's language and fence as the author decided: a curated entry's language names the
    published fence (the feed's markup may have lost it, and a guess is only a guess)."""
    if entry is None or not entry.curated or not entry.language or entry.language == block.language:
        return block.language, fence
    prefix = _prefix(fence[0])
    opening = relabel_fence(fence[0][len(prefix):], entry.language)
    if opening == fence[0][len(prefix):]:
        return block.language, fence
    return entry.language, [prefix + opening, *fence[1:]]


def _tabs(entry: Entry, language: str, fence: list[str], prefix: str, snippets_dir: Path) -> list[str]:
    """The published fence and the module(s) as a pymdownx.tabbed group (lines without ``prefix``)."""
    name = languages.label(language)
    label = f"As published ({name})" if name else "As published"
    out = mdwrite.tab(label, [line[len(prefix) :] for line in fence], blank_lines=True) + [""]
    port = "Python port" if published.has_form(entry) else "Runnable (Python)"  # the block itself runs, or the module instead
    for module in entry.modules:
        label = port + (f": {module}" if len(entry.modules) > 1 else "")
        out += mdwrite.tab(label, module_fence(snippets_dir, entry, module)) + [""]
    return out[:-1]


def _under(prefix: str, lines: list[str]) -> list[str]:
    """``lines`` placed inside the same container as the fence (blank lines keep only a ``>``)."""
    return [prefix + line if line else prefix.rstrip() for line in lines]


def annotate(
    markdown: str, slug: str, entries: Mapping[str, Entry], links: SourceLinks, snippets_dir: Path,
    found: Mapping[str, Evidence] | None = None,
) -> str:
    """``markdown`` (a post page, front matter allowed) with each block's status under it (from
    ``found``, the entries' evidence), tabs where the runnable form differs (a runnable entry with
    modules and notes), and a runnable entry's details folded under the line."""
    found = found or {}
    lines = markdown.splitlines(keepends=True)
    for block in reversed(find_blocks(markdown)):
        ident = block_id(slug, block.ordinal)
        entry = entries.get(ident)
        language, fence = _as_curated(entry, block, [line.rstrip("\n") for line in lines[block.start - 1 : block.end]])
        prefix = _prefix(fence[0])
        evidence = found.get(ident)
        body: list[str] = []
        if entry is not None and entry.untriaged:
            body = output_part(evidence)
        if entry is not None and entry.status == RUNNABLE:
            if entry.modules and (entry.notes or published.has_form(entry)):
                fence = _under(prefix, _tabs(entry, language, fence, prefix, snippets_dir))
            if published.has_form(entry):
                body += harness(entry, snippets_dir, evidence) + [""]
            body += details(entry, links, evidence)
        added = ["", *badge(state_of(entry, evidence), headline(entry, block, evidence), body), ""]
        before = [_anchor_html(anchor(block.ordinal)), ""]
        lines[block.start - 1 : block.end] = [line + "\n" for line in _under(prefix, before) + fence + _under(prefix, added)]
    return "".join(lines)


def companions(
    slug: str, entries: Mapping[str, Entry], links: SourceLinks, snippets_dir: Path, figures: Path | None,
    found: Mapping[str, Evidence] | None = None,
) -> str:
    """Markdown for the post's standalone runnable entries (modules no block shows), or "".

    Each gets the section its script wrote to ``figures/<name>.md`` when there is one (its files
    referenced as ``../figures/<slug>/<file>``, where render copies them) or else a heading, then
    its status line, its details folded, and each module in a collapsed block.
    """
    found = found or {}
    sections = []
    for entry in sorted(entries.values(), key=lambda e: e.id):
        if entry.post != slug or entry.is_block or entry.status != RUNNABLE:
            continue
        name = entry.id.rpartition("/")[2]
        measured = figures / f"{name}.md" if figures else None
        if measured is not None and measured.is_file():  # the script's own section, heading and all
            text = measured.read_text(encoding="utf-8")
            for produced in sorted(figures.iterdir()):
                text = text.replace(f"]({produced.name})", f"](../figures/{slug}/{produced.name})")
            out = [text.strip(), ""]
        else:
            out = [f"## Runnable companion: {name}", ""]
        evidence = found.get(entry.id)
        out = [_anchor_html(anchor(name)), "", *out]
        out += [*badge(state_of(entry, evidence), headline(entry, None, evidence), details(entry, links, evidence)), ""]
        for module in entry.modules:
            out += [f'??? example "Runnable (Python): {module}"', ""] + mdwrite.indent(module_fence(snippets_dir, entry, module))
            out += [""]
        sections.append("\n".join(out).rstrip() + "\n")
    return "\n".join(sections)
