"""The generated reference holds every command, its usage and every option, as the CLI prints them."""

import cli_reference
from click.testing import CliRunner

from blogtools.cli import main as blogtools


def generated(folder, monkeypatch) -> str:
    monkeypatch.setenv("BLOGTOOLS_FIGURES_DIR", str(folder))
    assert cli_reference.main() == 0
    return (folder / "cli_reference.md").read_text()


def test_every_command_has_its_section_with_what_help_prints(tmp_path, monkeypatch):
    text = generated(tmp_path, monkeypatch)
    assert set(blogtools.commands) >= {"new", "build", "serve", "curate", "test", "check"}
    for name, command in blogtools.commands.items():
        printed = CliRunner().invoke(blogtools, [name, "--help"], prog_name="blogtools",
                                 terminal_width=cli_reference.WIDTH).stdout
        assert f"### blogtools {name}" in text and printed in text, name
        for param in command.params:
            for flag in (opt for opt in param.opts if opt.startswith("-")):
                assert flag in printed, (name, flag)


def test_the_commands_appear_in_the_order_help_lists_them(tmp_path, monkeypatch):
    text = generated(tmp_path, monkeypatch)
    own = [name for name in sorted(blogtools.commands) if name not in blogtools.plugin_commands]
    positions = [text.index(f"### blogtools {name}\n") for name in own]
    assert positions == sorted(positions)
