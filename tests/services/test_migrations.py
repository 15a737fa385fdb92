"""Migrating a whole Azure ML Data Labeling project: files written by this test to the schema
the service exported (azureml:// and https:// image URLs, class names, lists of classes,
normalized boxes with isCrowd, normalized polygons, label_confidence, text rows), turned into a
Loupe project with the same classes and labels, on every adapter set."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from core.domain.annotation_json import read_value
from core.domain.datasets import Dataset, DataSource
from core.domain.errors import Forbidden, InvalidImport, InvalidInput
from core.domain.items import Item, ItemState
from core.ports import Deps, Query
from core.services.migrations import migrate_azureml
from core.services.users import create_user
from core.store.collections import ITEMS, PROJECTS, load, scan
from tests.support.labeling import creator
from tests.support.media import image_bytes

STORE = "azureml://subscriptions/sub/resourcegroups/rg/workspaces/ws/datastores/labeling/paths/"
BLOB = "https://acct.blob.core.windows.net/images/"
DETAILS = {"format": "jpg", "width": "64px", "height": "48px"}


def line(url: str, label: Any, **extra: Any) -> dict[str, Any]:
    return {"image_url": url, "image_details": DETAILS, "label": label, "label_confidence": [1.0]}


FILES: dict[str, list[dict[str, Any]]] = {
    "image_multiclass": [
        line(STORE + "pets/1.jpg", "cat"),
        line(BLOB + "pets/2.jpg", "dog"),
        line(STORE + "pets/3.jpg", ""),  # not labeled in Azure ML
        line(STORE + "pets/gone.jpg", "cat"),  # no such blob
    ],
    "image_multilabel": [
        line(STORE + "pets/1.jpg", ["cat", "dog"]),
        line(BLOB + "pets/2.jpg", ["bird"]),
        line(STORE + "pets/3.jpg", []),
        line(STORE + "pets/gone.jpg", ["cat"]),
    ],
    "image_bounding_box": [
        line(
            STORE + "pets/1.jpg",
            [
                {
                    "label": "cat",
                    "topX": 0.1,
                    "topY": 0.2,
                    "bottomX": 0.5,
                    "bottomY": 0.6,
                    "isCrowd": 0,
                },
                {
                    "label": "dog",
                    "topX": 0.5,
                    "topY": 0.5,
                    "bottomX": 1.0,
                    "bottomY": 1.0,
                    "isCrowd": 1,
                },
            ],
        ),
        line(BLOB + "pets/2.jpg", []),  # labeled: nothing in it
        line(
            STORE + "pets/gone.jpg",
            [
                {"label": "cat", "topX": 0, "topY": 0, "bottomX": 1, "bottomY": 1, "isCrowd": 0},
            ],
        ),
    ],
    "image_polygon": [
        line(
            STORE + "pets/1.jpg",
            [
                {"label": "cat", "polygon": [[0.1, 0.1, 0.5, 0.1, 0.5, 0.6]], "isCrowd": 0},
                {
                    "label": "dog",
                    "polygon": [[0.6, 0.6, 0.9, 0.6, 0.9, 0.9], [0.1, 0.7, 0.2, 0.7, 0.2, 0.8]],
                    "isCrowd": 1,
                },
            ],
        ),
        line(
            BLOB + "pets/2.jpg", [{"label": "bird", "polygon": [[0, 0, 1, 0, 1, 1]], "isCrowd": 0}]
        ),
        line(STORE + "pets/gone.jpg", []),
    ],
}
EXPECTED: dict[str, dict[str, dict[str, Any] | None]] = {
    "image_multiclass": {
        "pets/1.jpg": {"label": "cat"},
        "pets/2.jpg": {"label": "dog"},
        "pets/3.jpg": None,
    },
    "image_multilabel": {
        "pets/1.jpg": {"labels": ["cat", "dog"]},
        "pets/2.jpg": {"labels": ["bird"]},
        "pets/3.jpg": None,
    },
    "image_bounding_box": {
        "pets/1.jpg": {
            "boxes": [
                {"label": "cat", "x": 0.1, "y": 0.2, "w": 0.4, "h": 0.39999999999999997},
                {"label": "dog", "x": 0.5, "y": 0.5, "w": 0.5, "h": 0.5},
            ]
        },
        "pets/2.jpg": {"boxes": []},
    },
    "image_polygon": {
        "pets/1.jpg": {
            "polygons": [
                {"label": "cat", "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.6]]},
                {"label": "dog", "points": [[0.6, 0.6], [0.9, 0.6], [0.9, 0.9]]},
                {"label": "dog", "points": [[0.1, 0.7], [0.2, 0.7], [0.2, 0.8]]},
            ]
        },
        "pets/2.jpg": {"polygons": [{"label": "bird", "points": [[0, 0], [1, 0], [1, 1]]}]},
    },
}


def jsonl(lines: list[dict[str, Any]]) -> io.BytesIO:
    return io.BytesIO("".join(json.dumps(x) + "\n" for x in lines).encode())


def items(deps: Deps, project_id: str) -> dict[str, Item]:
    found = scan(deps.documents.container(ITEMS), project_id, Query())
    return {i.path: i for i in (load(Item, d) for d in found)}


def close(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int):
        return abs(a - b) < 1e-9
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.parametrize("task", list(FILES))
def test_an_azure_ml_image_project_migrates_whole(deps: Deps, task: str) -> None:
    for name in ("pets/1.jpg", "pets/2.jpg", "pets/3.jpg", "pets/later.jpg"):
        deps.blobs.put("images", name, image_bytes("JPEG", (64, 48)))
    creator(deps, "olive")
    report = migrate_azureml(
        deps,
        actor="olive",
        name=f"From Azure {task}",
        data=jsonl(FILES[task]),
        dataset=Dataset(source=DataSource.BLOB, container="images", path="pets/**"),
    )
    project = report.project
    assert project.task_type.value == task  # told by the labels' shapes
    assert {c.name for c in project.label_classes} >= {"cat", "dog"}
    expected = EXPECTED[task]
    found = items(deps, project.id)
    assert found.keys() == expected.keys()  # the rest arrives with the initialization
    for path, value in expected.items():
        item = found[path]
        if value is None:  # not labeled in the file: unlabeled here, no pre-label
            assert item.state is ItemState.UNLABELED and item.final is None
        else:
            assert item.state is ItemState.LABELED and close(item.to_doc()["final"], value), (
                item.final
            )
    assert report.missing_urls == [STORE + "pets/gone.jpg"] and report.missing == 1
    assert report.labeled == sum(1 for v in expected.values() if v is not None)
    assert report.unlabeled_records == sum(1 for v in expected.values() if v is None)


def test_text_rows_become_an_upload_project_with_their_labels(deps: Deps) -> None:
    rows = [
        {"text": "Great value,\nwould buy again", "label": "pos", "label_confidence": [1.0]},
        {"text": "Broke after a day", "label": "neg"},
        {"text": "Arrived on Tuesday", "label": ""},
    ]
    creator(deps, "olive")
    report = migrate_azureml(
        deps, actor="olive", name="Reviews", data=jsonl(rows), dataset=Dataset()
    )
    assert report.project.task_type.value == "text_multiclass"
    texts = {i.text: i for i in items(deps, report.project.id).values()}
    assert texts.keys() == {r["text"] for r in rows}
    assert texts["Great value,\nwould buy again"].final == read_value({"label": "pos"})
    assert texts["Broke after a day"].final == read_value({"label": "neg"})
    assert texts["Arrived on Tuesday"].state is ItemState.UNLABELED
    multi = [{"text": "a", "label": ["x", "y"]}, {"text": "b", "label": ["y"]}]
    report = migrate_azureml(deps, actor="olive", name="Tags", data=jsonl(multi), dataset=Dataset())
    assert report.project.task_type.value == "text_multilabel"
    assert sorted(
        i.to_doc()["final"]["labels"] for i in items(deps, report.project.id).values() if i.final
    ) == [["x", "y"], ["y"]]


def test_a_bad_file_or_a_bad_place_creates_nothing(deps: Deps) -> None:
    create_user(deps, name="ada")  # the deployment's first user: its admin
    creator(deps, "olive")
    projects = deps.documents.container(PROJECTS).count(None)
    blob = Dataset(source=DataSource.BLOB, container="images", path="pets/**")
    bad = jsonl([line(STORE + "a.jpg", "cat"), line(STORE + "b.jpg", 7), {"nope": 1}])
    with pytest.raises(InvalidImport) as refused:
        migrate_azureml(deps, actor="olive", name="Bad", data=bad, dataset=blob)
    assert [v.field for v in refused.value.violations] == ["line 2", "line 3"]
    with pytest.raises(Forbidden):  # a container the deployment does not list
        migrate_azureml(
            deps,
            actor="olive",
            name="Elsewhere",
            data=jsonl(FILES["image_multiclass"]),
            dataset=Dataset(source=DataSource.BLOB, container="secrets"),
        )
    with pytest.raises(InvalidInput):  # text rows cannot be read from a blob place
        migrate_azureml(
            deps, actor="olive", name="T", data=jsonl([{"text": "a", "label": "x"}]), dataset=blob
        )
    create_user(deps, name="lee")
    with pytest.raises(Forbidden):  # only creators create projects, migrated or not
        migrate_azureml(
            deps, actor="lee", name="Mine", data=jsonl(FILES["image_multiclass"]), dataset=blob
        )
    assert deps.documents.container(PROJECTS).count(None) == projects
