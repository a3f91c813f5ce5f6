"""Absurd's schema for this essay's modules and tests: the SQL bundled in the pinned ``absurdctl``
wheel (Absurd 0.5.1), installed through the harness's schema templates (no ``psql``, no network)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import absurdctl

from blogtools.errors import BlogtoolsError
from blogtools.harness import postgres

VERSION = "0.5.1"


def schema_sql() -> str:
    """The bundled schema SQL, after checking it is the version these modules were written for."""
    if absurdctl.ABSURD_SCHEMA_TARGET_VERSION != VERSION:
        raise BlogtoolsError(
            f"absurdctl bundles Absurd {absurdctl.ABSURD_SCHEMA_TARGET_VERSION}, this essay's modules expect "
            f"{VERSION}: fix the pin of absurdctl"
        )
    return absurdctl.BUNDLED_SCHEMA_SQL


@contextlib.contextmanager
def absurd_database(server: str | None = None) -> Iterator[str]:
    """A scratch database with the Absurd schema on ``server`` (default: the harness server), dropped after."""
    with postgres.temporary_database(server, schema_sql=schema_sql()) as dsn:
        yield dsn
