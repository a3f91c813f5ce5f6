"""The README is a front door: short, and every command, option, make target, file and link it
shows exists."""

import re
import shlex
from pathlib import Path

import click

from blogtools.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def shown_commands() -> list[list[str]]:
    """Every `blogtools ...` command line the README shows: in its code blocks and inline code."""
    lines = [line.strip() for line in README.splitlines() if line.startswith("    ")]
    lines += re.findall(r"`(blogtools [^`]+)`", README)
    return [shlex.split(line.split("#")[0]) for line in lines if line.startswith("blogtools ")]


def test_the_readme_is_at_most_150_lines():
    assert len(README.splitlines()) <= 150


def test_every_blogtools_command_and_option_it_shows_exists():
    shown = shown_commands()
    assert {words[1] for words in shown} >= {"new", "build", "serve", "curate", "snippets", "test"}
    group_options = {opt for param in main.params for opt in param.opts}
    for words in shown:
        args = words[1:]
        while args and args[0] in group_options:  # the group's own option and its value
            args = args[2:]
        command = main.commands.get(args[0])
        assert command is not None, f"blogtools {args[0]}: no such command"
        options = {opt for param in command.params if isinstance(param, click.Option) for opt in param.opts}
        for word in args[1:]:
            if word.startswith("--"):
                assert word.split("=")[0] in options | {"--help"}, f"blogtools {args[0]} {word}: no such option"


def test_every_make_target_it_shows_exists():
    targets = set(re.findall(r"^([a-z]+):", (ROOT / "Makefile").read_text(), re.M))
    shown = set(re.findall(r"(?:^ +|`)make ([a-z]+)", README, re.M))
    assert {"site", "test", "docs"} <= shown <= targets


def test_every_local_link_and_image_exists():
    linked = re.findall(r"\]\(((?!https?:)[^)]+)\)", README)
    assert "docs/block-with-badge.png" in linked
    for target in linked:
        assert (ROOT / target).is_file(), target
    image = (ROOT / "docs/block-with-badge.png").read_bytes()
    assert image.startswith(b"\x89PNG\r\n\x1a\n") and len(image) < 100_000
