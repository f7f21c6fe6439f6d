"""A real PostgreSQL server for tests: a throw-away cluster (initdb) on a free 127.0.0.1 port.

initdb refuses to run as root, so as root the cluster is made and run as the `postgres` user."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from servers import free_port


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def pg_unavailable_reason() -> str | None:
    if pg_bin() is None:
        return "PostgreSQL server binaries not installed (Debian package postgresql)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg not installed (pip install -e .[test])"
    return None


class PostgresServer:
    def __init__(self) -> None:
        self.bin = pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="epatrol-pg-"))
        self.port = free_port()
        self._as_root = os.geteuid() == 0

    def _run(self, *cmd: str) -> subprocess.CompletedProcess:
        if self._as_root:
            cmd = ("runuser", "-u", "postgres", "--", *cmd)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def start(self) -> "PostgresServer":
        if self._as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        data = self.dir / "data"
        done = self._run(str(self.bin / "initdb"), "-D", str(data), "-U", "epatrol", "--auth=trust", "-E", "UTF8")
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr}")
        return self.resume()

    def halt(self) -> None:
        """Stop the server mid-run, keeping its data (``-m fast``: open connections are cut);
        ``resume()`` starts it again on the same port."""
        done = self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        if done.returncode:
            raise RuntimeError(f"pg_ctl stop failed: {done.stderr}")

    def resume(self) -> "PostgresServer":
        """Start the (initialised) cluster and wait until it accepts connections."""
        data = self.dir / "data"
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off"
        done = self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(self.dir / "log"), "-w", "start")
        if done.returncode:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr} {(self.dir / 'log').read_text() if (self.dir / 'log').exists() else ''}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._run(str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)).returncode == 0:
                return self
            time.sleep(0.2)
        raise RuntimeError("PostgreSQL did not become ready")

    def create_database(self, name: str) -> str:
        done = self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "epatrol", name)
        if done.returncode:
            raise RuntimeError(f"createdb failed: {done.stderr}")
        return f"postgresql+psycopg://epatrol@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
