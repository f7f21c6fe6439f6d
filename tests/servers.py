"""Servers for tests, on 127.0.0.1.

    port = free_port()                              # a port nobody listens on (for a child to take)
    port_accepts(port)                              # True once something listens there
    wait_listening(proc, port, 15, "mosquitto")     # a started child: until it listens, or fail
    with serve_app(app) as url: ...                 # an ASGI app served by uvicorn in a thread
    with serve_app(app, ssl_certfile=..., ssl_keyfile=...) as url: ...   # the same over HTTPS
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_accepts(port: int, timeout_s: float = 0.2) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_listening(proc: subprocess.Popen, port: int, timeout_s: float, what: str,
                   log: Callable[[], str] = lambda: "", every_s: float = 0.02) -> None:
    """Return once `port` accepts connections. Fail naming `what` and the end of its `log` if the
    process exits first (RuntimeError) or the time runs out (TimeoutError; the process is left running)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log()}")
        if port_accepts(port):
            return
        time.sleep(every_s)
    raise TimeoutError(f"{what} did not listen on {HOST}:{port} within {timeout_s} s:\n{log()}")


@contextmanager
def serve_app(app, timeout_s: float = 30, **options) -> Iterator[str]:
    """The app served by uvicorn in a thread on a port bound here (no race for it), lifespan off
    (the tests drive what a lifespan would start); yields its base URL and stops it on exit.
    ``options``: more uvicorn.Config settings (e.g. epatrol.common.web.server_options: TLS, https:// URL)."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        yield f"{'https' if options.get('ssl_certfile') else 'http'}://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
