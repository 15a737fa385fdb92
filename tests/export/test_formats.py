"""Every format written from records and read back by its own tools (pycocotools for COCO) or
by a parser: the labels that went in come out, in each format's conventions."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from pycocotools.coco import COCO  # type: ignore[import-untyped]

from core.domain.exports import ExportFormat
from core.export import azureml, bundle, coco, conll, loupe_jsonl, table, voc, yolo
from core.export.coco_reader import read_coco
from core.export.jsonl import json_lines
from core.export.records import Imported, Options, Problem, Record, record

CLASSES = ["cat", "dog", "animal/bird"]
W, H = 640, 480
BOXES = {
    "a/1.jpg": [{"label": "cat", "x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4}],
    "a/2.jpg": [
        {"label": "dog", "x": 0.5, "y": 0.5, "w": 0.25, "h": 0.125},
        {"label": "animal/bird", "x": 0.0, "y": 0.0, "w": 1.0, "h": 1.0},
    ],
    "b/3.png": [],
}
POLYGONS = {
    "p/1.jpg": [{"label": "cat", "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.6]]}],
    "p/2.jpg": [],
}


def read(found: Iterable[Imported | Problem]) -> list[Imported]:
    """What a reader read back, none of it a problem."""
    back = list(found)
    assert not [r for r in back if isinstance(r, Problem)]
    return [r for r in back if isinstance(r, Imported)]


def doc(path: str, value: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    body = {
        "id": f"id-{path}",
        "projectId": "p",
        "path": path,
        "kind": "image",
        "state": "labeled" if value is not None else "unlabeled",
        "rank": 0.5,
        "media": {"format": "jpeg", "bytes": 10, "width": W, "height": H},
        "annotations": [{"user": "ann", "at": "2026-11-01T09:00:00.000000Z", "value": value}],
        "createdAt": "2026-11-01T09:00:00.000000Z",
        "updatedAt": "2026-11-01T09:00:00.000000Z",
    }
    if value is not None:
        body["final"] = value
    return body | extra


def recs(values: dict[str, dict[str, Any]], options: Options | None = None) -> list[Record]:
    return [record(doc(path, value), options or Options()) for path, value in values.items()]


def boxes() -> dict[str, dict[str, Any]]:
    return {path: {"boxes": b} for path, b in BOXES.items()}


def polygons() -> dict[str, dict[str, Any]]:
    return {path: {"polygons": p} for path, p in POLYGONS.items()}


def write(target: bundle.Target, records: list[Record]) -> bytes:
    out = io.BytesIO()
    bundle.write(target, lambda: iter(records), out, io.BytesIO)
    return out.getvalue()


def target(fmt: ExportFormat, task: str, **options: Any) -> bundle.Target:
    return bundle.Target(
        fmt, task, CLASSES, Options(**options), lambda p: f"https://acct/data/{p}", "pets"
    )


def close(a: float, b: float) -> bool:
    return abs(a - b) < 1e-6


def same_boxes(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    return len(a) == len(b) and all(
        x["label"] == y["label"] and all(close(x[k], y[k]) for k in "xywh")
        for x, y in zip(a, b, strict=True)
    )


def same_polygons(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    return len(a) == len(b) and all(
        x["label"] == y["label"]
        and all(
            close(p, q)
            for pa, pb in zip(x["points"], y["points"], strict=True)
            for p, q in zip(pa, pb, strict=True)
        )
        for x, y in zip(a, b, strict=True)
    )


def test_coco_detection_loads_in_pycocotools_with_pixels_and_1_based_ids(tmp_path: Any) -> None:
    data = write(target(ExportFormat.COCO, "image_bounding_box"), recs(boxes()))
    (tmp_path / "coco.json").write_bytes(data)
    api = COCO(str(tmp_path / "coco.json"))
    assert sorted(c["id"] for c in api.loadCats(api.getCatIds())) == [1, 2, 3]
    assert [c["name"] for c in api.loadCats([1, 2, 3])] == CLASSES
    images = api.loadImgs(api.getImgIds())
    assert [i["file_name"] for i in images] == list(BOXES)  # every image, even without boxes
    assert all((i["width"], i["height"]) == (W, H) for i in images)
    second = images[1]["id"]
    anns = api.loadAnns(api.getAnnIds(imgIds=[second]))
    assert [a["category_id"] for a in anns] == [2, 3]
    assert anns[0]["bbox"] == pytest.approx([320, 240, 160, 60])
    assert anns[0]["area"] == pytest.approx(160 * 60)
    assert all(a["iscrowd"] == 0 for a in anns)
    assert api.getAnnIds(imgIds=[images[2]["id"]]) == []
    # The same annotations as detection results, with scores: what an evaluation does.
    results = [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "bbox": a["bbox"],
            "score": 0.9,
        }
        for a in api.loadAnns(api.getAnnIds())
    ]
    detections = api.loadRes(results)
    assert len(detections.getAnnIds()) == 3
    assert detections.loadAnns(detections.getAnnIds())[0]["score"] == 0.9
    back = {
        r.path: r.value for r in read(read_coco(io.BytesIO(data), task_type="image_bounding_box"))
    }
    assert back.keys() == BOXES.keys()
    assert all(same_boxes(back[p]["boxes"], BOXES[p]) for p in BOXES)


def test_coco_polygons_have_area_and_bbox_and_round_trip(tmp_path: Any) -> None:
    data = write(target(ExportFormat.COCO, "image_polygon"), recs(polygons()))
    (tmp_path / "coco.json").write_bytes(data)
    api = COCO(str(tmp_path / "coco.json"))
    (ann,) = api.loadAnns(api.getAnnIds())
    assert ann["segmentation"] == [pytest.approx([64, 48, 320, 48, 320, 288])]
    assert ann["bbox"] == pytest.approx([64, 48, 256, 240])
    assert ann["area"] == pytest.approx(256 * 240 / 2)
    mask = api.annToMask(ann)  # pycocotools rasterizes it: the polygon is well formed
    assert mask.shape == (H, W) and 0.9 < mask.sum() / ann["area"] < 1.1
    back = {r.path: r.value for r in read(read_coco(io.BytesIO(data), task_type="image_polygon"))}
    assert all(same_polygons(back[p]["polygons"], POLYGONS[p]) for p in POLYGONS)


def test_coco_classification_and_normalized_flavour() -> None:
    values = {"x.jpg": {"labels": ["cat", "dog"]}, "y.jpg": {"labels": ["dog"]}}
    data = json.loads(write(target(ExportFormat.COCO, "image_multilabel"), recs(values)))
    assert [(a["image_id"], a["category_id"]) for a in data["annotations"]] == [
        (1, 1),
        (1, 2),
        (2, 2),
    ]
    back = read(read_coco(io.BytesIO(json.dumps(data).encode()), task_type="image_multilabel"))
    assert {r.path: r.value for r in back} == values
    norm = json.loads(
        write(target(ExportFormat.COCO, "image_bounding_box", normalized_coco=True), recs(boxes()))
    )
    assert norm["annotations"][0]["bbox"] == pytest.approx([0.1, 0.2, 0.3, 0.4])


AUTOML_BOX = {"label", "topX", "topY", "bottomX", "bottomY", "isCrowd"}


def azure_lines(
    task: str, values: dict[str, dict[str, Any]], **options: Any
) -> list[dict[str, Any]]:
    data = write(target(ExportFormat.AZUREML_JSONL, task, **options), recs(values))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        mltable = archive.read("MLTable").decode()
        assert "file: ./data.jsonl" in mltable and "read_json_lines" in mltable
        assert "column_type: stream_info" in mltable
        raw = archive.read("data.jsonl")
    lines = [json.loads(line) for line in raw.splitlines()]
    back = {
        r.path: r.value
        for r in read(azureml.read_image_jsonl(json_lines(io.BytesIO(raw)), task_type=task))
    }
    assert {p.removeprefix("https://acct/data/") for p in back} == set(values)
    for line in lines:
        assert set(line) == {"image_url", "image_details", "label"}
        assert line["image_url"].startswith("https://acct/data/")
        assert line["image_details"] == {"format": "jpeg", "width": f"{W}px", "height": f"{H}px"}
    return lines


def test_azureml_jsonl_for_each_image_task_type_field_by_field() -> None:
    lines = azure_lines("image_multiclass", {"x.jpg": {"label": "cat"}})
    assert lines[0]["label"] == "cat"
    lines = azure_lines("image_multilabel", {"x.jpg": {"labels": ["cat", "dog"]}})
    assert lines[0]["label"] == ["cat", "dog"]
    lines = azure_lines("image_bounding_box", boxes())
    first = lines[0]["label"][0]
    assert set(first) == AUTOML_BOX and first["isCrowd"] == 0
    assert (first["topX"], first["topY"]) == pytest.approx((0.1, 0.2))
    assert (first["bottomX"], first["bottomY"]) == pytest.approx((0.4, 0.6))
    assert all(
        0 <= b[k] <= 1
        for line in lines
        for b in line["label"]
        for k in AUTOML_BOX - {"label", "isCrowd"}
    )
    assert lines[2]["label"] == []
    lines = azure_lines("image_polygon", polygons())
    part = lines[0]["label"][0]
    assert set(part) == {"label", "polygon", "isCrowd"}
    assert part["polygon"] == [pytest.approx([0.1, 0.1, 0.5, 0.1, 0.5, 0.6])]


def test_azureml_split_and_text_csv() -> None:
    values = {f"{i}.jpg": {"label": "cat"} for i in range(200)}
    data = write(
        target(ExportFormat.AZUREML_JSONL, "image_multiclass", validation=0.25, seed=7),
        recs(values, Options(validation=0.25, seed=7)),
    )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        train = archive.read("train/data.jsonl").splitlines()
        val = archive.read("validation/data.jsonl").splitlines()
        assert {"train/MLTable", "validation/MLTable"} <= set(archive.namelist())
    assert (len(train), len(val)) == (150, 50)  # exactly the fraction asked
    texts = [
        record(doc(f"t{i}.txt", v) | {"kind": "text", "text": f"hello, {i}"}, Options())
        for i, v in enumerate([{"labels": ["cat", "dog"]}, {"labels": ["dog"]}])
    ]
    data = write(target(ExportFormat.AZUREML_JSONL, "text_multilabel"), texts)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        rows = list(csv.reader(io.StringIO(archive.read("data.csv").decode())))
        assert "read_delimited" in archive.read("MLTable").decode()
    assert rows == [["text", "labels"], ["hello, 0", "['cat', 'dog']"], ["hello, 1", "['dog']"]]


def test_csv_round_trip() -> None:
    data = write(target(ExportFormat.CSV, "image_bounding_box"), recs(boxes()))
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert rows[1]["labels"] == "dog;animal/bird" and rows[1]["labelers"] == "ann"
    assert rows[1]["state"] == "labeled" and rows[1]["labeled_at"].startswith("2026-11-01")
    back = {r.path: r.value for r in table.read_csv(io.BytesIO(data))}
    assert all(same_boxes(back[p]["boxes"], BOXES[p]) for p in BOXES)


def test_voc_zip_parsed_back() -> None:
    data = write(target(ExportFormat.VOC, "image_bounding_box"), recs(boxes()))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert names == [
            "Annotations/a_1.xml",
            "Annotations/a_2.xml",
            "Annotations/b_3.xml",
            "ImageSets/Main/train.txt",
            "ImageSets/Main/trainval.txt",
        ]
        files = {n: archive.read(n) for n in names if n.endswith(".xml")}
        assert archive.read("ImageSets/Main/train.txt") == b"a_1\na_2\nb_3\n"
    one = files["Annotations/a_1.xml"].decode()
    assert "<xmin>65</xmin>" in one and "<ymax>288</ymax>" in one  # 1-based whole pixels
    back = {i.path: i.value for i in map(voc.read_voc, files.values())}
    assert all(same_boxes(back[p]["boxes"], BOXES[p]) for p in BOXES)


@pytest.mark.parametrize("task", ["image_bounding_box", "image_polygon"])
def test_yolo_layout_parsed_back(task: str) -> None:
    values = boxes() if task == "image_bounding_box" else polygons()
    data = write(
        target(ExportFormat.YOLO, task, validation=0.5), recs(values, Options(validation=0.5))
    )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = yolo.read_data_yaml(archive.read("data.yaml").decode())
        assert names == CLASSES
        assert "val: images/validation" in archive.read("data.yaml").decode()
        labels = {
            n: archive.read(n).decode() for n in archive.namelist() if n.startswith("labels/")
        }
    for path, value in values.items():
        (name,) = [n for n in labels if n.endswith(f"/{path.rsplit('.', 1)[0]}.txt")]
        back = yolo.read_labels(labels[name], names, task_type=task)
        key = "boxes" if task == "image_bounding_box" else "polygons"
        same = same_boxes if key == "boxes" else same_polygons
        assert same(back[key], value[key]), (back, value)
    splits = [n.split("/")[1] for n in labels]
    assert sorted(splits).count("validation") == round(0.5 * len(values))
    if task == "image_bounding_box":
        (one,) = [n for n in labels if n.endswith("/a/1.txt")]
        assert labels[one] == "0 0.250000 0.400000 0.300000 0.400000\n"


def test_conll_bio_tags_round_trip() -> None:
    text = "Ada Lovelace met Charles Babbage in London ."
    spans = [
        {"label": "PER", "start": 0, "end": 12},
        {"label": "PER", "start": 17, "end": 32},
        {"label": "LOC", "start": 36, "end": 42},
    ]
    recs_ = [
        record(doc("n1.txt", {"spans": spans}) | {"kind": "text", "text": text}, Options()),
        record(doc("n2.txt", {"spans": []}) | {"kind": "text", "text": "Nothing here"}, Options()),
    ]
    data = write(target(ExportFormat.CONLL, "text_ner"), recs_).decode()
    assert data.startswith("-DOCSTART- O\n\n")
    first, second = conll.read_conll(data)
    assert first[:3] == [("Ada", "B-PER"), ("Lovelace", "I-PER"), ("met", "O")]
    assert first[-2:] == [("London", "B-LOC"), (".", "O")]
    assert second == [("Nothing", "O"), ("here", "O")]
    assert conll.spans_of(text, first) == spans
    assert "\n\n" in data.split("-DOCSTART- O\n\n", 1)[1]  # a blank line between items


def test_loupe_jsonl_keeps_everything_and_predictions_on_request() -> None:
    prediction = {"value": {"label": "dog"}, "confidence": 0.8, "run": "r1"}
    docs = [doc("x.jpg", {"label": "cat"}), doc("y.jpg", None, prediction=prediction)]
    records = [record(d, Options(predictions=True)) for d in docs]
    plain = write(target(ExportFormat.LOUPE_JSONL, "image_multiclass"), records)
    full = write(target(ExportFormat.LOUPE_JSONL, "image_multiclass", predictions=True), records)
    assert [json.loads(line) for line in full.splitlines()] == docs
    assert "prediction" not in plain.decode()
    back = read(loupe_jsonl.read_loupe_jsonl(json_lines(io.BytesIO(full))))
    assert [(r.path, r.value, r.score) for r in back] == [
        ("x.jpg", {"label": "cat"}, None),
        ("y.jpg", {"label": "dog"}, 0.8),
    ]


def test_label_subset_drops_other_classes() -> None:
    records = recs(boxes(), Options(labels=("dog",)))
    assert records[1].value == {"boxes": [BOXES["a/2.jpg"][0]]}
    assert records[0].value == {"boxes": []}


def test_formats_refuse_task_types_they_cannot_hold() -> None:
    from core.domain.errors import InvalidInput

    with pytest.raises(InvalidInput, match="yolo"):
        bundle.check_fits(ExportFormat.YOLO, "image_multiclass")
    with pytest.raises(InvalidInput):
        bundle.check_fits(ExportFormat.CONLL, "image_bounding_box")


def test_coco_writer_streams_images_before_reading_all_items() -> None:
    """The writer pulls items one at a time: images reach `out` while items keep coming."""
    out = io.BytesIO()
    seen: list[int] = []

    def items() -> Iterator[Record]:
        for i in range(3000):
            seen.append(out.tell())
            yield record(doc(f"{i}.jpg", {"boxes": BOXES["a/1.jpg"]}), Options())

    coco.write_coco(items(), out, categories=CLASSES, spool=io.BytesIO())
    assert seen[-1] > 100_000  # most images were written before the last item was read
    assert len(json.loads(out.getvalue())["annotations"]) == 3000


def test_snippets_name_the_file() -> None:
    assert "COCO('pets-coco.json')" in bundle.snippet(ExportFormat.COCO, "pets-coco.json")
    assert "mltable.load" in bundle.snippet(ExportFormat.AZUREML_JSONL, "p-azureml_jsonl.zip")
    assert "pd.read_csv('p.csv')" in bundle.snippet(ExportFormat.CSV, "p.csv")
