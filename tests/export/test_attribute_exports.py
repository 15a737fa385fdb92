"""Attributes in every export that has a place for them, loaded by the format's own tools:
COCO's `attributes` object (pycocotools, and Loupe's COCO import), VOC's truncated / difficult /
occluded and an `<attributes>` element (globox still reads the boxes), CSV columns (pandas),
Loupe JSONL (the whole value). Azure ML's AutoML schema and CoNLL have no place for them."""

from __future__ import annotations

import dataclasses
import io
import json
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import globox  # type: ignore[import-untyped]
import pandas as pd
import pytest
from pycocotools.coco import COCO  # type: ignore[import-untyped]

from core.domain.errors import InvalidImport
from core.domain.exports import ExportFormat
from core.domain.items import Item, MediaFacts
from core.export import bundle
from core.export.coco_reader import read_coco
from core.export.records import Options, keep_labels
from core.ports import Query
from core.services.imports import ImportFormat, ImportMode, import_labels
from core.store.collections import ITEMS, load
from tests.export.test_formats import H, W, read, recs, target, write
from tests.support.deps import memory_deps
from tests.support.labeling import add_items, running_project

NAMES = ["occluded", "truncated", "color", "doors"]
CAR = {"label": "cat", "x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4}
VALUES = {
    "a/1.jpg": {
        "boxes": [
            CAR | {"attributes": {"occluded": True, "color": "red", "doors": 4}},
            CAR | {"label": "dog", "x": 0.5, "attributes": {"truncated": True}},
            CAR | {"label": "dog", "x": 0.6},
        ]
    },
    "a/2.jpg": {"boxes": []},
}


def made(fmt: ExportFormat, task: str) -> bundle.Target:
    return dataclasses.replace(target(fmt, task), attributes=NAMES)


def test_coco_annotations_carry_an_attributes_object(tmp_path: Path) -> None:
    data = write(made(ExportFormat.COCO, "image_bounding_box"), recs(VALUES))
    (tmp_path / "coco.json").write_bytes(data)
    coco = COCO(str(tmp_path / "coco.json"))
    found = [coco.anns[i].get("attributes") for i in sorted(coco.anns)]
    assert found == [{"occluded": True, "color": "red", "doors": 4}, {"truncated": True}, None]
    back = read(read_coco(io.BytesIO(data), task_type="image_bounding_box"))
    assert [b.get("attributes") for b in back[0].value["boxes"]] == found  # type: ignore[index]


def test_coco_classification_answers_carry_theirs() -> None:
    value = {"labels": ["cat", "dog"], "attributes": {"color": "blue"}}
    data = json.loads(write(made(ExportFormat.COCO, "image_multilabel"), recs({"x.jpg": value})))
    assert [a["attributes"] for a in data["annotations"]] == [{"color": "blue"}] * 2


def test_voc_fills_its_flags_and_lists_the_rest(tmp_path: Path) -> None:
    data = write(made(ExportFormat.VOC, "image_bounding_box"), recs(VALUES))
    zipfile.ZipFile(io.BytesIO(data)).extractall(tmp_path)
    root = ET.parse(tmp_path / "Annotations/a_1.xml").getroot()
    objects = [
        {child.tag: child.text for child in obj if child.tag not in ("bndbox", "attributes")}
        | {a.findtext("name"): a.findtext("value") for a in obj.iterfind("attributes/attribute")}
        for obj in root.iter("object")
    ]
    assert objects == [
        {"name": "cat", "pose": "Unspecified", "truncated": "0", "difficult": "0"}
        | {"occluded": "1", "color": "red", "doors": "4"},
        {"name": "dog", "pose": "Unspecified", "truncated": "1", "difficult": "0"},
        {"name": "dog", "pose": "Unspecified", "truncated": "0", "difficult": "0"},
    ]
    boxes = globox.AnnotationSet.from_pascal_voc(tmp_path / "Annotations")
    assert [b.label for b in boxes["a_1.jpg"].boxes] == ["cat", "dog", "dog"]


def test_csv_has_a_column_per_attribute() -> None:
    data = write(made(ExportFormat.CSV, "image_bounding_box"), recs(VALUES))
    frame = pd.read_csv(io.BytesIO(data), keep_default_na=False, dtype=str)
    columns = [f"attribute:{name}" for name in NAMES]
    assert frame[columns].values.tolist() == [
        ["true;;", ";true;", "red;;", "4;;"],
        ["", "", "", ""],
    ]
    one = {"label": "cat", "attributes": {"doors": 2.5, "occluded": False}}
    frame = pd.read_csv(
        io.BytesIO(write(made(ExportFormat.CSV, "image_multiclass"), recs({"x.jpg": one}))),
        keep_default_na=False,
        dtype=str,
    )
    assert frame[columns].values.tolist() == [["false", "", "", "2.5"]]
    assert json.loads(frame["value"][0]) == one


def test_loupe_jsonl_keeps_them_and_a_label_subset_keeps_an_answers() -> None:
    data = write(made(ExportFormat.LOUPE_JSONL, "image_bounding_box"), recs(VALUES))
    assert json.loads(data.splitlines()[0])["final"] == VALUES["a/1.jpg"]
    value: dict[str, Any] = {"labels": ["cat", "dog"], "attributes": {"color": "red"}}
    assert keep_labels(value, frozenset({"cat"})) == {
        "labels": ["cat"],
        "attributes": {"color": "red"},
    }
    kept = recs(VALUES, Options(labels=("cat",)))[0].value
    assert kept == {"boxes": [VALUES["a/1.jpg"]["boxes"][0]]}


def test_a_coco_file_with_attributes_imports_them_checked(tmp_path: Path) -> None:
    """What COCO carries comes back in: kept when the class declares it, the file refused
    (naming the annotation and the rule) when it does not suit the declaration."""
    deps = memory_deps()
    classes = [{"name": "cat", "attributes": [{"name": "occluded", "type": "boolean"}]}]
    project = running_project(deps, task_type="image_bounding_box", labelClasses=classes)
    add_items(deps, project, 1, media=MediaFacts(format="jpeg", bytes=10, width=W, height=H))
    path = "img/000000.jpg"
    data = write(
        made(ExportFormat.COCO, "image_bounding_box"),
        recs({path: {"boxes": [CAR | {"attributes": {"occluded": True}}]}}),
    )

    def run(file: bytes) -> None:
        import_labels(
            deps,
            project_id=project.id,
            actor="olive",
            data=io.BytesIO(file),
            format=ImportFormat.COCO,
            mode=ImportMode.FINAL,
        )

    run(data)
    documents = deps.documents.container(ITEMS).query(project.id, Query()).documents
    (item,) = [load(Item, document) for document in documents]
    assert item.final is not None and item.final.to_json()["boxes"][0]["attributes"] == {
        "occluded": True
    }
    with pytest.raises(InvalidImport) as refused:
        run(data.replace(b'"occluded":true', b'"occluded":"yes"'))
    assert [(v.field, v.rule) for v in refused.value.violations] == [
        ("image id 1, annotation id 1", "attributes.occluded: must be true or false")
    ]
