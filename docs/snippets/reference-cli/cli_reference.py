"""The command-line reference of the docs: every `blogtools` command's help, as click prints it.

`blogtools run reference-cli/cli_reference` writes `cli_reference.md` into the folder it is given
(BLOGTOOLS_FIGURES_DIR); render puts that section on the reference page.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from blogtools.cli import main as blogtools

WIDTH = 100  # columns: what `blogtools COMMAND --help` prints in a terminal this wide


def command_help(name: str) -> str:
    """What `blogtools NAME --help` prints."""
    root = click.Context(blogtools, info_name="blogtools", terminal_width=WIDTH)
    command = blogtools.commands[name]
    return command.get_help(click.Context(command, info_name=name, parent=root))


def reference() -> str:
    """The reference as Markdown: the group's help, then one section per command, in --help's order."""
    root = click.Context(blogtools, info_name="blogtools", terminal_width=WIDTH)
    own = [name for name in blogtools.list_commands(root) if name not in blogtools.plugin_commands]
    out = ["## Commands", "", "```text", blogtools.get_help(root), "```", ""]
    for name in own + sorted(blogtools.plugin_commands):
        added = " (added by an installed package)" if name in blogtools.plugin_commands else ""
        out += [f"### blogtools {name}{added}", "", "```text", command_help(name), "```", ""]
    return "\n".join(out)


def main(argv=None) -> int:
    folder = Path(os.environ.get("BLOGTOOLS_FIGURES_DIR") or (argv or ["."])[0])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cli_reference.md").write_text(reference(), encoding="utf-8")
    print(f"wrote {folder / 'cli_reference.md'}", file=sys.stderr)
    return 0
