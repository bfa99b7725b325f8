"""A real, throwaway PostgreSQL server for the test suite.

``PostgresServer`` runs ``initdb`` in a fresh temporary directory, starts ``postgres`` on a free
TCP port of 127.0.0.1 (trust authentication, fsync off) and removes everything again in
``stop()``.  Used through the session fixture ``postgres_server``::

    server = PostgresServer()  # finds the binaries with find_bin_dir()
    server.start()
    engine = sqlalchemy.create_engine(server.url)
    url = server.create_database("isolated")  # a fresh, empty database
    server.stop()

When the tests run as root (as in CI), ``initdb`` and ``postgres`` run as the ``postgres``
system user, because both refuse to run as root.  The server is a direct child of the
Python process and gets SIGQUIT (PostgreSQL's immediate shutdown) from the kernel if that
process dies, even by SIGKILL, so it never outlives the test run; ``stop()`` is also
registered with ``atexit``.  Temporary directories left behind by killed runs are removed by
the next ``start()``.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

DEFAULT_DATABASE = "facedocket_test"
SUPERUSER = "postgres"
HOST = "127.0.0.1"
TMP_PREFIX = "facedocket-pg-"
START_TIMEOUT_S = 30.0
INSTALL_HINT = "run `make test` (it installs postgresql with apt-get)"

_PR_SET_PDEATHSIG = 1
_OWNER_FILE = "owner.pid"


class PostgresServerError(RuntimeError):
    """The test server could not be set up, started or used."""


def find_bin_dir() -> Path | None:
    """The directory with ``initdb``, ``postgres`` and ``pg_ctl``, or None when not installed.

    Order: ``$FACEDOCKET_PG_BINDIR``; the newest ``/usr/lib/postgresql/<version>/bin`` (Debian,
    Ubuntu); the directory of an ``initdb`` on ``PATH``.
    """
    override = os.environ.get("FACEDOCKET_PG_BINDIR")
    if override:
        path = Path(override)
        return path if (path / "initdb").is_file() else None

    def version(initdb: Path) -> tuple[int, ...]:
        name = initdb.parent.parent.name  # /usr/lib/postgresql/<name>/bin/initdb
        return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)

    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=version)
    if candidates:
        return candidates[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


def free_port(host: str = HOST) -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_dirs(max_age_without_owner_s: float = 300.0) -> None:
    """Remove the temporary directories of earlier runs whose Python process is gone."""
    for path in Path(tempfile.gettempdir()).glob(TMP_PREFIX + "*"):
        owner = path / _OWNER_FILE
        try:
            if owner.is_file():
                stale = not _pid_alive(int(owner.read_text().strip()))
            else:  # created an instant ago by another run, or broken long ago
                stale = time.time() - path.stat().st_mtime > max_age_without_owner_s
        except (OSError, ValueError):
            continue
        if stale:
            shutil.rmtree(path, ignore_errors=True)


class PostgresServer:
    """One throwaway PostgreSQL cluster; see the module docstring."""

    def __init__(
        self,
        bin_dir: Path | None = None,
        *,
        database: str = DEFAULT_DATABASE,
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        found = bin_dir if bin_dir is not None else find_bin_dir()
        if found is None:
            raise PostgresServerError(f"PostgreSQL server binaries (initdb, postgres) not found; {INSTALL_HINT}")
        self.bin_dir = Path(found)
        self.database = database
        self.start_timeout_s = start_timeout_s
        self.host = HOST
        self.port: int | None = None
        self.tmpdir: Path | None = None
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: Path | None = None
        self._atexit_registered = False

    # --- paths and URLs ---------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self._require_tmpdir() / "data"

    @property
    def log_path(self) -> Path:
        return self._require_tmpdir() / "postgres.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the default database (``facedocket_test``)."""
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL (psycopg 3 driver) of ``database`` on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self._require_port()}/{database}"

    def conninfo(self, database: str | None = None) -> str:
        """libpq connection string, for ``psycopg.connect``."""
        db = database or self.database
        return f"host={self.host} port={self._require_port()} user={SUPERUSER} dbname={db}"

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> PostgresServer:
        """initdb, start the server, wait until it accepts connections, create the database."""
        if self.running:
            return self
        began = time.monotonic()
        _remove_stale_dirs()
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        try:
            self._make_tmpdir()
            self._initdb()
            # Another process may grab the port between free_port() and the bind; retry then.
            for attempt in range(3):
                self.port = free_port(self.host)
                self._launch()
                if self._wait_ready() or attempt == 2:
                    break
            self._execute_in("postgres", sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Immediate shutdown, then remove the temporary directory. Safe to call repeatedly."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGQUIT)  # = pg_ctl stop -m immediate
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- databases ----------------------------------------------------------------------

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        """Create a database (a unique name when none is given), empty or a copy of
        ``template`` (a database nobody is connected to); return its SQLAlchemy URL."""
        if name is None:
            name = f"t_{os.getpid()}_{time.monotonic_ns()}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        self._execute_in("postgres", statement)
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        self._execute_in("postgres", sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    # --- internals ----------------------------------------------------------------------

    def _require_tmpdir(self) -> Path:
        if self.tmpdir is None:
            raise PostgresServerError("the PostgreSQL test server is not started")
        return self.tmpdir

    def _require_port(self) -> int:
        if self.port is None or not self.running:
            raise PostgresServerError("the PostgreSQL test server is not running")
        return self.port

    def _execute_in(self, database: str, statement: sql.Composed) -> None:
        with psycopg.connect(self.conninfo(database), autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)

    def _make_tmpdir(self) -> None:
        self.tmpdir = Path(tempfile.mkdtemp(prefix=TMP_PREFIX))
        (self.tmpdir / _OWNER_FILE).write_text(str(os.getpid()))
        if os.geteuid() == 0:
            uid, gid = self._postgres_ids()
            os.chown(self.tmpdir, uid, gid)

    @staticmethod
    def _postgres_ids() -> tuple[int, int]:
        import pwd

        try:
            entry = pwd.getpwnam(SUPERUSER)
        except KeyError:
            raise PostgresServerError(
                "running as root, but there is no `postgres` system user to run the server as; " + INSTALL_HINT
            ) from None
        return entry.pw_uid, entry.pw_gid

    def _preexec(self) -> Callable[[], None]:
        """In the child, before exec: drop root for the postgres user, die with this process."""
        parent = os.getpid()
        ids = self._postgres_ids() if os.geteuid() == 0 else None
        groups = os.getgrouplist(SUPERUSER, ids[1]) if ids else []
        libc = ctypes.CDLL(None, use_errno=True)

        def preexec() -> None:
            if ids is not None:
                os.setgroups(groups)
                os.setgid(ids[1])
                os.setuid(ids[0])
            # After the uid change, which would clear it. SIGQUIT = immediate shutdown.
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT, 0, 0, 0)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)

        return preexec

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", TZ="UTC")
        if os.geteuid() == 0:
            env.update(HOME=str(self.tmpdir), USER=SUPERUSER, LOGNAME=SUPERUSER)
        return env

    def _initdb(self) -> None:
        tmpdir = self._require_tmpdir()
        cmd = [
            str(self.bin_dir / "initdb"),
            "--pgdata", str(self.data_dir),
            "--username", SUPERUSER,
            "--auth", "trust",
            "--encoding", "UTF8",
            "--locale", "C",
            "--no-sync",
            "--no-instructions",
        ]  # fmt: skip
        try:
            done = subprocess.run(
                cmd,
                cwd=tmpdir,
                env=self._env(),
                preexec_fn=self._preexec(),
                capture_output=True,
                timeout=120,
                check=False,
            )
        except FileNotFoundError:
            raise PostgresServerError(f"{cmd[0]} not found; {INSTALL_HINT}") from None
        if done.returncode != 0:
            out = (done.stdout + done.stderr).decode(errors="replace")
            raise PostgresServerError(f"initdb failed (exit {done.returncode}):\n{out[-3000:]}")

    def _launch(self) -> None:
        tmpdir = self._require_tmpdir()
        cmd = [
            str(self.bin_dir / "postgres"),
            "-D", str(self.data_dir),
            "-p", str(self.port),
            "-c", f"listen_addresses={self.host}",
            "-c", f"unix_socket_directories={tmpdir}",
            "-c", "fsync=off",
            "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off",
            "-c", "max_connections=100",
            "-c", "log_min_messages=warning",
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                cmd,
                cwd=tmpdir,
                env=self._env(),
                preexec_fn=self._preexec(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _wait_ready(self) -> bool:
        """True once it accepts connections; False if it exited because the port was taken."""
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout_s
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                log = self._log_tail()
                if "could not bind" in log or "Address already in use" in log:
                    self._proc = None
                    return False
                raise PostgresServerError(
                    f"postgres exited with code {self._proc.returncode} while starting; log {self.log_path}:\n{log}"
                )
            try:
                with psycopg.connect(self.conninfo("postgres"), connect_timeout=2):
                    return True
            except psycopg.OperationalError as exc:
                last_error = exc
                time.sleep(0.05)
        raise PostgresServerError(
            f"postgres did not accept connections on {self.host}:{self.port} within "
            f"{self.start_timeout_s:.0f} s (last error: {last_error}); log {self.log_path}:\n"
            f"{self._log_tail()}"
        )

    def _log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError as exc:
            return f"(no log: {exc})"
