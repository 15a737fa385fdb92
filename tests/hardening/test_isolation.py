"""Trust across projects, as a hostile member of the same deployment would test it: datasets that
reach into Loupe's own containers or another project's uploads, stored files that try to run as
pages, links kept after access ended, and page submissions that are partly wrong. Each test
writes its row of RELIABILITY.md's security section; the goal in every row is that nothing got
through."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.domain.projects import Role
from core.http.app import create_app
from core.ports import Deps, Query
from core.services import members, users
from core.settings import Settings, SettingsError
from core.store.collections import ITEMS, scan
from tests.export.test_export_services import run_exports
from tests.support.assist import drain
from tests.support.deps import DATASETS, local_deps
from tests.support.labeling import creator
from tests.support.labeling import users as make_users
from tests.support.media import image_bytes
from tests.support.reliability import Row

HTML = b"<!doctype html><script>parent.stolen = document.cookie</script>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'


@dataclass
class Site:
    deps: Deps
    http: TestClient
    tokens: dict[str, str]
    victim: str

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def create(self, who: str, name: str, **fields: Any) -> Any:
        body = {"name": name, "taskType": "image_multiclass", "labelClasses": [{"name": "a"}]}
        return self.http.post("/api/projects", json=body | fields, headers=self.auth(who))

    def upload(self, project: str, path: str, data: bytes, content_type: str) -> Any:
        return self.http.put(
            f"/api/projects/{project}/files/{path}",
            content=data,
            headers=self.auth("vic") | {"Content-Type": content_type},
        )

    def items(self, project: str) -> list[dict[str, Any]]:
        found = scan(self.deps.documents.container(ITEMS), project, Query(page_size=500))
        return [d.body for d in found]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    deps = local_deps(tmp_path)
    tokens = make_users(deps, "ada", "vic", "mal", "lee")
    for name in ("vic", "mal"):
        creator(deps, name)
    app = create_app(lambda: deps, Settings(webui_dir=None))
    with TestClient(app, raise_server_exceptions=False) as http:
        made = Site(deps, http, tokens, "")
        created = made.create("vic", "Victim")
        assert created.status_code == 201, created.text
        made.victim = created.json()["id"]
        members.set_member(deps, project_id=made.victim, actor="vic", user="lee", role=Role.LABELER)
        drain(deps)
        yield made
    deps.close()


def test_no_dataset_reaches_loupes_own_files_or_another_projects(
    site: Site, reliability: Any
) -> None:
    assert (
        site.upload(site.victim, "secret.png", image_bytes("PNG"), "image/png").status_code == 201
    )
    drain(site.deps)  # renditions made: the derivatives container holds the victim's pictures
    site.http.post(
        f"/api/projects/{site.victim}/exports", json={"format": "csv"}, headers=site.auth("vic")
    )
    run_exports(site.deps)
    reaches = [
        ("data", "**/."),
        ("data", "uploads/**"),
        ("data", f"uploads/{site.victim}/**"),
        ("data", "u*/**"),
        ("derivatives", "**/."),
        ("derivatives", f"{site.victim}/**"),
        ("exports", "**/."),
        ("models", "**/."),
        ("vault", "**/."),  # a container the deployment does not list
    ]
    created = patched = 0
    mine = site.create("mal", "Mine").json()
    for number, (container, path) in enumerate(reaches):
        dataset = {"source": "blob", "container": container, "path": path}
        answer = site.create("mal", f"Reach {number}", dataset=dataset)
        assert answer.status_code == 403, answer.text
        assert "never a dataset" in answer.text or "outside the places" in answer.text
        created += answer.status_code < 300
        etag = site.http.get(f"/api/projects/{mine['id']}", headers=site.auth("mal")).headers[
            "ETag"
        ]
        change = site.http.patch(
            f"/api/projects/{mine['id']}",
            json={"dataset": dataset},
            headers=site.auth("mal") | {"If-Match": etag},
        )
        assert change.status_code in (403, 409), change.text  # 409: fixed after initializing
        patched += change.status_code < 300
    # New files of the victim's arrive: none is registered anywhere but in the victim's project.
    assert site.upload(site.victim, "later.png", image_bytes("PNG"), "image/png").status_code == 201
    drain(site.deps)
    leaked = sum(
        len(site.items(p["id"]))
        for p in site.http.get("/api/projects", headers=site.auth("mal")).json()
    )
    # And the victim's items are served to no one outside the project.
    victim_items = site.items(site.victim)
    served = 0
    for item in victim_items:
        for rendition in ("display", "thumbnail"):
            url = f"/api/projects/{site.victim}/items/{item['id']}/media/{rendition}"
            for who in ("mal", "ada"):
                served += site.http.get(url, headers=site.auth(who)).status_code < 300
    assert (created, patched, leaked, served) == (0, 0, 0, 0) and len(victim_items) == 2
    reliability.record(
        Row(
            suite="Security: cross-project read through datasets",
            test="a creator's projects aimed at Loupe's containers and others' uploads",
            load="1 victim project with uploads, renditions and an export",
            inputs=f"{len(reaches)} dataset paths × create and change; victim media × 2 "
            "renditions × a stranger and an admin",
            result={
                "projects made": created,
                "datasets changed": patched,
                "victim items registered elsewhere": leaked,
                "victim files served to non-members": served,
                "allowed roots": ", ".join(str(r) for r in DATASETS),
            },
        )
    )


def test_stored_files_are_served_inert(site: Site, reliability: Any) -> None:
    tries = [
        ("real.png", image_bytes("PNG"), "text/html"),  # a picture whose sender lied
        ("page.png", HTML, "text/html"),  # a page dressed as a picture
        ("page.jpg", HTML, "image/jpeg"),
        ("vector.png", SVG, "image/svg+xml"),
        ("polyglot.png", image_bytes("PNG") + HTML, "text/html"),
    ]
    inline_markup = unsafe_headers = 0
    for path, data, content_type in tries:
        sent = site.upload(site.victim, path, data, content_type)
        assert sent.status_code == 201, sent.text
        (item,) = sent.json()["items"]
        got = site.http.get(
            f"/api/projects/{site.victim}/items/{item['id']}/media/display",
            headers=site.auth("lee"),
        )
        assert got.status_code == 200
        kind, disposition = got.headers["content-type"], got.headers["content-disposition"]
        inline_markup += disposition.startswith("inline") and not kind.startswith("image/")
        inline_markup += "html" in kind or "svg" in kind
        policy = got.headers["content-security-policy"]
        unsafe_headers += got.headers.get("x-content-type-options") != "nosniff"
        unsafe_headers += "sandbox" not in policy or "script-src" in policy
    assert (inline_markup, unsafe_headers) == (0, 0)
    reliability.record(
        Row(
            suite="Security: content-type XSS",
            test="uploads that claim or contain markup, served back through the API",
            inputs="PNG sent as text/html; HTML named .png and .jpg; SVG with script; a PNG "
            "with HTML appended (the browser side: tests/e2e/test_ui_manage.py)",
            result={
                "files": len(tries),
                "served as markup or inline non-image": inline_markup,
                "responses without nosniff and sandbox": unsafe_headers,
            },
        )
    )


def test_links_end_when_access_ends(site: Site, reliability: Any) -> None:
    sent = site.upload(site.victim, "a.png", image_bytes("PNG"), "image/png")
    (item,) = sent.json()["items"]
    media = f"/api/projects/{site.victim}/items/{item['id']}/media/display"
    members.set_member(
        site.deps, project_id=site.victim, actor="vic", user="lee", role=Role.REVIEWER
    )
    made = site.http.post(
        f"/api/projects/{site.victim}/exports", json={"format": "csv"}, headers=site.auth("lee")
    ).json()
    run_exports(site.deps)
    link = site.http.get(
        f"/api/projects/{site.victim}/exports/{made['id']}", headers=site.auth("lee")
    ).json()["url"]
    session = TestClient(site.http.app)  # type: ignore[arg-type]
    assert session.post("/api/session", headers=site.auth("lee")).status_code == 200
    before = [
        site.http.get(media, headers=site.auth("lee")).status_code,
        session.get(media).status_code,
        site.http.get(link).status_code,
    ]
    assert before == [200, 200, 200]
    members.remove_member(site.deps, project_id=site.victim, actor="vic", user="lee")
    after_removal = [
        site.http.get(media, headers=site.auth("lee")).status_code,
        session.get(media).status_code,
        site.http.get(link).status_code,
    ]
    members.set_member(
        site.deps, project_id=site.victim, actor="vic", user="lee", role=Role.REVIEWER
    )
    assert site.http.get(link).status_code == 200
    users.revoke_tokens(site.deps, name="lee")
    after_revocation = [
        site.http.get(media, headers=site.auth("lee")).status_code,
        session.get(media).status_code,
        site.http.get(link).status_code,
    ]
    served = sum(s < 300 for s in after_removal + after_revocation)
    assert served == 0, (after_removal, after_revocation)
    reliability.record(
        Row(
            suite="Security: link after revocation",
            test="media and export links right after a member is removed or a token revoked",
            inputs="item media by token and by session cookie; a signed export link",
            result={
                "requests after access ended": len(after_removal + after_revocation),
                "served": served,
                "delay before refusal (s)": 0,
            },
        )
    )


def test_a_refused_page_submission_changes_nothing(site: Site, reliability: Any) -> None:
    for n in range(4):
        site.upload(site.victim, f"p{n}.png", image_bytes("PNG", (40 + n, 30)), "image/png")
    base = f"/api/projects/{site.victim}"
    task = site.http.post(f"{base}/tasks/next", json={"size": 4}, headers=site.auth("lee")).json()
    ids = [i["id"] for i in task["items"]]
    good = [{"itemId": i, "value": {"label": "a"}} for i in ids]
    pages = [
        [*good[:3], {"itemId": ids[3], "value": {"label": "nope"}}],  # one unknown class
        [*good[:3], {"itemId": ids[3], "value": {"labels": ["a"]}}],  # one of the wrong shape
        [*good, good[0]],  # an item twice
        [*good[:3], {"itemId": "not-an-item", "value": {"label": "a"}}],
    ]

    def post(page: list[dict[str, Any]]) -> int:
        answer = site.http.post(
            f"{base}/annotations", json={"answers": page}, headers=site.auth("lee")
        )
        return answer.status_code

    def differ(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> int:
        return sum(x != y for x, y in zip(a, b, strict=True))

    before = site.items(site.victim)
    refused = [post(page) for page in pages]
    changed = differ(before, site.items(site.victim))
    site.http.post(f"{base}/tasks/release", json={"itemIds": ids[3:]}, headers=site.auth("lee"))
    released = site.items(site.victim)
    refused.append(post(good))  # the last item's lease is gone
    changed += differ(released, site.items(site.victim))
    assert all(400 <= s < 500 for s in refused) and changed == 0, (refused, changed)
    saved = site.http.post(
        f"{base}/annotations", json={"answers": good[:3]}, headers=site.auth("lee")
    )
    again = site.http.post(
        f"{base}/annotations", json={"answers": good[:3]}, headers=site.auth("lee")
    )
    assert saved.status_code == 200 and again.status_code == 200  # a repeat is a no-op
    labeled = sum(1 for item in site.items(site.victim) if item["state"] == "labeled")
    assert labeled == 3
    reliability.record(
        Row(
            suite="Security: partial writes",
            test="page submissions with one bad answer, a lost lease, a repeat",
            inputs="pages of 4: an unknown class, a wrong shape, an item twice, an unknown "
            "item, an item whose lease was released; then the good page twice",
            result={
                "refused": len(refused),
                "statuses": ", ".join(str(s) for s in sorted(set(refused))),
                "items changed by refused pages": int(changed),
                "labels after the good page sent twice": labeled,
            },
        )
    )


HOSTILE_SETTINGS = {
    "LOUPE_DATASETS": [
        "exports",
        "derivatives/p1",
        "models",
        "data",
        "data/uploads",
        "lake/../data",
        "lake/*",
        "Lake",
        "lake,,exports",
        "lake\\x",
        "a" * 70,
    ],
    "LOUPE_ADMINS": ["-x", "a b/c", "a" * 65, "ann;rm -rf", "é"],
    # Numbers: only plain ASCII ones (int() and float() also read these).
    "LOUPE_RATE_LIMIT": ["1_0", "\u0661\u0662", "1e3", "nan", "inf", "-1"],
    "LOUPE_WORKERS": ["\u0661", "0x4", "+4"],
    "LOUPE_PORT": ["\u0668\u0660", "8_080", " 80 0"],
    "LOUPE_GPU_PROFILE": ["-T4", "Consumption GPU", "a" * 65, "T4;rm -rf", "\u0661"],
}


def test_trust_settings_refuse_hostile_values(reliability: Any) -> None:
    refused = 0
    for name, values in HOSTILE_SETTINGS.items():
        for value in values:
            with pytest.raises(SettingsError, match=name):
                Settings.from_env({name: value})
            refused += 1
    fine = Settings.from_env({"LOUPE_DATASETS": "lake, archive/scans", "LOUPE_ADMINS": "a@b.c"})
    assert [str(r) for r in fine.dataset_roots] == ["lake/", "archive/scans/"]
    assert fine.admins == {"a@b.c"} and Settings.from_env({}).dataset_roots == ()
    reliability.record(
        Row(
            suite="Abuse: settings",
            test="LOUPE_DATASETS, LOUPE_ADMINS and the numeric settings",
            inputs="Loupe's own containers, the uploads folder, traversal, wildcards, bad names; "
            "numbers with underscores, exponents, other scripts' digits, nan, inf",
            result={"values tried": refused, "refused at start with the setting named": refused},
        )
    )
