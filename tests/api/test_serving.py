"""Stored files out of Loupe: an item's media only to its project's members, typed by its own
bytes and never run; the API's signed links only while their holder keeps access; and the web
UI's session, a cookie no script can read, that cannot be used from another site."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.domain.projects import Role
from core.http.app import create_app
from core.ports import Deps
from core.services import members, users
from core.settings import Settings
from tests.export.test_export_services import run_exports
from tests.support.assist import drain
from tests.support.deps import local_deps
from tests.support.labeling import creator
from tests.support.labeling import users as make_users
from tests.support.media import image_bytes

HTML = b"<!doctype html><script>fetch('/api/me').then(r => r.text()).then(alert)</script>"


@dataclass
class World:
    deps: Deps
    client: TestClient
    tokens: dict[str, str]
    project: str

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    deps = local_deps(tmp_path)
    tokens = make_users(deps, "ada", "olive", "lee", "rita", "sam")
    creator(deps, "olive")
    app = create_app(lambda: deps, Settings(webui_dir=None))
    with TestClient(app, raise_server_exceptions=False) as client:
        made = client.post(
            "/api/projects",
            json={"name": "Pets", "taskType": "image_multiclass", "labelClasses": [{"name": "a"}]},
            headers={"Authorization": f"Bearer {tokens['olive']}"},
        )
        assert made.status_code == 201, made.text
        world = World(deps, client, tokens, made.json()["id"])
        drain(deps)  # initialized: empty, and running
        for name, role in (("lee", Role.LABELER), ("rita", Role.REVIEWER)):
            members.set_member(deps, project_id=world.project, actor="olive", user=name, role=role)
        yield world
    deps.close()


def upload(world: World, path: str, data: bytes, content_type: str) -> dict[str, object]:
    sent = world.client.put(
        f"/api/projects/{world.project}/files/{path}",
        content=data,
        headers=world.auth("olive") | {"Content-Type": content_type},
    )
    assert sent.status_code == 201, sent.text
    (item,) = sent.json()["items"]
    return dict(item)


def media(world: World, item: dict[str, object], rendition: str = "display") -> str:
    return f"/api/projects/{world.project}/items/{item['id']}/media/{rendition}"


def test_media_goes_to_members_only_typed_by_its_bytes(world: World) -> None:
    # A real PNG whose uploader said text/html: served as the PNG it is, inline.
    png = upload(world, "cat.png", image_bytes("PNG"), "text/html")
    for who in ("lee", "rita", "olive"):
        shown = world.client.get(media(world, png), headers=world.auth(who))
        assert shown.status_code == 200, (who, shown.text)
        assert shown.headers["content-type"] == "image/png"
        assert shown.headers["content-disposition"].startswith("inline")
        assert shown.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in shown.headers["content-security-policy"]
    assert world.client.get(media(world, png), headers=world.auth("sam")).status_code == 403
    assert world.client.get(media(world, png), headers=world.auth("ada")).status_code == 403
    assert world.client.get(media(world, png)).status_code == 401
    # Unchanged since the last read: 304, still only after the same checks.
    etag = world.client.get(media(world, png), headers=world.auth("lee")).headers["etag"]
    again = world.client.get(media(world, png), headers=world.auth("lee") | {"If-None-Match": etag})
    assert again.status_code == 304 and not again.content
    stranger = world.auth("sam") | {"If-None-Match": etag}
    assert world.client.get(media(world, png), headers=stranger).status_code == 403

    # HTML named .png: an error item, and its file downloads as opaque bytes, never a page.
    page = upload(world, "evil.png", HTML, "text/html")
    assert page["state"] == "error"
    served = world.client.get(media(world, page), headers=world.auth("olive"))
    assert served.status_code == 200 and served.content == HTML
    assert served.headers["content-type"] == "application/octet-stream"
    assert served.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in served.headers["content-security-policy"]

    # Renditions made: the thumbnail is served the same way; an unknown rendition is a 422.
    drain(world.deps)
    thumb = world.client.get(media(world, png, "thumbnail"), headers=world.auth("lee"))
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert (
        world.client.get(media(world, png, "pixels"), headers=world.auth("lee")).status_code == 404
    )
    bad = world.client.get(media(world, png, "source"), headers=world.auth("lee"))
    assert bad.status_code == 422


def test_a_signed_link_dies_with_its_holders_access(world: World) -> None:
    upload(world, "cat.png", image_bytes("PNG"), "image/png")
    base = f"/api/projects/{world.project}"
    made = world.client.post(f"{base}/exports", json={"format": "csv"}, headers=world.auth("rita"))
    assert made.status_code == 202, made.text
    run_exports(world.deps)

    def link(who: str) -> str:
        view = world.client.get(f"{base}/exports/{made.json()['id']}", headers=world.auth(who))
        assert view.status_code == 200, view.text
        return str(view.json()["url"])

    rita, olive = link("rita"), link("olive")
    got = world.client.get(rita)  # the link is the credential: no token sent
    assert got.status_code == 200 and got.headers["content-disposition"].startswith("attachment")
    assert got.headers["content-type"] == "text/plain; charset=utf-8"
    assert world.client.get(rita.replace("u=rita", "u=olive")).status_code == 403  # forged
    members.remove_member(world.deps, project_id=world.project, actor="olive", user="rita")
    gone = world.client.get(rita)
    assert gone.status_code == 403 and "no longer has access" in gone.json()["detail"]
    assert world.client.get(olive).status_code == 200  # others' links are theirs
    users.revoke_tokens(world.deps, name="olive")
    revoked = world.client.get(olive)
    assert revoked.status_code == 403 and "can no longer sign in" in revoked.json()["detail"]
    members.set_member(
        world.deps, project_id=world.project, actor="olive", user="rita", role=Role.REVIEWER
    )
    assert world.client.get(rita).status_code == 200  # access back, the same link works
    world.deps.clock.advance(601)  # type: ignore[attr-defined]
    assert "expired" in world.client.get(rita).json()["detail"]


def test_the_ui_session_is_an_http_only_cookie_refused_across_sites(world: World) -> None:
    started = world.client.post("/api/session", headers=world.auth("lee"))
    assert started.status_code == 200 and started.json()["id"] == "lee"
    cookie = started.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/api" in cookie
    assert world.tokens["lee"] not in started.text  # never echoed to the page's scripts
    session = TestClient(world.client.app)  # type: ignore[arg-type]
    session.cookies.set("loupe_session", world.tokens["lee"], path="/api")
    assert session.get("/api/me").json()["id"] == "lee"
    # A change needs the header a page on another site cannot send without asking first.
    task = f"/api/projects/{world.project}/tasks/next"
    refused = session.post(task, json={})
    assert refused.status_code == 403 and "X-Requested-With" in refused.json()["detail"]
    assert session.post(task, json={}, headers={"X-Requested-With": "loupe"}).status_code == 200
    ended = session.delete("/api/session")
    assert ended.status_code == 204 and "loupe_session=" in ended.headers["set-cookie"]
    session.cookies.clear()
    assert session.get("/api/me").status_code == 401
    users.revoke_tokens(world.deps, name="lee")
    session.cookies.set("loupe_session", world.tokens["lee"], path="/api")
    assert session.get("/api/me").status_code == 401
