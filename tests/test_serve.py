"""`epatrol serve` as an operator starts it: a real uvicorn process serving the API and page."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import yaml
from servers import free_port, wait_listening


def test_serve_runs_the_api_and_the_page(tmp_path: Path) -> None:
    config = tmp_path / "epatrol.yaml"
    config.write_text(yaml.safe_dump({"storage": {"root": str(tmp_path / "data")}, "cameras": [{"id": "cam-1", "name": "东门", "url": "x.mp4"}]}))
    add = subprocess.run(
        [sys.executable, "-m", "epatrol", "user", "add", "-c", str(config), "chief", "--role", "admin", "--password-stdin"],
        input="head-office-pass-1\n", capture_output=True, text=True, timeout=120,
    )
    assert add.returncode == 0, add.stderr
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "epatrol", "serve", "-c", str(config), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_listening(proc, port, 60, "epatrol serve", lambda: proc.stdout.read() if proc.poll() is not None else "", every_s=0.2)
        health = httpx.get(f"{base}/healthz", timeout=30)
        assert health.json()["cameras"] == ["cam-1"]
        assert "epatrol" in httpx.get(f"{base}/").text
        assert httpx.get(f"{base}/api/events").status_code == 401
        login = httpx.post(f"{base}/api/auth/login", json={"username": "chief", "password": "head-office-pass-1"})
        assert login.status_code == 200
        auth = {"Authorization": f"Bearer {login.json()['token']}"}
        assert httpx.get(f"{base}/api/events", headers=auth).json() == {"items": [], "total": 0, "limit": 50, "offset": 0}
        assert httpx.get(f"{base}/api/users", headers=auth).json()[0]["username"] == "chief"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
