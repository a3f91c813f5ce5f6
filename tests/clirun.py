"""The blogtools command line run in the test's own process, the one way every test does it."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner

from blogtools.cli import main


def invoke(*args: str, cwd: Path | None = None, command=main):
    """``command`` (the blogtools CLI) with ``args``, in ``cwd`` when given; stdout and stderr apart.

    Exceptions are not caught: a traceback fails the test instead of passing as exit status 1
    (the BlogtoolsError that the CLI reports as one error line still gives exit status 1).
    """
    old = Path.cwd()
    os.chdir(cwd or old)
    try:
        return CliRunner().invoke(command, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)
