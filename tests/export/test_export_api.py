"""Exports and imports over HTTP and through the `loupe export` / `loupe import` client: a
streamed download, a job whose file is fetched by its signed link, and labels sent back."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pycocotools.coco import COCO  # type: ignore[import-untyped]

from core.adapters.local.blobs import FolderBlobStore
from core.domain.projects import Project
from core.http.app import create_app
from core.local import transfer
from core.ports import Deps
from core.settings import Settings
from tests.export.test_export_services import (
    CLASSES,
    MEDIA,
    finals,
    labeled_project,
    run_exports,
    same,
)
from tests.support.deps import memory_deps
from tests.support.labeling import add_items, running_project, users
from tests.support.stages import running


@dataclass
class World:
    deps: Deps
    app: object
    tokens: dict[str, str]
    project: Project

    def client(self, who: str = "olive") -> TestClient:
        # The API's own way in, and the programs' route the CLI takes (X-Loupe-Token).
        token = self.tokens[who]
        headers = {"Authorization": f"Bearer {token}", "X-Loupe-Token": token}
        return TestClient(self.app, headers=headers)  # type: ignore[arg-type]


@pytest.fixture
def world(tmp_path: Path) -> World:
    deps = memory_deps()
    deps.blobs = FolderBlobStore(tmp_path / "blobs")
    tokens = users(deps, "olive", "rita", "lee")
    project = labeled_project(deps)
    app = create_app(lambda: deps, Settings(webui_dir=None, secret="s"))
    return World(deps, app, tokens, project)


def test_get_streams_the_export_file(world: World, tmp_path: Path) -> None:
    with world.client("rita") as client:
        url = f"/api/projects/{world.project.id}/export"
        response = client.get(url, params={"format": "coco", "state": ["labeled", "unlabeled"]})
        assert response.status_code == 200, response.text
        assert response.headers["content-disposition"] == 'attachment; filename="boxes-coco.json"'
        (tmp_path / "c.json").write_bytes(response.content)
        assert len(COCO(str(tmp_path / "c.json")).getImgIds()) == 33
        zipped = client.get(url, params={"format": "yolo", "validation": 0.3, "seed": 1})
        assert zipped.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
            assert "data.yaml" in archive.namelist()
        refused = client.get(url, params={"format": "conll"})
        assert refused.status_code == 422 and "conll" in refused.text
    with world.client("lee") as client:
        assert client.get(url, params={"format": "csv"}).status_code == 403


def test_export_job_then_signed_download(world: World) -> None:
    base = f"/api/projects/{world.project.id}"
    with world.client() as client:
        made = client.post(f"{base}/exports", json={"format": "csv", "options": {"seed": 3}})
        assert made.status_code == 202, made.text
        assert made.json()["status"] == "queued" and "pd.read_csv" in made.json()["snippet"]
        run_exports(world.deps)
        listed = client.get(f"{base}/exports").json()["exports"]
        assert [e["id"] for e in listed] == [made.json()["id"]]
        assert listed[0]["status"] == "succeeded"
        # The link is signed: it works without the bearer token.
        download = TestClient(world.app).get(listed[0]["url"])  # type: ignore[arg-type]
        streamed = client.get(f"{base}/export", params={"format": "csv", "seed": 3})
        assert download.status_code == 200 and download.content == streamed.content
        assert client.get(f"{base}/exports/nope").status_code == 404


def test_cli_client_exports_and_imports(world: World, tmp_path: Path) -> None:
    common = {"server": "http://testserver", "token": "-", "progress": False}
    path = transfer.export(
        project_id=world.project.id,
        params={"format": "azureml_jsonl"},
        out=tmp_path,
        client=world.client(),
        **common,  # type: ignore[arg-type]
    )
    assert path == tmp_path / "boxes-azureml_jsonl.zip"
    by_job = transfer.export(
        project_id=world.project.id,
        params={"format": "azureml_jsonl"},
        out=tmp_path / "job.zip",
        job=True,
        client=_running_jobs(world),
        **common,  # type: ignore[arg-type]
    )
    with zipfile.ZipFile(by_job) as a, zipfile.ZipFile(path) as b:
        assert a.read("data.jsonl").count(b"\n") == b.read("data.jsonl").count(b"\n") == 30
    target = running_project(
        world.deps, name="Copy", task_type="image_bounding_box", classes=CLASSES, owner="olive"
    )
    for item_path in finals(world.deps, world.project):
        add_items(world.deps, target, 1, prefix=item_path.removesuffix("000000.jpg"), media=MEDIA)
    report = transfer.import_file(
        project_id=target.id,
        path=path,
        format="azureml_jsonl",
        mode="final",
        client=running(world.client(), world.deps),
        **common,  # type: ignore[arg-type]
    )
    assert (report["updated"], report["unmatched"], report["unchanged"]) == (30, 0, 0)
    assert same(finals(world.deps, target), finals(world.deps, world.project))


def test_import_over_http_reports_and_is_for_owners(world: World) -> None:
    base = f"/api/projects/{world.project.id}"
    lines = [{"path": "todo/000000.jpg", "final": {"boxes": []}}, {"path": "x.jpg", "final": {}}]
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    with world.client() as client:
        report = client.post(f"{base}/imports", params={"mode": "final"}, content=body).json()
        assert (report["updated"], report["unmatchedPaths"]) == (1, ["x.jpg"])
        bad = client.post(f"{base}/imports", params={"format": "voc"}, content=body)
        assert bad.status_code == 422 and "coco" in bad.text
    with world.client("rita") as client:
        assert client.post(f"{base}/imports", content=body).status_code == 403


def _running_jobs(world: World) -> TestClient:
    """A client whose every request first runs queued export jobs (the local workers' part)."""
    client = world.client()
    send = client.send

    def sending(*args: object, **kwargs: object) -> object:
        run_exports(world.deps)
        return send(*args, **kwargs)  # type: ignore[arg-type]

    client.send = sending  # type: ignore[method-assign,assignment]
    return client


def test_a_name_in_any_script_downloads_under_its_own_name(tmp_path: Path) -> None:
    # A header carries Latin-1 only: the name goes in `filename*` too, not into a crash.
    deps = memory_deps()
    deps.blobs = FolderBlobStore(tmp_path / "blobs")
    tokens = users(deps, "olive")
    project = running_project(deps, name="猫 Katzen", owner="olive")
    app = create_app(lambda: deps, Settings(webui_dir=None, secret="s"))
    with TestClient(app, headers={"Authorization": f"Bearer {tokens['olive']}"}) as client:
        response = client.get(f"/api/projects/{project.id}/export")
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="_-katzen-loupe_jsonl.jsonl"')
    assert disposition.endswith("filename*=UTF-8''%E7%8C%AB-katzen-loupe_jsonl.jsonl")
