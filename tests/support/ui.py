"""One `loupe serve` shared by the web UI's browser tests, with an owner signed in by token and
helpers that set up projects through the API (what the UI itself does is what the tests drive)."""

from __future__ import annotations

import io
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page

from tests.support.servers import LOUPE, LoupeProcess, start_loupe


def png(index: int, size: tuple[int, int] = (320, 240)) -> bytes:
    """A distinct small picture: a coloured square on a grey ground."""
    image = Image.new("RGB", size, (200, 200, 200))
    draw = ImageDraw.Draw(image)
    hue = (index * 47) % 255
    draw.rectangle((40 + index % 5 * 10, 40, 160, 160), fill=(hue, 255 - hue, 120))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@dataclass
class Ui:
    server: LoupeProcess
    data_dir: Path
    token: str

    @property
    def url(self) -> str:
        return self.server.url

    def token_of(self, user: str) -> str:
        created = subprocess.run(
            [str(LOUPE), "--data-dir", str(self.data_dir), "user", "create", user],
            capture_output=True,
            text=True,
            check=True,
        )
        return created.stdout.strip().splitlines()[-1]

    def api(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {token or self.token}", **kw.pop("headers", {})}
        response = httpx.request(method, f"{self.url}/api{path}", headers=headers, timeout=20, **kw)
        assert response.status_code < 400, response.text
        return response.json() if response.content else None

    def sign_in(self, page: Page, token: str | None = None, at: str = "/") -> None:
        page.goto(f"{self.url}/#token={token or self.token}")
        page.wait_for_function("() => !location.hash.includes('token')")
        if at != "/":
            page.goto(f"{self.url}/#{at}")

    def project(self, name: str, task_type: str, classes: list[str], **settings: Any) -> str:
        body = {"name": name, "taskType": task_type, "labelClasses": [{"name": c} for c in classes]}
        created = self.api("POST", "/projects", json=body | settings)
        return str(created["id"])

    def upload(self, project_id: str, files: dict[str, bytes]) -> None:
        for path, data in files.items():
            self.api("PUT", f"/projects/{project_id}/files/{path}", content=data)

    def wait_running(self, project_id: str, items: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            project = self.api("GET", f"/projects/{project_id}")
            states = self.api("GET", f"/projects/{project_id}/dashboard")["states"]
            registered = sum(states.values())  # the items' own states add up to the items
            if project["status"] == "running" and registered >= items:
                return
            time.sleep(0.2)
        raise AssertionError(f"project {project_id} did not start with {items} items")

    def items(self, project_id: str, state: str | None = None) -> list[dict[str, Any]]:
        query = f"?pageSize=200{'&state=' + state if state else ''}"
        found: list[dict[str, Any]] = self.api("GET", f"/projects/{project_id}/items{query}")[
            "items"
        ]
        return found


def serve_ui(
    tmp_path_factory: pytest.TempPathFactory, env: dict[str, str] | None = None
) -> Iterator[Ui]:
    """One server for the whole UI suite (its tests each make projects of their own); `env`
    adds settings for a suite that needs its own server."""
    data_dir = tmp_path_factory.mktemp("ui")
    owner = (
        subprocess.run(
            [str(LOUPE), "--data-dir", str(data_dir), "user", "create", "olive"],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    server = start_loupe(data_dir, "--no-demo", env={"LOUPE_DATASETS": "lake"} | (env or {}))
    server.wait_for(r"Loupe is running")
    try:
        yield Ui(server, data_dir, owner)
    finally:
        assert server.stop() == 0


def eventually(check: Any, timeout: float = 20) -> Any:
    """`check()` once it is truthy, polled every 0.2 s for up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "the API never reached the expected state"
        time.sleep(0.2)
    return found
