"""Runnable Python blocks of the essays, executed where they stand with pytest-examples.

A Python block of content/posts whose manifest entry is ``runnable`` runs here, its printed
output checked against the ``#>`` lines under each print. Its manifest ``tests`` name
``tests/test_content_examples.py::test_runnable_python_block[<post>/<NN>]``. The content and
snippets folders are those of the site at the pytest rootdir, so the same file serves any blogtools site.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_examples import find_examples

from blogtools import manifest, project
from blogtools.blocks import block_id, find_blocks
from blogtools.content import post_pages, read_text


def runnable_python_blocks(root: Path) -> list:
    """pytest params, one per runnable Python block of the site at ``root``, with the block id as test id."""
    site = project.load(start=root)
    if not site.posts_dir.is_dir() or not (site.snippets_dir / manifest.NAME).is_file():
        return []
    entries = manifest.read(site.snippets_dir)
    params = []
    for page in post_pages(site.posts_dir):
        ids = {block.start: block_id(page.stem, block.ordinal) for block in find_blocks(read_text(page))}
        for example in list(find_examples(page)):
            entry = entries.get(ids.get(example.start_line, ""))
            if entry is not None and entry.status == "runnable":
                params.append(pytest.param(example, id=entry.id))
    return params


def pytest_generate_tests(metafunc):
    if "python_block" in metafunc.fixturenames:
        blocks = runnable_python_blocks(metafunc.config.rootpath) or [pytest.param(None, id="none", marks=pytest.mark.skip(
            reason="content/ has no runnable Python block; test_extract.py runs a fixture page's through this file"
        ))]
        metafunc.parametrize("python_block", blocks)


def test_runnable_python_block(python_block, eval_example):
    try:
        eval_example.run_print_check(python_block)
    except Exception as exc:
        # pytest-examples points the traceback at the page with forged frames that pytest cannot
        # render on Python 3.11 (INTERNALERROR); report the failure by the block's place instead.
        raise AssertionError(
            f"{python_block.path.name}:{python_block.start_line}: {type(exc).__name__}: {exc}"
        ) from None
