"""The COCO reader's boxes: whole or fractional pixel numbers alike, in fractions of their
image, and any coordinate that is no number a problem naming its annotation."""

from __future__ import annotations

import io
import json
from typing import Any

from core.export.coco_reader import read_coco
from core.export.records import Imported, Problem


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


def test_whole_and_fractional_pixels_read_alike() -> None:
    (whole,) = _read([[64, 48, 320, 240]])
    (fractional,) = _read([[64.0, 48.0, 320.0, 240.0]])
    assert isinstance(whole, Imported)
    assert whole == fractional
    assert whole.value == {"boxes": [{"label": "cat", "x": 0.1, "y": 0.1, "w": 0.5, "h": 0.5}]}


def test_a_coordinate_that_is_no_number_is_a_problem_of_its_annotation() -> None:
    found = _read([[1.5, "2", 3.0, 4.0], [1.5, True, 3.0, 4.0], [1.5, 2.5, 3.0, 4.0]])
    problems = [(p.where, p.rule) for p in found if isinstance(p, Problem)]
    assert [where for where, _ in problems] == ["annotation id 10", "annotation id 11"]
    assert all(rule.startswith('"bbox" must hold numbers, not ') for _, rule in problems)
    (kept,) = [r for r in found if isinstance(r, Imported)]
    assert kept.parts == ("annotation id 12",)


def test_a_null_score_is_no_score() -> None:
    (unscored,) = _read([[0.0, 0.0, 64.0, 48.0]], score=None)
    (scored,) = _read([[0.0, 0.0, 64.0, 48.0]], score=0.5)
    assert isinstance(unscored, Imported) and isinstance(scored, Imported)
    assert (unscored.score, scored.score) == (None, 0.5)
