"""A real Mosquitto broker for tests (Debian package `mosquitto`, binary /usr/sbin/mosquitto).

    broker = MosquittoBroker(tmp_path)          # picks a free 127.0.0.1 port
    broker.start()                              # returns once the port accepts connections
    broker.kill(); broker.start()               # SIGKILL, then again on the same port
    broker.pause(); broker.resume()             # SIGSTOP / SIGCONT: a broker that hangs
    broker.stop()                               # SIGTERM

The config is written to a temp dir: `listener PORT 127.0.0.1`, `allow_anonymous true`,
`persistence false`. With `persistent=True` the broker keeps its sessions in that dir instead:
they are written on SIGTERM and on `save()` (SIGUSR1), and read back on start, so a test
subscriber with a persistent session (clean_session=False, QoS 1) gets what was published
while it was away, even across a broker kill. The broker's log is `broker.log_path`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from servers import HOST, free_port, wait_listening


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None)
    return found


class MosquittoBroker:
    def __init__(self, workdir: Path, port: int | None = None, *, persistent: bool = False) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise FileNotFoundError("mosquitto is not installed (Debian package: mosquitto)")
        self.binary = binary
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.persistent = persistent
        self.conf_path = self.dir / "mosquitto.conf"
        self.log_path = self.dir / "mosquitto.log"
        self.db_path = self.dir / "mosquitto.db"
        self.proc: subprocess.Popen | None = None
        self._write_conf()

    def _write_conf(self) -> None:
        lines = [
            f"listener {self.port} {HOST}",
            "allow_anonymous true",
            f"persistence {'true' if self.persistent else 'false'}",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "max_queued_messages 100000",
        ]
        if self.persistent:
            lines += [f"persistence_location {self.dir}/", "persistence_file mosquitto.db", "autosave_interval 0"]
        if os.geteuid() == 0:
            lines.append("user root")  # keep root: the temp dir belongs to us, not to user mosquitto
        self.conf_path.write_text("\n".join(lines) + "\n")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout_s: float = 15.0) -> MosquittoBroker:
        if self.running:
            return self
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen([self.binary, "-c", str(self.conf_path)], stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL)
        finally:
            log.close()
        try:
            wait_listening(self.proc, self.port, timeout_s, "mosquitto", self.log_tail)
        except TimeoutError:
            self.kill()
            raise
        return self

    def _signal_and_wait(self, sig: int, timeout_s: float) -> None:
        if not self.running:
            return
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM: a clean shutdown (writes the persistence file when persistent)."""
        self._signal_and_wait(signal.SIGTERM, timeout_s)

    def kill(self) -> None:
        """SIGKILL: the broker vanishes; clients see their connections reset."""
        self._signal_and_wait(signal.SIGKILL, 5.0)

    def pause(self) -> None:
        """SIGSTOP: connections stay open but nothing is read or acknowledged."""
        if self.running:
            self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.running:
            self.proc.send_signal(signal.SIGCONT)

    def restart(self, *, kill: bool = True) -> MosquittoBroker:
        self.kill() if kill else self.stop()
        return self.start()

    def save(self, timeout_s: float = 10.0) -> None:
        """Persistent brokers only: write the session database now (SIGUSR1) and wait for it."""
        if not self.persistent or not self.running:
            raise RuntimeError("save() needs a running persistent broker")
        assert self.proc is not None
        before = self.db_path.stat().st_mtime_ns if self.db_path.exists() else None
        self.proc.send_signal(signal.SIGUSR1)
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.db_path.exists() and self.db_path.stat().st_mtime_ns != before:
                # mosquitto writes <db>.new and renames it: once renamed the file is complete
                return
            time.sleep(0.02)
        raise TimeoutError(f"mosquitto did not write {self.db_path}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> MosquittoBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
