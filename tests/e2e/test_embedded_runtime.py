"""`loupe serve` as a user runs it: demo ready at the printed URL, clean Ctrl-C, and nothing
committed lost across a restart or a kill."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.adapters.local.documents import SqliteDocumentStore
from core.store.collections import ITEMS
from tests.support.servers import LoupeProcess, start_loupe

TOKEN_LINE = r"Loupe is running: (http://127\.0\.0\.1:\d+)/#token=(\S+)"


def projects(server: LoupeProcess, token: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{server.url}/api/projects", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    response.raise_for_status()
    listed: list[dict[str, Any]] = response.json()
    return listed


def wait_until_running(server: LoupeProcess, token: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (demo,) = projects(server, token)
        if demo["status"] == "running":
            return demo
        time.sleep(0.2)
    raise AssertionError(f"demo project never ran: {demo}")


@pytest.mark.slow
def test_serve_demo_restart_and_kill(tmp_path: Path) -> None:
    server = start_loupe(tmp_path)
    try:
        url, token = server.wait_for(TOKEN_LINE).groups()
        assert url == server.url
        demo = wait_until_running(server, token)
        assert demo["name"] == "Demo: shapes"
        page = httpx.get(server.url + "/", timeout=10)
        assert page.status_code == 200 and "<title>Loupe</title>" in page.text

        created = httpx.post(
            f"{server.url}/api/projects",
            json={"name": "Mine", "taskType": "text_multiclass", "labelClasses": [{"name": "x"}]},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert created.status_code == 201
    finally:
        assert server.stop(signal.SIGINT) == 0, "".join(server.lines)
    assert any("Loupe stopped" in line for line in server.lines)

    store = SqliteDocumentStore(tmp_path / "documents.sqlite")
    assert store.container(ITEMS).count(demo["id"]) == 12
    store.close()

    again = start_loupe(tmp_path)
    try:
        _, same_token = again.wait_for(TOKEN_LINE).groups()
        assert same_token == token
        names = sorted(p["name"] for p in projects(again, token))
        assert names == ["Demo: shapes", "Mine"]  # no second demo, nothing lost
        httpx.post(
            f"{again.url}/api/projects",
            json={"name": "Last", "taskType": "image_multilabel", "labelClasses": [{"name": "y"}]},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).raise_for_status()
        workers = again.children()
        assert workers, "the stage workers run in processes of their own"
    finally:
        again.stop(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "orphaned workers"

    after_kill = start_loupe(tmp_path)
    try:
        after_kill.wait_for(TOKEN_LINE)
        names = sorted(p["name"] for p in projects(after_kill, token))
        assert names == ["Demo: shapes", "Last", "Mine"]
    finally:
        assert after_kill.stop(signal.SIGTERM) == 0, "".join(after_kill.lines)


@pytest.mark.slow
def test_a_term_to_the_whole_process_group_stops_every_process(tmp_path: Path) -> None:
    """systemd, `docker stop` and `timeout` signal the server and its workers at once; a
    worker interrupted in its wait must still stop (it once deadlocked, left orphaned)."""
    server = start_loupe(tmp_path, "--no-demo")
    server.wait_for(r"Loupe is running: ")
    workers = server.children()
    assert len(workers) >= 2  # the stage workers and ML assist's
    time.sleep(4)  # until each worker waits for work (a TERM before that ends it at once)
    for pid in (server.process.pid, *workers):
        os.kill(pid, signal.SIGTERM)
    assert server.process.wait(30) == 0, "".join(server.lines)
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "orphaned workers"
