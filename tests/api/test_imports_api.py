"""Imports over HTTP and through `loupe import`: a refused file answers one 422 problem+json that
lists every problem's place (capped, with the count of the rest) and the classes the project
lacks; the CLI prints that list; a good file's report says what was done, and again when the
same file is sent twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.domain.items import MediaFacts
from core.domain.projects import Project
from core.http.app import create_app
from core.local import transfer
from core.ports import Deps
from core.settings import Settings
from tests.support.deps import memory_deps
from tests.support.labeling import add_items, running_project, users
from tests.support.stages import running

MEDIA = MediaFacts(format="jpeg", bytes=1000, width=640, height=480)


@dataclass
class World:
    deps: Deps
    client: TestClient
    project: Project

    @property
    def url(self) -> str:
        return f"/api/projects/{self.project.id}/imports"


@pytest.fixture
def world() -> Iterator[World]:
    deps = memory_deps()
    tokens = users(deps, "olive")
    project = running_project(deps, task_type="image_bounding_box", classes=("cat", "dog"))
    add_items(deps, project, 3, media=MEDIA)
    app = create_app(lambda: deps, Settings(webui_dir=None, secret="s"))
    # Both ways in: the API's own (bearer) and the programs' route the CLI takes (X-Loupe-Token).
    headers = {"Authorization": f"Bearer {tokens['olive']}", "X-Loupe-Token": tokens["olive"]}
    with TestClient(app, headers=headers) as client:  # type: ignore[arg-type]
        yield World(deps, client, project)


def lines(*records: Any) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def boxed(path: str, label: str = "cat", w: float = 0.5) -> dict[str, Any]:
    return {"path": path, "final": {"boxes": [{"label": label, "x": 0, "y": 0, "w": w, "h": 0.5}]}}


def test_a_refused_file_answers_one_problem_listing_every_place(world: World) -> None:
    body = (
        lines(
            boxed("img/000000.jpg"),
            boxed("img/000001.jpg", label="zebra"),
            {"path": 7},
            boxed("img/000002.jpg", w=3.0),
        )
        + b"{not json\n"
    )
    response = world.client.post(world.url, params={"mode": "final"}, content=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "File cannot be imported" and problem["status"] == 422
    assert problem["detail"].startswith("nothing was imported: the file has 4 problem(s)")
    assert [e["field"] for e in problem["errors"]] == ["line 2", "line 3", "line 4", "line 5"]
    assert problem["unknownClasses"] == ["zebra"] and problem["omitted"] == 0
    assert problem["instance"] == world.url


def test_malformed_bodies_are_4xx_naming_where(world: World) -> None:
    cases = {
        ("coco", b""): ("file", "is empty"),
        ("coco", b"[1]"): ("file", "is a list"),
        ("coco", b'{"images": [{"id": 1,'): ("file", "is not valid JSON"),
        ("loupe_jsonl", b"\x89PNG\r\n\x1a\n\x00\x00"): ("line 1", "is not UTF-8 text"),
        ("azureml_jsonl", b"PK\x03\x04 no zip"): ("file", "starts like a zip"),
        ("loupe_jsonl", b"[]\n"): ("line 1", "must be a JSON object"),
    }
    for (fmt, body), (where, starts) in cases.items():
        response = world.client.post(world.url, params={"format": fmt}, content=body)
        assert response.status_code == 422, (fmt, body, response.text)
        error, *_ = response.json()["errors"]
        assert error["field"] == where and error["rule"].startswith(starts), (fmt, error)
    text = world.client.post(world.url, params={"format": "voc"}, content=b"x")
    assert text.status_code == 422 and "coco" in text.json()["detail"]


def test_the_report_of_a_file_sent_twice(world: World) -> None:
    body = lines(boxed("img/000000.jpg"), boxed("img/000001.jpg"), {"path": "gone.jpg"})
    first = world.client.post(world.url, params={"mode": "final"}, content=body).json()
    assert (first["updated"], first["unchanged"], first["withoutLabels"]) == (2, 0, 1)
    again = world.client.post(world.url, params={"mode": "final"}, content=body).json()
    assert (again["updated"], again["unchanged"], again["job"]) == (0, 2, first["job"])
    assert again["resumed"] is False


def test_the_cli_prints_every_problem_of_a_refused_file(world: World, tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    bad = [boxed(f"img/{i:06d}.jpg", label="zebra") for i in range(3)]
    path.write_bytes(lines(*[{"path": f"p{i}", "final": 1} for i in range(120)], *bad))
    common = {"server": "http://testserver", "token": "-", "progress": False}
    with pytest.raises(transfer.ImportRefused) as refused:
        transfer.import_file(
            project_id=world.project.id,
            path=path,
            format="loupe_jsonl",
            mode="final",
            client=running(world.client, world.deps),
            **common,  # type: ignore[arg-type]
        )
    shown = refused.value.lines()
    assert shown[0] == '  line 1: "final" must be a label value (an object), not a number'
    assert shown[100] == "  … and 23 more problem(s)"
    assert shown[101] == "classes the project lacks: zebra (add them, or fix the file)"
    assert str(refused.value).startswith("nothing was imported: the file has 123 problem(s)")
    path.write_bytes(lines(boxed("img/000000.jpg"), boxed("elsewhere.jpg")))
    report = transfer.import_file(
        project_id=world.project.id,
        path=path,
        format="loupe_jsonl",
        mode="prelabel",
        client=running(world.client, world.deps),
        **common,  # type: ignore[arg-type]
    )
    assert transfer.report_lines(report) == [
        "2 record(s): 1 item(s) updated, 0 already so",
        "  1 path(s) match no item of the project, skipped:",
        "    elsewhere.jpg",
    ]
