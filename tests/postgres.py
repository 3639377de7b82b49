"""A throwaway PostgreSQL cluster for the tests: Debian's `postgresql` package (`make test` installs it where
missing), initdb into a temporary folder, the server on a loopback port and a socket in that folder.

initdb and the server refuse to run as root, so when the tests run as root the cluster belongs to `nobody`
(its folder handed over to that user): the server runs unprivileged, the tests connect over TCP as the
cluster's superuser `trailhound` (trust authentication, loopback only)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER = "trailhound"


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name, reverse=True)
    return next((str(v / name) for v in versions if (v / name).exists()), None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    def __init__(self) -> None:
        initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql; `make test` does)")
        self.pg_ctl = pg_ctl
        self.folder = Path(tempfile.mkdtemp(prefix="trailhound-pg-"))
        self.data, self.log = self.folder / "data", self.folder / "server.log"
        self.port = _free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: the cluster is nobody's
            runuser = shutil.which("runuser")
            if not runuser:
                raise RuntimeError("running as root and no runuser to start PostgreSQL as an unprivileged user")
            self._as = [runuser, "-u", "nobody", "--"]
            shutil.chown(self.folder, "nobody", "nogroup")
        self.folder.chmod(0o700)
        self._run(initdb, "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8",
                  "--no-sync")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        self.url = f"postgresql://{USER}@127.0.0.1:{self.port}"
        self._count = 0

    def _run(self, *argv: str) -> None:
        done = subprocess.run([*self._as, *argv], capture_output=True, text=True, cwd=self.folder, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed ({done.returncode}): {done.stderr[-2000:]}")

    def database(self) -> str:
        """A new, empty database on the cluster; its URL."""
        import psycopg

        self._count += 1
        name = f"t{os.getpid()}_{self._count}"
        with psycopg.connect(f"{self.url}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"{self.url}/{name}"

    def stop(self) -> None:
        try:
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and (self.data / "postmaster.pid").exists():
                time.sleep(0.1)
            shutil.rmtree(self.folder, ignore_errors=True)
