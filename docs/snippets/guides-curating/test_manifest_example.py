"""The manifest table the curating guide shows holds only fields an entry has, with valid values."""

import dataclasses
import tomllib
from pathlib import Path

from blogtools import manifest

HERE = Path(__file__).parent


def test_the_table_is_a_runnable_entry_s_curated_fields():
    text = (HERE / manifest.read(HERE.parent)["guides-curating/02"].file).read_text()
    ((ident, table),) = tomllib.loads(text).items()
    assert manifest.is_block_id(ident)
    assert set(table) <= {field.name for field in dataclasses.fields(manifest.Entry)}
    assert table["status"] in manifest.STATUSES and table["tests"] and not table["reason"]
    assert all(module.endswith(".py") and "/" not in module for module in table["modules"])
    assert table["notes"]  # required: the block is TypeScript, the module Python
