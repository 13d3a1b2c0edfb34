"""A throwaway PostgreSQL cluster for the tests and benchmarks: Debian's server binaries, a data
folder and a socket folder in a temporary directory, a free TCP port on 127.0.0.1.

Why our own helper rather than pytest-postgresql: it is thirty lines, the tests also need to kill
the server mid-attempt and start it again on the same port (the fault test), and running as root
needs the server started as the ``postgres`` user, all of which is plainer here than through
another plugin's options.

PostgreSQL refuses to run as root: when the tests run as root (CI, this machine) every server
command runs as the ``postgres`` user (``runuser``), and the temporary folder is given to it.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SUPERUSER = "iwp"  # the cluster's superuser, which the tests connect as (trust auth on loopback only)


class ClusterError(RuntimeError):
    """The server could not be set up or started; the message says why."""


def find_bindir() -> Path:
    """The newest installed server's bin folder (``$IWP_PG_BINDIR`` first)."""
    given = os.environ.get("IWP_PG_BINDIR")
    if given:
        return Path(given)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise ClusterError("PostgreSQL's server is not installed (no /usr/lib/postgresql/*/bin/initdb): "
                       "install the Debian package `postgresql` (make test does: scripts/system-deps.sh)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One cluster: ``start()``, ``url(dbname)``, ``stop(mode)``, ``destroy()``."""

    def __init__(self, base: Path | None = None) -> None:
        self.bindir = find_bindir()
        self.base = Path(base or tempfile.mkdtemp(prefix="iwp-pg-"))
        self.data = self.base / "data"
        self.sockets = self.base / "run"
        self.log = self.base / "server.log"
        self.port = free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *argv: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8")
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env,
                                cwd=self.base)
        if check and result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            if self.log.exists():
                tail += "\n--- server log ---\n" + "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
            raise ClusterError(f"{argv[0]} failed (exit {result.returncode}):\n{tail}")
        return result

    def init(self) -> None:
        self.sockets.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")
            os.chmod(self.base, 0o755)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        # One role must give a password over TCP (the password tests); every other connection is trusted.
        hba = self.data / "pg_hba.conf"
        hba.write_text("host all pw_coach 127.0.0.1/32 scram-sha-256\n" + hba.read_text(encoding="utf-8"),
                       encoding="utf-8")
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            # A test server: no durability cost beyond what the fault test needs (fsync off keeps
            # commits crash-safe against a killed server, which is all the tests do; not a power cut).
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.sockets}'\nfsync = off\n"
                       "max_connections = 120\nshared_buffers = 64MB\n")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def url(self, dbname: str = "postgres", user: str = SUPERUSER) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        return self._run("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", str(self.sockets),
                         "-p", str(self.port), "-U", SUPERUSER, "-d", dbname, "-c", sql).stdout

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


def start_cluster() -> Cluster:
    """A running cluster, or :class:`ClusterError` saying why not."""
    cluster = Cluster()
    try:
        cluster.init()
        cluster.start()
    except (ClusterError, OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(cluster.base, ignore_errors=True)
        if isinstance(exc, ClusterError):
            raise
        raise ClusterError(f"cannot start PostgreSQL: {exc}") from None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (cluster.sockets / f".s.PGSQL.{cluster.port}").exists():
            return cluster
        time.sleep(0.1)
    cluster.destroy()
    raise ClusterError("PostgreSQL started but its socket never appeared")
