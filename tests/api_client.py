"""Signing a test client in with a bearer token (shared by the API and review-page tests)."""

from __future__ import annotations

import httpx


def sign_in(client: httpx.Client, username: str, password: str) -> httpx.Client:
    """Log `client` in and make it send only the bearer token (its cookie jar is cleared)."""
    r = client.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    client.cookies.clear()
    client.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return client
