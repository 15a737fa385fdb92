"""Volumes in the image formats: each slice of a DICOM series or multi-frame file that has
shapes is an image of its own, named after its file (a series' slice) or `path#n` (a frame),
with the slice's rendition shipped where the format ships images; whole-item shapes stay on
the item's image; a volume's images are on one side of the split. Read back with pycocotools,
Pillow and globox, the same from a streamed download and from an export job in parts."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import globox  # type: ignore[import-untyped]
from PIL import Image
from pycocotools.coco import COCO  # type: ignore[import-untyped]

from core.domain.exports import ExportFormat
from core.ports import Deps
from core.services import exports, labeling, projects, tasks
from core.services.exports import EXPORTS_CONTAINER, ExportOptions
from core.services.frames import FrameRendition, item_frame
from tests.export.test_export_services import run_exports
from tests.services.test_dicom_series import SERIES, SLICES, put_slices
from tests.services.test_ingestion import drain, items_of, settings
from tests.support.labeling import creator
from tests.support.media import multiframe_dicom

SERIES_PATH = f"in/ct/{SERIES}.dcm"
BOX = {"label": "a", "x": 0.25, "y": 0.25, "w": 0.5, "h": 0.25}


def labeled_volumes(deps: Deps) -> str:
    """A series of three slices (b, c, a along the normal) and a four-frame file, labeled:
    boxes on slices 0 and 2 of the series and one for the whole series; one on frame 3."""
    creator(deps, "ann")
    put_slices(deps, SLICES)
    deps.blobs.put("lake", "in/clip.dcm", multiframe_dicom(4, (32, 32)))
    chosen = settings(task="image_bounding_box", ingest={"dicomSeries": True})
    project_id = projects.create_project(deps, settings=chosen, actor="ann").value.id
    drain(deps)
    answers = {
        SERIES_PATH: [BOX | {"slice": 0}, BOX | {"slice": 2}, BOX | {"slice": 2, "x": 0}, BOX],
        "in/clip.dcm": [BOX | {"slice": 3, "label": "b"}],
    }
    answer_each(deps, project_id, "boxes", answers)
    return project_id


def answer_each(
    deps: Deps, project_id: str, key: str, answers: dict[str, list[dict[str, Any]]]
) -> None:
    """ann takes as many tasks as `answers` names and answers each with its path's shapes."""
    for _ in answers:
        [item] = tasks.next_task(deps, project_id=project_id, actor="ann").items
        labeling.submit_annotation(
            deps,
            project_id=project_id,
            item_id=item.id,
            value={key: answers[item.path]},
            actor="ann",
        )


def streamed(deps: Deps, project_id: str, format: ExportFormat, **options: Any) -> bytes:
    _, _, body = exports.open_export(
        deps, project_id=project_id, actor="ann", format=format, options=ExportOptions(**options)
    )
    return b"".join(body)


def in_parts(deps: Deps, project_id: str, format: ExportFormat, **options: Any) -> bytes:
    deps.export_part_items = 1
    job = exports.request_export(
        deps, project_id=project_id, actor="ann", format=format, options=ExportOptions(**options)
    )
    run_exports(deps)
    view = exports.get_export(deps, project_id=project_id, actor="ann", export_id=job.id)
    assert view.job.blob_name is not None
    return deps.blobs.get(EXPORTS_CONTAINER, view.job.blob_name)


def test_coco_lists_each_slice_with_shapes_as_an_image(deps: Deps, tmp_path: Path) -> None:
    project_id = labeled_volumes(deps)
    data = streamed(deps, project_id, ExportFormat.COCO)
    assert in_parts(deps, project_id, ExportFormat.COCO) == data
    (tmp_path / "c.json").write_bytes(data)
    api = COCO(str(tmp_path / "c.json"))
    images = {image["file_name"]: image for image in api.dataset["images"]}
    # The whole-series box on the series' own image; slice 0 is b.dcm, slice 2 is a.dcm.
    assert sorted(images) == sorted([SERIES_PATH, "in/ct/b.dcm", "in/ct/a.dcm", "in/clip.dcm#3"])
    boxes = {
        name: sorted(a["bbox"] for a in api.loadAnns(api.getAnnIds(imgIds=[image["id"]])))
        for name, image in images.items()
    }
    assert boxes == {
        SERIES_PATH: [[4.0, 4.0, 8.0, 4.0]],
        "in/ct/b.dcm": [[4.0, 4.0, 8.0, 4.0]],
        "in/ct/a.dcm": [[0.0, 4.0, 8.0, 4.0], [4.0, 4.0, 8.0, 4.0]],
        "in/clip.dcm#3": [[8.0, 8.0, 16.0, 8.0]],
    }
    assert (images["in/clip.dcm#3"]["width"], images["in/clip.dcm#3"]["height"]) == (32, 32)
    category = {c["id"]: c["name"] for c in api.dataset["categories"]}
    [clip_box] = api.loadAnns(api.getAnnIds(imgIds=[images["in/clip.dcm#3"]["id"]]))
    assert category[clip_box["category_id"]] == "b"


def test_yolo_ships_each_slices_rendition_and_keeps_a_volume_on_one_side(
    deps: Deps, tmp_path: Path
) -> None:
    project_id = labeled_volumes(deps)
    data = streamed(deps, project_id, ExportFormat.YOLO, validation=0.5)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(tmp_path)
        names = archive.namelist()
    images = sorted(n for n in names if n.startswith("images/"))
    sides = {name.split("/")[1] for name in images if "/in/ct/" in name}
    assert len(sides) == 1 and len(images) == 4  # the series' three images on one side
    clip = [n for n in images if "clip.dcm#3" in n]
    assert len(clip) == 1
    # Frame 3's picture is the frame a labeler sees, byte for byte.
    assert (tmp_path / clip[0]).read_bytes() == frame_bytes(deps, project_id, "in/clip.dcm", 3)
    a_slice = next(n for n in images if "/in/ct/a.dcm" in n)
    assert (tmp_path / a_slice).read_bytes() == frame_bytes(deps, project_id, SERIES_PATH, 2)
    label = Path("/labels/".join(str(tmp_path / a_slice).rsplit("/images/", 1))).with_suffix(".txt")
    with Image.open(tmp_path / a_slice) as opened:
        assert opened.size == (16, 16)
        read = globox.Annotation.from_yolo_v5(label, image_size=opened.size)
    assert sorted((b.xmin, b.ymin, b.xmax, b.ymax) for b in read.boxes) == [
        (0.0, 4.0, 8.0, 8.0),
        (4.0, 4.0, 12.0, 8.0),
    ]


def test_voc_writes_an_annotation_per_slice_that_globox_reads(deps: Deps, tmp_path: Path) -> None:
    project_id = labeled_volumes(deps)
    data = streamed(deps, project_id, ExportFormat.VOC)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(tmp_path)
    read = globox.AnnotationSet.from_pascal_voc(tmp_path / "Annotations")
    sizes = sorted((a.image_size, len(a.boxes), sorted(b.label for b in a.boxes)) for a in read)
    assert sizes == [
        ((16, 16), 1, ["a"]),
        ((16, 16), 1, ["a"]),
        ((16, 16), 2, ["a", "a"]),
        ((32, 32), 1, ["b"]),
    ]
    assert len(list((tmp_path / "JPEGImages").iterdir())) == 4


def test_azureml_jsonl_has_a_line_per_slice_image(deps: Deps) -> None:
    project_id = labeled_volumes(deps)
    data = streamed(deps, project_id, ExportFormat.AZUREML_JSONL, datastore="azureml://d")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        lines = [json.loads(line) for line in archive.read("data.jsonl").splitlines()]
    urls = {line["image_url"].rsplit("/paths/", 1)[-1]: line["label"] for line in lines}
    assert sorted(urls) == sorted(["in/ct/a.dcm", "in/ct/b.dcm", SERIES_PATH, "in/clip.dcm%233"])
    assert len(urls["in/ct/a.dcm"]) == 2 and len(urls[SERIES_PATH]) == 1


def test_the_loupe_jsonl_keeps_the_slices_in_the_value(deps: Deps) -> None:
    project_id = labeled_volumes(deps)
    lines = streamed(deps, project_id, ExportFormat.LOUPE_JSONL).decode().splitlines()
    values = {json.loads(line)["path"]: json.loads(line) for line in lines}
    assert {b.get("slice") for b in values[SERIES_PATH]["final"]["boxes"]} == {0, 2, None}


def load(deps: Deps, project_id: str, path: str) -> Any:
    return items_of(deps, project_id)[path]


def frame_bytes(deps: Deps, project_id: str, path: str, frame: int) -> bytes:
    item = load(deps, project_id, path)
    served = item_frame(
        deps,
        project_id=project_id,
        item_id=item.id,
        frame=frame,
        rendition=FrameRendition.DISPLAY,
        actor="ann",
    )
    return b"".join(served.chunks)
