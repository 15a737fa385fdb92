"""Signed links to local blobs: the embedded runtime's stand-in for SAS URLs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from core.http.app import create_app
from core.settings import Settings
from tests.support.deps import local_deps


def test_signed_link_serves_the_blob_and_nothing_else(tmp_path: Path) -> None:
    deps = local_deps(tmp_path)
    deps.blobs.put("data", "cats/tabby 1.png", b"\x89PNG-bytes", content_type="image/png")
    settings = Settings(secret="s", webui_dir=None)  # local_deps signs with b"s" too
    client = TestClient(create_app(lambda: deps, settings), raise_server_exceptions=False)

    link = urlsplit(deps.blobs.url("data", "cats/tabby 1.png", expires_in_s=60))
    ok = client.get(f"{link.path}?{link.query}")
    assert ok.status_code == 200
    assert ok.content == b"\x89PNG-bytes"
    assert ok.headers["content-type"] == "image/png"

    tampered = client.get(f"{link.path.replace('tabby', 'tibby')}?{link.query}")
    assert tampered.status_code == 403
    assert "invalid or has expired" in tampered.json()["detail"]

    deps.clock.advance(61)  # type: ignore[attr-defined]
    assert client.get(f"{link.path}?{link.query}").status_code == 403
    deps.close()
