"""Test machinery: a throwaway PostgreSQL server and fault injection for the nightly job.

Like :mod:`geopandas.testing`, this module ships with the package so that the
project's tests, benchmarks and users' own integration tests can use it, but
no part of the engine imports it.

* :func:`temporary_postgres` runs a throwaway PostgreSQL (+PostGIS) server on
  loopback in a temporary folder.
* :class:`Fault` is a checkpoint object for :func:`matcher.nightly.run_nightly`
  that kills or stalls the job at a named point; ``python -m matcher.testing``
  runs the nightly CLI with one, so that tests can kill a real process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from matcher.errors import InputError, StoreUnavailableError
from matcher.io.stores.base import _first_line

__all__ = ["Fault", "TemporaryPostgres", "find_postgres_bindir", "main", "temporary_postgres"]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- faults


@dataclass(frozen=True)
class Fault:
    """A checkpoint for :func:`matcher.nightly.run_nightly` that fails the job at ``point``.

    Attributes
    ----------
    action
        ``"kill"`` sends SIGKILL to this process; ``"sleep"`` stalls it.
    point
        ``locked``, ``running`` or ``mid-write`` (see :data:`matcher.nightly.Checkpoint`).
    seconds
        How long ``"sleep"`` stalls, in seconds.
    """

    action: Literal["kill", "sleep"]
    point: str
    seconds: float = 5.0

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """Parse ``kill:<point>`` or ``sleep:<point>[:<seconds>]``.

        Raises
        ------
        InputError
            On an unknown action or point.
        """
        action, _, rest = spec.partition(":")
        point, _, seconds = rest.partition(":")
        if action not in ("kill", "sleep") or point not in ("locked", "running", "mid-write"):
            raise InputError(f"fault '{spec}': use kill:<point> or sleep:<point>[:<seconds>] "
                             "with point locked, running or mid-write")
        return cls(action, point, float(seconds or 5.0))  # type: ignore[arg-type]

    def __call__(self, point: str) -> None:
        """Act when the job reaches ``point``; do nothing elsewhere."""
        if point != self.point:
            return
        logger.warning("test fault active", extra={"fields": {"step": point,
                                                              "fault": self.action}})
        if self.action == "kill":
            for handler in logging.getLogger("matcher").handlers:
                handler.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        else:
            time.sleep(self.seconds)


def main(argv: list[str] | None = None) -> int:
    """Run the nightly job as ``matcher nightly`` does, with a :class:`Fault`.

    Usage: ``python -m matcher.testing FAULT --config FILE [--force]``, where
    FAULT is ``kill:<point>`` or ``sleep:<point>[:<seconds>]``. The job logs
    as the CLI does; the exit code is the job's (0, or the error's code).
    """
    from matcher import nightly
    from matcher.cli.nightly_cmds import json_logging, sigterm_as_exit
    from matcher.errors import MatcherError

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[1] != "--config":
        print("usage: python -m matcher.testing FAULT --config FILE [--force]",
              file=sys.stderr)
        return 2
    fault = Fault.parse(args[0])
    try:
        cfg = nightly.load_config(args[2])
        with json_logging(cfg.job.log_file), sigterm_as_exit():
            nightly.run_nightly(cfg, force="--force" in args[3:], checkpoint=fault)
    except MatcherError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


# --------------------------------------------------------------------------- throwaway PostgreSQL


@dataclass
class TemporaryPostgres:
    """A throwaway PostgreSQL (+PostGIS) server on loopback, for tests and benchmarks.

    Create it with :func:`temporary_postgres`. The superuser ``postgres`` has
    :attr:`password` (scram-sha-256 over TCP); the database :attr:`dbname`
    has PostGIS when it is installed.

    Attributes
    ----------
    bindir
        Folder of ``initdb``, ``pg_ctl`` and ``postgres``.
    root
        Temporary folder with the data directory, log and socket.
    port
        TCP port on 127.0.0.1.
    password
        Password of the ``postgres`` role.
    dbname
        Database created for the caller.
    run_as
        Command prefix that runs the server binaries as a non-root user.
    """

    bindir: Path
    root: Path
    port: int
    password: str
    dbname: str = "fostermatch"
    run_as: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The store URL (no password)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.dbname}"

    def conninfo(self, dbname: str | None = None) -> dict[str, Any]:
        """libpq parameters, password included (for the caller's own connections)."""
        return {"host": "127.0.0.1", "port": str(self.port), "user": "postgres",
                "password": self.password, "dbname": dbname or self.dbname}

    def _ctl(self, *args: str) -> None:
        cmd = [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"),
               "-l", str(self.root / "server.log"), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
        if done.returncode != 0:
            raise StoreUnavailableError(f"pg_ctl {args[-1]} failed: {done.stderr.strip()} "
                                        f"(log: {self.root / 'server.log'})")

    def start(self) -> None:
        """Start (or restart after :meth:`stop`) the server and wait until it accepts."""
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} "
                   f"-c unix_socket_directories={self.root} -c fsync=off")
        self._ctl("-w", "-t", "60", "-o", options, "start")

    def stop(self) -> None:
        """Stop the server (fast shutdown)."""
        self._ctl("-w", "-m", "fast", "stop")

    def is_running(self) -> bool:
        """Return True when the server's postmaster runs."""
        return (self.root / "data" / "postmaster.pid").exists()


def find_postgres_bindir() -> Path | None:
    """Return the folder of the newest PostgreSQL server binaries, or ``None``."""
    found = shutil.which("initdb")
    candidates = [Path(found).parent] if found else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                         key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
                         reverse=True)
    for folder in candidates:
        if all((folder / b).is_file() for b in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


@contextlib.contextmanager
def temporary_postgres(*, bindir: Path | None = None,
                       postgis: bool = True) -> Iterator[TemporaryPostgres]:
    """Run a throwaway PostgreSQL server in a temporary folder; remove it afterwards.

    As root the server runs as the ``postgres`` user (``runuser``), since
    PostgreSQL refuses to run as root.

    Parameters
    ----------
    bindir
        Server binaries (default: :func:`find_postgres_bindir`).
    postgis
        Create the PostGIS extension in the database.

    Raises
    ------
    StoreUnavailableError
        If the binaries or PostGIS are missing (the message says what to install),
        or the server does not start.
    """
    import psycopg

    bindir = bindir or find_postgres_bindir()
    if bindir is None:
        raise StoreUnavailableError("PostgreSQL server binaries (initdb, pg_ctl) not found; "
                                    "install them: apt-get install postgresql "
                                    "postgresql-15-postgis-3")
    root = Path(tempfile.mkdtemp(prefix="fostermatch-pg-"))
    run_as: list[str] = []
    owner: tuple[int, int] | None = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            raise StoreUnavailableError("running as root needs a 'postgres' user to run the "
                                        "server; install the postgresql package") from None
        owner = (user.pw_uid, user.pw_gid)
        run_as = [shutil.which("runuser") or "runuser", "-u", "postgres", "--"]
    password = secrets.token_urlsafe(18)
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    os.chmod(pwfile, 0o600)
    if owner is not None:
        os.chown(root, *owner)
        os.chown(pwfile, *owner)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = TemporaryPostgres(bindir=bindir, root=root, port=port, password=password,
                               run_as=run_as)
    try:
        init = subprocess.run(
            [*run_as, str(bindir / "initdb"), "-D", str(root / "data"), "-U", "postgres",
             f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256",
             "-E", "UTF8", "--no-sync", "--no-instructions"],
            capture_output=True, text=True, check=False, timeout=300)
        if init.returncode != 0:
            raise StoreUnavailableError(f"initdb failed: {init.stderr.strip()}")
        pwfile.unlink()
        server.start()
        with psycopg.connect(autocommit=True, **server.conninfo("postgres")) as conn:
            conn.execute(f"CREATE DATABASE {server.dbname}")
        if postgis:
            with psycopg.connect(autocommit=True, **server.conninfo()) as conn:
                try:
                    conn.execute("CREATE EXTENSION postgis")
                except psycopg.Error as exc:
                    raise StoreUnavailableError(
                        f"PostGIS is not installed for this PostgreSQL ({_first_line(exc)}); "
                        "install it: apt-get install postgresql-15-postgis-3") from None
        yield server
    finally:
        if server.is_running():
            with contextlib.suppress(StoreUnavailableError, subprocess.TimeoutExpired):
                server._ctl("-w", "-m", "immediate", "stop")
        for _ in range(3):
            shutil.rmtree(root, ignore_errors=True)
            if not root.exists():
                break
            time.sleep(0.2)


if __name__ == "__main__":
    raise SystemExit(main())
