"""The render transform that shows each code block's status right under it.

Under every fenced block of a post page goes one line: "Runnable · tested" linking the module and
its tests in the repository, or "Illustrative: <reason>". When the runnable form differs from what
was published (its notes say how), the block becomes a pymdownx.tabbed pair "As published (…)" |
"Runnable (Python)" whose second tab holds the module file as it is when the site is built (read
from ``snippets/`` at each render, never a committed copy that can drift), followed by the list of
differences. The result is plain Markdown, so MkDocs and Zensical render it alike. (No Markdown
include extension is used: a feed's code block could otherwise include files into the page.)
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from blogtools import languages, mdwrite
from blogtools.blocks import CodeBlock, block_id, find_blocks
from blogtools.errors import BlogtoolsError
from blogtools.manifest import RUNNABLE, Entry

_EDIT_URI_BRANCH = re.compile(r"^(?:edit|blob|tree)/([^/]+)/")
_CODE_SPAN = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class SourceLinks:
    """Where links to modules and tests point: ``<repo_url>/blob/<branch>/<path>``, or nowhere."""

    root: Path
    repo_url: str | None = None
    branch: str = "main"
    snippets: str = "snippets"

    def url(self, path: str, line: int | None = None) -> str | None:
        if not self.repo_url:
            return None
        return f"{self.repo_url.rstrip('/')}/blob/{self.branch}/{path}" + (f"#L{line}" if line else "")

    @classmethod
    def for_repo(cls, root: Path, repo_url: str | None, edit_uri: str | None = None) -> SourceLinks:
        """Links from mkdocs.yml's ``repo_url``, on the branch ``edit_uri`` names (else main)."""
        branch = _EDIT_URI_BRANCH.match(edit_uri or "")
        return cls(Path(root), repo_url or None, branch.group(1) if branch else "main")


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


def status_html(entry: Entry | None, block: CodeBlock, links: SourceLinks) -> str:
    """The status line for one block: one inline HTML element (a paragraph of its own in the page,
    valid at top level and inside details or tabs), reason and labels escaped."""
    if entry is None:
        return '<span class="snippet-status snippet-unchecked">Unchecked: this block has no manifest entry yet.</span>'
    if entry.untriaged:
        return not_verified_html()
    if entry.status != RUNNABLE:
        reason = _CODE_SPAN.sub(r"<code>\1</code>", html.escape(entry.reason.strip() or "no reason given"))
        return f'<span class="snippet-status snippet-illustrative">Illustrative: {reason}</span>'
    stale = "" if entry.sha256 == block.sha256 else " (the essay changed this block since; the runnable form may lag behind)"
    return _runnable_html(entry, links, stale)


NOT_VERIFIED = "◌ Not verified yet"  # the evidence vocabulary's label for a block no run has verified


def not_verified_html() -> str:
    """The status line of a block that nothing has verified yet (not triaged, never run)."""
    return f'<span class="snippet-status snippet-not-verified">{html.escape(NOT_VERIFIED)}</span>'


def _runnable_html(entry: Entry, links: SourceLinks, suffix: str = "") -> str:
    parts = [_link(module, links.url(f"{links.snippets}/{entry.post}/{module}")) for module in entry.modules]
    parts += [
        _link(test.rpartition("::")[2] or test, links.url(test.partition("::")[0], _test_line(links.root, test)))
        for test in entry.tests
    ]
    return f'<span class="snippet-status snippet-runnable">Runnable · tested: {" · ".join(parts)}{suffix}</span>'


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


def _tabs(entry: Entry, block: CodeBlock, fence: list[str], prefix: str, snippets_dir: Path) -> list[str]:
    """The published fence and the module(s) as a pymdownx.tabbed group (lines without ``prefix``)."""
    published = languages.label(block.language)
    label = f"As published ({published})" if published else "As published"
    out = mdwrite.tab(label, [line[len(prefix) :] for line in fence], blank_lines=True) + [""]
    for module in entry.modules:
        label = "Runnable (Python)" + (f": {module}" if len(entry.modules) > 1 else "")
        out += mdwrite.tab(label, module_fence(snippets_dir, entry, module)) + [""]
    return out[:-1]


def _under(prefix: str, lines: list[str]) -> list[str]:
    """``lines`` placed inside the same container as the fence (blank lines keep only a ``>``)."""
    return [prefix + line if line else prefix.rstrip() for line in lines]


def annotate(
    markdown: str, slug: str, entries: Mapping[str, Entry], links: SourceLinks, snippets_dir: Path
) -> str:
    """``markdown`` (a post page, front matter allowed) with each block's status under it, and tabs
    where the runnable form differs (a runnable entry with modules and notes)."""
    lines = markdown.splitlines(keepends=True)
    for block in reversed(find_blocks(markdown)):
        entry = entries.get(block_id(slug, block.ordinal))
        fence = [line.rstrip("\n") for line in lines[block.start - 1 : block.end]]
        prefix = _prefix(fence[0])
        added = ["", status_html(entry, block, links)]
        if entry is not None and entry.status == RUNNABLE and entry.modules and entry.notes:
            fence = _under(prefix, _tabs(entry, block, fence, prefix, snippets_dir))
            added += ["", "Differences from the published code:", ""] + [f"- {note}" for note in entry.notes]
        added = _under(prefix, added + [""])
        lines[block.start - 1 : block.end] = [line + "\n" for line in fence + added]
    return "".join(lines)


def companions(
    slug: str, entries: Mapping[str, Entry], links: SourceLinks, snippets_dir: Path, figures: Path | None
) -> str:
    """Markdown for the post's standalone runnable entries (modules no block shows), or "".

    Each gets the section its script wrote to ``figures/<name>.md`` when there is one (its files
    referenced as ``../figures/<slug>/<file>``, where render copies them) or else a heading, then
    its status line, each module in a collapsed block, and its notes.
    """
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
        out += [_runnable_html(entry, links), ""]
        for module in entry.modules:
            out += [f'??? example "Runnable (Python): {module}"', ""] + mdwrite.indent(module_fence(snippets_dir, entry, module))
            out += [""]
        out += [f"- {note}" for note in entry.notes]
        sections.append("\n".join(out).rstrip() + "\n")
    return "\n".join(sections)
