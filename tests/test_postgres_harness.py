"""The Postgres harness: per-test databases, schema templates, the embedded server's life cycle."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from blogtools.cli import main
from blogtools.harness import postgres


def _databases(server):
    with psycopg.connect(server, autocommit=True) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def test_pg_dsn_is_an_empty_database_of_its_own(pg_dsn, pg_server_dsn):
    with psycopg.connect(pg_dsn) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()[0]
        name = conn.execute("SELECT current_database()").fetchone()[0]
    assert tables == 0
    assert name.startswith(postgres.TEST_DATABASE_PREFIX)
    assert name != psycopg.conninfo.conninfo_to_dict(pg_server_dsn).get("dbname")


def test_temporary_database_is_dropped_even_while_connected(pg_server_dsn):
    with postgres.temporary_database(pg_server_dsn) as dsn:
        name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
        lingering = psycopg.connect(dsn)  # a session left open must not stop the drop
        lingering.execute("CREATE TABLE t (x int)")
        lingering.commit()
        assert name in _databases(pg_server_dsn)
    assert name not in _databases(pg_server_dsn)
    with pytest.raises(psycopg.OperationalError):
        lingering.execute("SELECT 1")
    lingering.close()


SCHEMA = "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL); INSERT INTO notes (body) VALUES ('seed');"


def test_a_schema_database_is_a_clone_of_its_shared_template(pg_server_dsn):
    with postgres.temporary_database(pg_server_dsn, schema_sql=SCHEMA) as first, \
            postgres.temporary_database(pg_server_dsn, schema_sql=SCHEMA) as second:
        with psycopg.connect(first, autocommit=True) as conn:
            conn.execute("INSERT INTO notes (body) VALUES ('only in the first')")
        with psycopg.connect(second) as conn:
            assert conn.execute("SELECT body FROM notes").fetchall() == [("seed",)]
    name = postgres.template_database(pg_server_dsn, SCHEMA)
    assert name == postgres.template_name(SCHEMA) and postgres.template_database(pg_server_dsn, SCHEMA) == name
    with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT datistemplate, datallowconn FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
    assert row == (True, False)


def test_a_schema_that_fails_leaves_no_template_behind(pg_server_dsn):
    broken = "CREATE TABLE broken ("
    for _ in range(2):  # the second attempt fails the same way: nothing half-built was kept
        with pytest.raises(psycopg.errors.SyntaxError):
            with postgres.temporary_database(pg_server_dsn, schema_sql=broken):
                pass
    assert postgres.template_name(broken) not in _databases(pg_server_dsn)


def test_configured_url_wins_and_is_not_managed(monkeypatch):
    monkeypatch.delenv("BLOGTOOLS_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example/x")
    runner = CliRunner()
    assert runner.invoke(main, ["db", "url"], catch_exceptions=False).output.strip() == "postgresql://u@db.example/x"
    monkeypatch.setenv("BLOGTOOLS_DATABASE_URL", "postgresql://u@other/y")
    assert runner.invoke(main, ["db", "url"], catch_exceptions=False).output.strip() == "postgresql://u@other/y"
    result = runner.invoke(main, ["db", "stop"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "BLOGTOOLS_DATABASE_URL is set" in result.output


@pytest.fixture
def private_env():
    """Environment for a private embedded server in a fresh data directory under /tmp.

    Not under tmp_path: every pytest session resets /tmp/pytest-of-<user> to mode 0700, which locks
    the server's unprivileged user (when running as root) out of its own data directory.
    """
    base = Path(tempfile.mkdtemp(prefix="blogtools-pg-"))
    env = {k: v for k, v in os.environ.items() if k not in postgres.URL_VARIABLES}
    env["BLOGTOOLS_PGDATA"] = str(base / "pgdata")
    yield env
    shutil.rmtree(base, ignore_errors=True)


HOLDER = """
import sys, time
from blogtools.harness import postgres
print(postgres.server_url(), flush=True)
time.sleep(float(sys.argv[1]))
"""


@pytest.mark.slow
@pytest.mark.postgres
def test_embedded_server_stops_when_its_last_live_holder_exits(private_env):
    """A private embedded server: shared by processes, kept while one holds it, SIGKILLed holders forgotten."""
    env = private_env

    def hold(seconds):
        return subprocess.Popen([sys.executable, "-c", HOLDER, str(seconds)], env=env, stdout=subprocess.PIPE, text=True)

    def running():
        out = subprocess.run([sys.executable, "-m", "blogtools", "db", "url"], env=env, capture_output=True, check=False)
        return out.returncode == 0

    killed = hold(600)
    try:
        url = killed.stdout.readline().strip()
        assert url.startswith("postgresql://")
        brief = hold(0)
        assert brief.stdout.readline().strip() == url
        assert brief.wait(30) == 0
        assert running(), "the server stopped while another process still held it"
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)

        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert running(), "a SIGKILLed holder cannot stop the server"
        last = hold(0)
        assert last.stdout.readline().strip() == url
        assert last.wait(30) == 0
        assert not running(), "the last live holder left the server running"
    finally:
        killed.kill()


@pytest.mark.postgres
def test_db_start_keeps_the_server_until_db_stop(private_env):
    env = private_env

    def cli(*args):
        command = [sys.executable, "-m", "blogtools", "db", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, check=False)

    started = cli("start")
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    assert cli("url").stdout.strip() == url
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_setting('server_version_num')::int / 10000").fetchone() == (18,)
    stopped = cli("stop")
    assert "stopped" in stopped.stdout
    result = cli("url")
    assert result.returncode == 1
    assert result.stderr.startswith("blogtools: error: embedded PostgreSQL") and "not running" in result.stderr
