"""Masks: COCO RLE in pure Python (checked against pycocotools), validation with clear rules,
and consensus by mask IoU."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as coco_mask

from core.domain.annotation_json import read_value
from core.domain.annotations import labels_of, rename_label, validate_annotation
from core.domain.consensus import Verdict, decide
from core.domain.errors import InvalidAnnotation
from core.domain.masks import (
    MAX_MASK_CHARS,
    Mask,
    MaskSet,
    counts_of,
    decode_counts,
    encode_counts,
    foreground,
    mask_iou,
)
from core.domain.task_types import TaskType

SEMANTIC, INSTANCE = TaskType.IMAGE_SEMANTIC_SEGMENTATION, TaskType.IMAGE_INSTANCE_SEGMENTATION
LABELS = ("road", "car", "sky")
H, W = 6, 8


def pixels(*cells: tuple[int, int, int, int]) -> np.ndarray:
    """A mask with the given (row0, row1, col0, col1) rectangles painted."""
    grid = np.zeros((H, W), dtype=np.uint8)
    for r0, r1, c0, c1 in cells:
        grid[r0:r1, c0:c1] = 1
    return grid


def rle(grid: np.ndarray) -> dict[str, Any]:
    """pycocotools' own encoding, counts as text."""
    found = coco_mask.encode(np.asfortranarray(grid.astype(np.uint8)))
    return {"size": list(found["size"]), "counts": found["counts"].decode()}


def mask(label: str, grid: np.ndarray) -> dict[str, Any]:
    return {"label": label, **rle(grid)}


def problems(task: TaskType, raw: object, grid: tuple[int, int] | None = (H, W)) -> dict[str, str]:
    with pytest.raises(InvalidAnnotation) as caught:
        validate_annotation(task, raw, label_names=LABELS, mask_grid=grid)
    return {v.field: v.rule for v in caught.value.violations}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=H * W))
def test_counts_compress_exactly_as_pycocotools_does(bits: list[bool]) -> None:
    grid = np.zeros(H * W, dtype=np.uint8)
    grid[: len(bits)] = bits
    grid = grid.reshape((H, W), order="F")
    theirs = rle(grid)
    counts = decode_counts(theirs["counts"])
    assert sum(counts) == H * W
    assert encode_counts(counts) == theirs["counts"]
    assert counts_of(foreground(counts), H * W) == counts
    decoded = coco_mask.decode({"size": [H, W], "counts": encode_counts(counts).encode()})
    assert (decoded == grid).all()


def test_large_runs_and_negative_deltas_round_trip() -> None:
    counts = [0, 5, 100_000, 3, 7, 2_000_000, 1]
    assert decode_counts(encode_counts(counts)) == counts


def test_a_valid_answer_is_stored_compressed_and_reads_back() -> None:
    car = pixels((1, 3, 1, 4))
    raw = {"masks": [{"label": "car", "size": [H, W], "counts": _plain_counts(car)}]}
    value = validate_annotation(INSTANCE, raw, label_names=LABELS, mask_grid=(H, W))
    assert isinstance(value, MaskSet)
    assert value.to_json() == {"masks": [mask("car", car)]}
    assert read_value(value.to_json()) == value
    assert value.masks[0].area == 6
    assert labels_of(value) == ("car",)
    renamed = rename_label(value, "car", "vehicle")
    assert isinstance(renamed, MaskSet) and renamed.masks[0].label == "vehicle"


def _plain_counts(grid: np.ndarray) -> list[int]:
    return decode_counts(rle(grid)["counts"])


def test_no_masks_means_nothing_was_there() -> None:
    value = validate_annotation(SEMANTIC, {"masks": []}, label_names=LABELS, mask_grid=(H, W))
    assert value == MaskSet(())


def test_counts_must_cover_the_grid_exactly() -> None:
    found = problems(INSTANCE, {"masks": [{"label": "car", "size": [H, W], "counts": [3, 4]}]})
    assert found == {
        "masks[0].counts": "runs add up to 7 pixels; a 8 x 6 mask has 48 (column-major run "
        "lengths, like COCO's)"
    }


def test_size_must_be_the_displayed_images() -> None:
    other = rle(np.ones((4, 4), dtype=np.uint8))
    found = problems(INSTANCE, {"masks": [{"label": "car", **other}]})
    assert found["masks[0].size"].startswith("must be [6, 8], the displayed image's height")


def test_broken_counts_unknown_class_and_empty_masks_are_named() -> None:
    found = problems(
        INSTANCE,
        {
            "masks": [
                {"label": "boat", **rle(pixels((0, 1, 0, 1)))},
                {"label": "car", "size": [H, W], "counts": "~~"},
                {"label": "car", "size": [H, W], "counts": [H * W]},
                {"label": "car", "size": [H, W], "counts": [-1, H * W + 1]},
                {"label": "car", "size": "6x8", "counts": [H * W]},
            ]
        },
    )
    assert found["masks[0].label"].startswith("'boat' is not a label class of this project")
    assert found["masks[1].counts"].startswith("is not COCO's compressed RLE")
    assert found["masks[2].counts"] == "paints no pixel; leave an empty mask out"
    assert found["masks[3].counts"] == "has a negative run length"
    assert found["masks[4].size"] == "must be [height, width] in pixels, each 1 to 4096"


def test_masks_may_not_share_pixels() -> None:
    raw = {"masks": [mask("car", pixels((0, 3, 0, 3))), mask("road", pixels((2, 4, 2, 4)))]}
    assert problems(INSTANCE, raw) == {
        "masks[1]": "shares pixels with masks[0]; each pixel has one mask"
    }


def test_semantic_keeps_one_mask_per_class_instance_one_per_object() -> None:
    raw = {"masks": [mask("car", pixels((0, 1, 0, 2))), mask("car", pixels((4, 5, 4, 6)))]}
    assert validate_annotation(INSTANCE, raw, label_names=LABELS, mask_grid=(H, W))
    found = problems(SEMANTIC, raw)
    assert found["masks[1].label"].startswith("'car' already has masks[0]; semantic")


def test_without_a_known_grid_the_masks_still_share_one() -> None:
    raw = {"masks": [mask("car", pixels((0, 1, 0, 2))), mask("sky", np.ones((3, 3), np.uint8))]}
    found = problems(INSTANCE, raw, grid=None)
    assert found["masks[1].size"].startswith("must be [6, 8]")


def test_a_giant_answer_is_refused_before_decoding() -> None:
    counts = [1, 1] * (MAX_MASK_CHARS // 5) + [H * W]
    found = problems(INSTANCE, {"masks": [{"label": "car", "size": [H, W], "counts": counts}]})
    assert "one answer may take at most 120,000" in found["masks"]


def _answer(*masks: tuple[str, np.ndarray]) -> MaskSet:
    return MaskSet(tuple(Mask(label, (H, W), rle(grid)["counts"]) for label, grid in masks))


def test_mask_iou_counts_pixels() -> None:
    a, b = _answer(("car", pixels((0, 2, 0, 4))), ("car", pixels((0, 2, 2, 6)))).masks
    assert mask_iou(a, b) == pytest.approx(4 / 12)
    theirs = coco_mask.iou(
        [{"size": [H, W], "counts": a.counts.encode()}],
        [{"size": [H, W], "counts": b.counts.encode()}],
        [0],
    )
    assert mask_iou(a, b) == pytest.approx(float(theirs[0][0]))


def test_consensus_matches_masks_by_iou_and_keeps_the_majority() -> None:
    car = pixels((0, 3, 0, 4))
    a = _answer(("car", car), ("sky", pixels((5, 6, 0, 8))))
    b = _answer(("car", pixels((0, 3, 0, 3))))  # a little smaller, missed the sky
    c = _answer(("car", pixels((0, 3, 0, 5))), ("sky", pixels((5, 6, 1, 8))))
    out = decide(INSTANCE, [a, b, c], min_labelers=3, max_labelers=3)
    assert out.verdict is Verdict.AGREED and out.agreed == (True, False, True)
    assert isinstance(out.final, MaskSet)
    assert [m.label for m in out.final.masks] == ["car", "sky"]
    assert out.final.masks[0].counts == rle(car)["counts"]  # the medoid: closest to the others


def test_consensus_never_keeps_two_masks_on_one_pixel() -> None:
    a = _answer(("car", pixels((0, 3, 0, 4))), ("road", pixels((3, 6, 0, 8))))
    b = _answer(("car", pixels((0, 4, 0, 4))), ("road", pixels((4, 6, 0, 8))))
    out = decide(SEMANTIC, [a, b], min_labelers=2, max_labelers=2)
    assert isinstance(out.final, MaskSet)
    grids = [
        coco_mask.decode({"size": [H, W], "counts": m.counts.encode()}) for m in out.final.masks
    ]
    assert int(sum(grids).max()) == 1
    assert validate_annotation(SEMANTIC, out.final.to_json(), label_names=LABELS, mask_grid=(H, W))


def test_different_paintings_disagree() -> None:
    a = _answer(("car", pixels((0, 2, 0, 2))))
    b = _answer(("car", pixels((3, 6, 4, 8))))
    out = decide(INSTANCE, [a, b], min_labelers=2, max_labelers=2)
    assert out.verdict is Verdict.DISAGREED
