"""A running `loupe serve`: a file dropped into the blob folder, and files sent by
`loupe upload`, show up as items within seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from core.adapters.local.documents import SqliteDocumentStore
from core.store.collections import ITEMS
from tests.support.media import image_bytes
from tests.support.servers import LOUPE, LoupeProcess, start_loupe

TOKEN_LINE = r"Loupe is running: (http://127\.0\.0\.1:\d+)/#token=(\S+)"


def wait_for_items(store: SqliteDocumentStore, project_id: str, count: int, within: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < within:
        if store.container(ITEMS).count(project_id) >= count:
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} items after {within} s")


def running_project(server: LoupeProcess, token: str, name: str) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = [
            p
            for p in httpx.get(f"{server.url}/api/projects", headers=headers, timeout=10).json()
            if p["name"] == name
        ]
        if found and found[0]["status"] == "running":
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"project {name} never ran")


@pytest.mark.slow
def test_dropped_and_uploaded_files_become_items(tmp_path: Path) -> None:
    server = start_loupe(tmp_path, env={"LOUPE_DATASETS": "lake"})
    store = SqliteDocumentStore(tmp_path / "documents.sqlite")
    try:
        _, token = server.wait_for(TOKEN_LINE).groups()
        headers = {"Authorization": f"Bearer {token}"}
        demo = running_project(server, token, "Demo: shapes")
        wait_for_items(store, str(demo["id"]), 12, 20)
        (tmp_path / "blobs" / "lake" / "drop").mkdir(parents=True)
        httpx.post(
            f"{server.url}/api/projects",
            json={
                "name": "Lake",
                "taskType": "image_multiclass",
                "labelClasses": [{"name": "x"}],
                "dataset": {"source": "blob", "container": "lake", "path": "drop/**"},
            },
            headers=headers,
            timeout=10,
        ).raise_for_status()
        lake = running_project(server, token, "Lake")

        # A file copied into the watched folder by hand, as a user would.
        dropped = tmp_path / "blobs" / "lake" / "drop" / "hexagon-01.png"
        dropped.write_bytes(image_bytes("PNG", (64, 64)))
        assert wait_for_items(store, str(lake["id"]), 1, 10) < 10
        created = httpx.post(
            f"{server.url}/api/projects",
            json={"name": "Mine", "taskType": "image_multiclass", "labelClasses": [{"name": "x"}]},
            headers=headers,
            timeout=10,
        )
        project_id = created.json()["id"]
        running_project(server, token, "Mine")
        folder = tmp_path / "photos"
        (folder / "day 2").mkdir(parents=True)
        (folder / "a.jpg").write_bytes(image_bytes("JPEG"))
        (folder / "day 2" / "b.png").write_bytes(image_bytes("PNG"))
        (folder / "readme.md").write_text("not a picture")
        result = subprocess.run(
            [str(LOUPE), "upload", project_id, str(folder), "--server", server.url],
            env={**os.environ, "LOUPE_TOKEN": token},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "uploaded 2 file(s): 2 item(s)" in result.stdout
        assert "skipped     readme.md" in result.stdout
        assert store.container(ITEMS).count(project_id) == 2
        progress = httpx.get(
            f"{server.url}/api/projects/{project_id}/ingestion", headers=headers, timeout=10
        ).json()
        assert progress["status"] == "running"
    finally:
        store.close()
        assert server.stop(signal.SIGINT) == 0, "".join(server.lines)
