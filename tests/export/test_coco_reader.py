"""The COCO reader's boxes: whole or fractional pixel numbers alike, in fractions of their
image, and any coordinate that is no number a problem naming its annotation. A small file parsed
whole and a large one streamed read alike, problems included."""

from __future__ import annotations

import io
import json
import tracemalloc
from typing import Any

import pytest

from core.export import coco_reader
from core.export.coco_reader import read_coco
from core.export.records import Imported, Problem

IMAGE = {"id": 1, "file_name": "a.jpg", "width": 640, "height": 480}
CATEGORIES = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
BOX = {"id": 10, "image_id": 1, "category_id": 1, "bbox": [64, 48, 320, 240]}


def _file(document: Any) -> bytes:
    return json.dumps(document).encode()


def _nested(depth: int) -> bytes:
    """A file whose one annotation carries attributes nested `depth` deep in all."""
    inner: Any = 1
    for _ in range(depth - 4):  # the file, its list, the annotation, the attributes
        inner = [inner]
    box = {**BOX, "attributes": {"deep": inner}}
    return _file({"images": [IMAGE], "annotations": [box], "categories": CATEGORIES})


FILES = {
    "boxes": _file({"images": [IMAGE], "annotations": [BOX], "categories": CATEGORIES}),
    "a byte-order mark": b"\xef\xbb\xbf"
    + _file({"images": [IMAGE], "annotations": [BOX], "categories": CATEGORIES}),
    "cut off": _file({"images": [IMAGE], "annotations": [BOX]})[:-20],
    "NaN": b'{"images": [{"id": 1, "file_name": "a.jpg", "width": NaN, "height": 480}]}',
    "a lone surrogate": b'{"images": [{"id": 1, "file_name": "\\ud800", "width": 1}]}',
    "a huge number": b'{"images": [{"id": 1, "file_name": "a.jpg", "width": 1e400}]}',
    "a whole number past 64 bits": _file({"images": [{**IMAGE, "id": 2**70}]}),
    "the highest 64-bit number": _file({"images": [{**IMAGE, "id": 2**63 - 1}]}),
    "the lowest": _file({"images": [{**IMAGE, "id": -(2**63)}]}),
    "nested to the limit": _nested(coco_reader.MAX_DEPTH),
    "nested past it": _nested(coco_reader.MAX_DEPTH + 1),
    "nested past the parser's limit": _nested(400),
    "images not a list": _file({"images": {"id": 1}, "categories": CATEGORIES}),
    "bad entries": _file(
        {
            "images": [IMAGE, 7, {**IMAGE, "id": True}, {"id": 3, "file_name": "b.jpg"}],
            "annotations": [BOX, {**BOX, "id": 11, "bbox": "x"}, {**BOX, "category_id": 9}],
            "categories": [*CATEGORIES, {"id": 1, "name": "again"}],
        }
    ),
    "not UTF-8": b'{"images": [{"id": 1, "file_name": "\xff.jpg"}]}',
}


@pytest.fixture(params=["whole", "streamed"])
def parsing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test reads its file parsed whole, then streamed as a file too large would be."""
    if request.param == "streamed":
        monkeypatch.setattr(coco_reader, "WHOLE_UP_TO", 0)
    return str(request.param)


def _read(bboxes: list[Any], **extra: Any) -> list[Imported | Problem]:
    document = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 640, "height": 480}],
        "annotations": [
            {"id": 10 + n, "image_id": 1, "category_id": 1, "bbox": bbox, **extra}
            for n, bbox in enumerate(bboxes)
        ],
        "categories": [{"id": 1, "name": "cat"}],
    }
    return list(
        read_coco(io.BytesIO(json.dumps(document).encode()), task_type="image_bounding_box")
    )


@pytest.mark.usefixtures("parsing")
def test_whole_and_fractional_pixels_read_alike() -> None:
    (whole,) = _read([[64, 48, 320, 240]])
    (fractional,) = _read([[64.0, 48.0, 320.0, 240.0]])
    assert isinstance(whole, Imported)
    assert whole == fractional
    assert whole.value == {"boxes": [{"label": "cat", "x": 0.1, "y": 0.1, "w": 0.5, "h": 0.5}]}


@pytest.mark.usefixtures("parsing")
def test_a_coordinate_that_is_no_number_is_a_problem_of_its_annotation() -> None:
    found = _read([[1.5, "2", 3.0, 4.0], [1.5, True, 3.0, 4.0], [1.5, 2.5, 3.0, 4.0]])
    problems = [(p.where, p.rule) for p in found if isinstance(p, Problem)]
    assert [where for where, _ in problems] == ["annotation id 10", "annotation id 11"]
    assert all(rule.startswith('"bbox" must hold numbers, not ') for _, rule in problems)
    (kept,) = [r for r in found if isinstance(r, Imported)]
    assert kept.parts == ("annotation id 12",)


@pytest.mark.usefixtures("parsing")
def test_a_null_score_is_no_score() -> None:
    (unscored,) = _read([[0.0, 0.0, 64.0, 48.0]], score=None)
    (scored,) = _read([[0.0, 0.0, 64.0, 48.0]], score=0.5)
    assert isinstance(unscored, Imported) and isinstance(scored, Imported)
    assert (unscored.score, scored.score) == (None, 0.5)


@pytest.mark.parametrize("name", FILES)
def test_a_file_parsed_whole_reads_as_it_does_streamed(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = "image_bounding_box"
    assert len(FILES[name]) <= coco_reader.WHOLE_UP_TO
    found = list(read_coco(io.BytesIO(FILES[name]), task_type=task))
    monkeypatch.setattr(coco_reader, "WHOLE_UP_TO", 0)
    assert found == list(read_coco(io.BytesIO(FILES[name]), task_type=task))


@pytest.mark.usefixtures("parsing")
def test_nesting_is_bounded_and_a_broken_file_located() -> None:
    def problems(name: str) -> list[tuple[str, str]]:
        found = read_coco(io.BytesIO(FILES[name]), task_type="image_bounding_box")
        return [(p.where, p.rule) for p in found if isinstance(p, Problem)]

    assert problems("nested to the limit") == []
    deep = ("file", f"nests lists or objects more than {coco_reader.MAX_DEPTH} deep")
    assert problems("nested past it") == problems("nested past the parser's limit") == [deep]
    ((where, rule),) = problems("cut off")
    assert where == "file" and rule.startswith("is not valid JSON: ") and "line 1" in rule
    assert problems("NaN")[0][1].startswith("is not valid JSON")


class _Passes(io.BytesIO):
    """A file that counts the times it is read from its start."""

    passes = 0

    def seek(self, offset: int, whence: int = 0) -> int:
        self.passes += (offset, whence) == (0, 0)
        return super().seek(offset, whence)


def test_a_small_file_is_read_in_one_pass_and_a_large_one_streamed(parsing: str) -> None:
    data = _Passes(FILES["boxes"])
    (found,) = read_coco(data, task_type="image_bounding_box")
    assert isinstance(found, Imported) and found.path == "a.jpg"
    assert data.passes == (2 if parsing == "whole" else 5)  # the opening, then each pass


@pytest.mark.usefixtures("parsing")
def test_memory_stays_within_a_few_times_the_file_either_way() -> None:
    images = [{**IMAGE, "id": n, "file_name": f"{n:06d}.jpg"} for n in range(4000)]
    boxes = [{**BOX, "id": n, "image_id": n} for n in range(4000)]
    data = _file({"images": images, "annotations": boxes, "categories": CATEGORIES})
    tracemalloc.start()
    try:
        read = sum(1 for _ in read_coco(io.BytesIO(data), task_type="image_bounding_box"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert read == 4000
    assert peak < 10 * len(data)  # 7.5 times parsed whole, 5.5 streamed
