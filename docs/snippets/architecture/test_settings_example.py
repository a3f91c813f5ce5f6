"""The architecture page's `extra: blogtools:` block is what it says: every setting, at its default."""

import dataclasses
from pathlib import Path

import yaml

from blogtools import manifest
from blogtools.project import Settings

HERE = Path(__file__).parent


def block_text(ident: str) -> str:
    """The block's reviewed text, as extract wrote it beside this test."""
    return (HERE / manifest.read(HERE.parent)[ident].file).read_text()


def test_the_block_lists_every_setting_at_its_default():
    shown = yaml.safe_load(block_text("architecture/01"))["extra"]["blogtools"]
    assert list(shown) == [field.name for field in dataclasses.fields(Settings)]
    defaults = Settings()
    assert Settings.parse(shown, "the page") == dataclasses.replace(defaults, figures="build/figures")
    assert shown["figures"] == f"{defaults.build}/figures"  # the default Project gives figures when unset
