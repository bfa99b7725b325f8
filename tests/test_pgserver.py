"""The throwaway PostgreSQL server of the test suite (tests/pg_testserver.py) works end to end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pg_testserver
import pytest
import sqlalchemy as sa
from pg_testserver import INSTALL_HINT, PostgresServer, find_bin_dir


def test_roundtrip_with_sqlalchemy(postgres_server: PostgresServer) -> None:
    assert postgres_server.url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    assert postgres_server.url.endswith("/facedocket_test")
    engine = sa.create_engine(postgres_server.url)
    try:
        meta = sa.MetaData()
        people = sa.Table(
            "people",
            meta,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("name", sa.Text, nullable=False),
        )
        meta.create_all(engine)
        with engine.begin() as conn:
            conn.execute(people.insert(), [{"name": "Ada"}, {"name": "Grace"}])
        with engine.connect() as conn:
            names = conn.execute(sa.select(people.c.name).order_by(people.c.id)).scalars().all()
            assert names == ["Ada", "Grace"]
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == "facedocket_test"
            assert conn.execute(sa.text("SHOW fsync")).scalar() == "off"
    finally:
        engine.dispose()


def test_create_database_is_isolated_and_empty(postgres_server: PostgresServer) -> None:
    main = sa.create_engine(postgres_server.url)
    url = postgres_server.create_database("isolated_one")
    other = sa.create_engine(url)
    try:
        assert url == postgres_server.url_for("isolated_one")
        with main.begin() as conn:
            conn.execute(sa.text("CREATE TABLE IF NOT EXISTS only_in_main (x int)"))
        with other.connect() as conn:
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == "isolated_one"
            assert sa.inspect(conn).get_table_names() == []
        # unnamed databases get unique names
        assert postgres_server.create_database() != postgres_server.create_database()
    finally:
        other.dispose()
        main.dispose()
        postgres_server.drop_database("isolated_one")


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting for a parent that does not reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_server_does_not_outlive_a_killed_python_process(tmp_path: Path) -> None:
    """Even a SIGKILLed test run leaves no postmaster behind."""
    if find_bin_dir() is None:
        pytest.fail(f"PostgreSQL server binaries not found; {INSTALL_HINT}", pytrace=False)
    pidfile = tmp_path / "postmaster"
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pg_testserver import PostgresServer
        server = PostgresServer().start()
        open({str(pidfile)!r}, "w").write(f"{{server._proc.pid}} {{server.tmpdir}}")
        time.sleep(600)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
            assert child.poll() is None, "the helper process died while starting the server"
            time.sleep(0.1)
        pid_text, tmpdir_text = pidfile.read_text().split()
        postmaster, server_dir = int(pid_text), Path(tmpdir_text)
        assert _alive(postmaster)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(postmaster) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(postmaster):
            os.kill(postmaster, signal.SIGKILL)
            pytest.fail("the postmaster outlived the SIGKILLed Python process")
        # the directory the killed run left behind goes with the next start()
        assert server_dir.is_dir()
        pg_testserver._remove_stale_dirs()
        assert not server_dir.exists()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
