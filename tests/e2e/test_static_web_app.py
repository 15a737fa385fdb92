"""The front door, run for real: the Azure Static Web Apps CLI (npm `@azure/static-web-apps-cli`,
offline) serves the built web UI with its `staticwebapp.config.json` and emulates Azure's
routes, roles and sign-in portal in front of `loupe serve`, as the linked Function App sits
behind the Static Web App on Azure. Chromium signs in through `/.auth` as an owner and as a
labeler, the owner creates a project and uploads on the direct-transfer path, the labeler
labels; `/api/*` without a session is refused by the front door, and a program gets in on
`/api/programs/*` with a Loupe token and nothing else.

Two stand-ins, both for what needs the internet: the deployment's Entra registration (the
`auth` block of the config) makes the emulator talk to Entra itself, so the built UI is served
with that block alone taken out, and the emulator's own sign-in portal stands in for Entra's
(every route, role and header as deployed); and that portal loads jQuery from a CDN, so the
browser is handed the same library from `node_modules` (pinned in package.json)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from core.local.upload import upload
from tests.support.servers import LOUPE, LoupeProcess, free_port, start_loupe
from tests.support.ui import png

ROOT = Path(__file__).resolve().parents[2]
SWA = ROOT / "node_modules" / ".bin" / "swa"
JQUERY = ROOT / "node_modules" / "jquery" / "dist" / "jquery.min.js"
DIST = ROOT / "webui" / "dist"
OWNER, LABELER = "olive@contoso.com", "lee@contoso.com"


@dataclass
class FrontDoor:
    url: str
    loupe: LoupeProcess
    data_dir: Path


@pytest.fixture(scope="module")
def front_door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrontDoor]:
    if not SWA.exists():
        pytest.fail("the Static Web Apps CLI is missing: run `make test` (npm ci)")
    data_dir = tmp_path_factory.mktemp("front-door")
    site = data_dir / "dist"
    shutil.copytree(DIST, site)
    config_file = site / "staticwebapp.config.json"
    config = json.loads(config_file.read_text())
    assert config.pop("auth")["identityProviders"]["azureActiveDirectory"]  # Entra's, offline
    config_file.write_text(json.dumps(config))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "LOUPE_BEHIND_STATIC_WEB_APP": "true",
        "LOUPE_ADMINS": OWNER,
        "LOUPE_PUBLIC_URL": url,  # links the API signs point through the front door
        "LOUPE_WEBUI_DIR": str(data_dir / "no-ui"),  # the Static Web App serves the UI
    }
    loupe = start_loupe(data_dir, "--no-demo", env=env)
    loupe.wait_for(r"Loupe is running")
    swa = subprocess.Popen(
        [
            str(SWA),
            "start",
            str(site),
            "--api-devserver-url",
            loupe.url,
            "--swa-config-location",
            str(site),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=data_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the CLI starts a server of its own
        env={k: v for k, v in os.environ.items() if not k.startswith("LOUPE_")}
        | {"SWA_DISABLE_TELEMETRY": "true"},
    )
    try:
        _wait_until_up(url, swa)
        yield FrontDoor(url, loupe, data_dir)
    finally:
        os.killpg(swa.pid, signal.SIGTERM)  # the group started above, by its leader's PID
        swa.wait(15)
        loupe.stop()


def _wait_until_up(url: str, swa: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if swa.poll() is not None:
            raise AssertionError(f"the Static Web Apps CLI exited with {swa.returncode}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("the Static Web Apps CLI did not start within 90 s")


def _offline_portal(route: Route) -> None:
    """The emulator's sign-in page asks a CDN for jQuery and Bootstrap: jQuery from
    node_modules, Bootstrap's look and script left out (the form needs neither)."""
    if route.request.url.endswith("jquery-3.2.1.min.js"):
        route.fulfill(body=JQUERY.read_bytes(), content_type="application/javascript")
    else:
        route.fulfill(
            body="",
            content_type="text/css" if ".css" in route.request.url else "application/javascript",
        )


def sign_in(page: Page, front: FrontDoor, name: str, user_id: str) -> None:
    page.context.route("https://ajax.aspnetcdn.com/**", _offline_portal)
    page.goto(front.url + "/")
    expect(page.locator("#token")).to_have_count(0)  # never a token box behind the front door
    page.click("#sign-in")
    page.wait_for_url("**/.auth/login/aad**")
    page.fill("#userId", user_id)
    page.fill("#userDetails", name)
    page.locator("#userDetails").press("End")  # the portal stores what is typed, key by key
    page.click("#submit")
    page.wait_for_url(front.url + "/**")
    expect(page.locator("#who")).to_contain_text(name)


def test_the_front_door_refuses_api_calls_without_a_session(front_door: FrontDoor) -> None:
    for path in ("/api/me", "/api/projects", "/api/users"):
        answer = httpx.get(front_door.url + path, timeout=10)
        assert answer.status_code == 401, (path, answer.status_code)
    # A principal header of one's own is no session: the front door refuses before Loupe.
    forged = "eyJ1c2VyRGV0YWlscyI6Im1hbGxvcnkiLCJ1c2VyUm9sZXMiOlsiYXV0aGVudGljYXRlZCJdfQ=="
    assert (
        httpx.get(
            front_door.url + "/api/me", headers={"x-ms-client-principal": forged}, timeout=10
        ).status_code
        == 401
    )
    assert httpx.get(front_door.url + "/api/health", timeout=10).json()["signIn"] == (
        "staticWebApp"
    )


def test_people_sign_in_label_and_upload_through_the_front_door(
    front_door: FrontDoor, page: Page, browser: object, tmp_path: Path
) -> None:
    sign_in(page, front_door, OWNER, "0wner0000000000000000000000000001")
    expect(page.locator("#users-link")).to_be_visible()  # LOUPE_ADMINS made her an admin
    expect(page.locator("#sign-out")).to_have_attribute(
        "href", "/.auth/logout?post_logout_redirect_uri=/"
    )
    files = []
    for i in range(3):
        path = tmp_path / f"pet{i}.png"
        path.write_bytes(png(i))
        files.append(str(path))
    # The wizard uploads each file on its own signed link, then completes it.
    page.click("#new-project")
    page.fill("#w-name", "Through the front door")
    page.select_option("#w-type", "image_multiclass")
    page.click("#w-next")
    page.set_input_files("#w-files", files)
    page.click("#w-next")
    page.fill("#w-classes", "cat\ndog")
    page.click("#w-next")
    page.click("#w-next")
    page.click("#w-next")
    transfers: list[str] = []
    page.on("request", lambda r: transfers.append(f"{r.method} {r.url}"))
    page.click("#w-create")
    expect(page.locator("#tab-dashboard.active")).to_be_visible(timeout=20_000)
    puts = [t for t in transfers if t.startswith("PUT ")]
    assert len(puts) == 3 and all("/api/blobs/data/uploads/" in t and "sp=w" in t for t in puts)
    assert not [t for t in transfers if "/files/" in t]  # never the body through the API
    assert sum("/uploads/complete" in t for t in transfers) == 3
    project_id = page.url.split("#/p/", 1)[1].split("/", 1)[0]
    expect(page.locator("#project-status")).to_have_text("running", timeout=20_000)

    # The labeler signs in (a user is made on first visit), is added by name, and labels.
    labeler = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    other = labeler.new_page()
    other.set_default_timeout(10_000)
    try:
        sign_in(other, front_door, LABELER, "1abe1e00000000000000000000000002")
        expect(other.locator("#no-create")).to_be_visible()  # no creator role
        members = page.context.request.put(
            f"{front_door.url}/api/projects/{project_id}/members/{LABELER}",
            data={"role": "labeler"},
            headers={"X-Requested-With": "loupe"},
        )
        assert members.status == 200, members.text()
        other.goto(f"{front_door.url}/#/p/{project_id}/label")
        stage = other.locator("#stage")
        expect(stage.locator("img.photo")).to_be_visible(timeout=15_000)
        for key in ("1", "2"):
            item_id = stage.get_attribute("data-item-id") or ""
            other.keyboard.press(key)
            other.keyboard.press("Enter")
            expect(stage).not_to_have_attribute("data-item-id", item_id)
        dashboard = page.context.request.get(
            f"{front_door.url}/api/projects/{project_id}/dashboard"
        )
        assert dashboard.json()["states"].get("labeled") == 2
        # Signing out through /.auth ends the session at the front door.
        other.click("#sign-out")
        expect(other.locator("#sign-in")).to_be_visible()
        assert other.context.request.get(f"{front_door.url}/api/me").status == 401
    finally:
        labeler.close()


def test_a_program_gets_in_with_a_token_on_the_programs_route(
    front_door: FrontDoor, tmp_path: Path
) -> None:
    made = subprocess.run(
        [str(LOUPE), "--data-dir", str(front_door.data_dir), "user", "create", "pipeline"],
        capture_output=True,
        text=True,
        check=True,
    )
    token = made.stdout.strip().splitlines()[-1]
    subprocess.run(
        [
            str(LOUPE),
            "--data-dir",
            str(front_door.data_dir),
            "user",
            "grant",
            "pipeline",
            "creator",
        ],
        check=True,
        capture_output=True,
    )
    door = front_door.url
    # The bearer header is the front door's own on /api/*: refused there without a session.
    assert (
        httpx.get(f"{door}/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )
    me = httpx.get(f"{door}/api/programs/me", headers={"X-Loupe-Token": token}, timeout=10)
    assert me.status_code == 200 and me.json()["id"] == "pipeline"
    body = {"name": "Scripted", "taskType": "image_multiclass", "labelClasses": [{"name": "x"}]}
    created = httpx.post(
        f"{door}/api/programs/projects", json=body, headers={"X-Loupe-Token": token}, timeout=10
    )
    assert created.status_code == 201, created.text
    folder = tmp_path / "pics"
    folder.mkdir()
    for i in range(2):
        (folder / f"{i}.png").write_bytes(png(i))
    # `loupe upload` against the deployment's address: links, PUTs and completions all pass.
    report = upload(
        server=door, token=token, project_id=created.json()["id"], sources=[folder], progress=False
    )
    assert (report.uploaded, report.items, report.errors) == (2, 2, [])
