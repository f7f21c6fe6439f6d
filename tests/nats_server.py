"""A real nats-server with JetStream for tests (Debian package `nats-server`).

    server = NatsServer(tmp_path)     # a free 127.0.0.1 port, JetStream store in tmp_path/js
    server.start()                    # returns once the port accepts connections
    server.stop(); server.start()     # SIGTERM, then again on the same port with the same store
    server.kill()                     # SIGKILL (the store survives: file storage)

Its log is `server.log_path`."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

from servers import HOST, free_port, wait_listening


def nats_binary() -> str | None:
    return shutil.which("nats-server") or shutil.which("nats-server", path="/usr/sbin:/usr/bin")


class NatsServer:
    def __init__(self, workdir: Path, port: int | None = None, extra_args: tuple[str, ...] = ()) -> None:
        binary = nats_binary()
        if binary is None:
            raise FileNotFoundError("nats-server is not installed (Debian package: nats-server)")
        self.binary = binary
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.log_path = self.dir / "nats.log"
        self.extra_args = tuple(extra_args)  # e.g. --user/--pass, --tls/--tlscert/--tlskey
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    def start(self, timeout_s: float = 15.0) -> "NatsServer":
        cmd = [self.binary, "-a", HOST, "-p", str(self.port), "-js", "-sd", str(self.dir / "js"), "-l", str(self.log_path), *self.extra_args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_listening(self.proc, self.port, timeout_s, "nats-server", lambda: self.log_text()[-2000:], every_s=0.05)
        return self

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)
