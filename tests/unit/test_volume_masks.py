"""Masks and keypoint instances on a volume's slices: validated against the item's frames (a
422 naming the field), semantic segmentation's one mask per class and the one-mask-a-pixel rule
held slice by slice, consensus matching only what is on the same slice, and moved with their
slice when one arrives between others."""

from __future__ import annotations

from typing import Any

import pytest

from core.domain.annotation_json import read_value
from core.domain.annotations import (
    Keypoint,
    KeypointInstance,
    KeypointSet,
    validate_annotation,
)
from core.domain.consensus import Verdict, decide
from core.domain.errors import InvalidAnnotation
from core.domain.keypoints import KeypointTemplate
from core.domain.masks import Mask, MaskSet, encode_counts
from core.domain.task_types import TaskType
from core.domain.volumes import moved, slice_shapes

SEMANTIC, INSTANCES = TaskType.IMAGE_SEMANTIC_SEGMENTATION, TaskType.IMAGE_INSTANCE_SEGMENTATION
KEYPOINTS = TaskType.IMAGE_KEYPOINTS
TEMPLATES = {"hand": KeypointTemplate(points=["thumb", "tip"])}
LEFT = [0, 8, 8]  # a 4 x 4 grid, column-major: the left half painted
RIGHT = [8, 8]  # the right half


def mask(counts: list[int], label: str = "liver", **more: Any) -> dict[str, Any]:
    return {"label": label, "size": [4, 4], "counts": counts} | more


def masks(*parts: dict[str, Any], task: TaskType = SEMANTIC, frames: int = 5) -> MaskSet:
    value = validate_annotation(
        task, {"masks": list(parts)}, label_names={"liver", "lesion"}, frames=frames
    )
    assert isinstance(value, MaskSet)
    return value


def test_a_mask_names_its_slice_and_one_without_stays_as_before() -> None:
    value = masks(mask(LEFT, slice=3), mask(LEFT, label="lesion"))
    assert value.masks[0] == Mask("liver", (4, 4), encode_counts(LEFT), slice=3)
    assert value.to_json()["masks"][0]["slice"] == 3
    assert "slice" not in value.to_json()["masks"][1]  # no slice: no key, as before
    assert read_value(value.to_json()) == value


@pytest.mark.parametrize(
    ("slice", "rule"),
    [
        (5, "is slice 5, but the item has 5 slices, numbered 0 to 4"),
        (-1, "is slice -1"),
        (True, "must be a whole number, the slice from 0"),
    ],
)
def test_a_slice_the_item_lacks_is_refused(slice: object, rule: str) -> None:
    with pytest.raises(InvalidAnnotation) as caught:
        masks(mask(LEFT, slice=slice))
    [violation] = caught.value.violations
    assert violation.field == "masks[0].slice" and rule in violation.rule


def test_a_single_frame_has_one_slice_and_an_item_that_is_no_volume_none() -> None:
    with pytest.raises(InvalidAnnotation, match="the item has 1 slice, numbered 0 to 0"):
        masks(mask(LEFT, slice=1), frames=1)
    assert masks(mask(LEFT, slice=0), frames=1).masks[0].slice == 0  # a single-frame DICOM
    for value in ({"masks": [mask(LEFT, slice=0)]}, {"keypoints": [hand(slice=0)]}):
        task = KEYPOINTS if "keypoints" in value else SEMANTIC
        with pytest.raises(InvalidAnnotation) as caught:
            validate_annotation(
                task, value, label_names={"liver", "hand"}, templates=TEMPLATES, frames=0
            )
        [violation] = caught.value.violations
        assert violation.field.endswith("[0].slice")
        assert "no volume (a DICOM file or series) and has no slices" in violation.rule


def test_semantic_rules_hold_slice_by_slice() -> None:
    # One liver mask on each of two slices, overlapping pixels: two images, no conflict.
    value = masks(mask(LEFT, slice=0), mask(LEFT, slice=1), mask(LEFT))
    assert [m.slice for m in value.masks] == [0, 1, None]
    with pytest.raises(InvalidAnnotation) as caught:
        masks(mask(LEFT, slice=2), mask(RIGHT, slice=2))
    [violation] = caught.value.violations
    assert violation.field == "masks[1].label"
    assert "already has masks[0] on slice 2" in violation.rule
    with pytest.raises(InvalidAnnotation, match="shares pixels with masks\\[0\\]"):
        masks(mask(LEFT, slice=2), mask(LEFT, label="lesion", slice=2), task=INSTANCES)


def test_consensus_matches_masks_on_the_same_slice_only() -> None:
    on_two = masks(mask(LEFT, slice=2))
    agreed = decide(SEMANTIC, [on_two, on_two], min_labelers=2, max_labelers=2)
    assert agreed.verdict is Verdict.AGREED and agreed.final == on_two
    elsewhere = masks(mask(LEFT, slice=3))
    apart = decide(SEMANTIC, [on_two, elsewhere], min_labelers=2, max_labelers=2)
    assert apart.verdict is not Verdict.AGREED
    # Kept masks of different slices keep their pixels: each slice is its own image.
    two = masks(mask(LEFT, slice=0), mask(LEFT, label="lesion", slice=1), task=INSTANCES)
    both = decide(INSTANCES, [two, two], min_labelers=2, max_labelers=2).final
    assert both == two


def hand(slice: int | None = None, x: float = 0.2) -> dict[str, Any]:
    points = [{"x": x, "y": 0.2, "v": 2}, {"x": x + 0.1, "y": 0.3, "v": 2}]
    return {"label": "hand", "points": points} | ({"slice": slice} if slice is not None else {})


def keypoints(*instances: dict[str, Any], frames: int = 4) -> KeypointSet:
    value = validate_annotation(
        KEYPOINTS,
        {"keypoints": list(instances)},
        label_names={"hand"},
        templates=TEMPLATES,
        frames=frames,
    )
    assert isinstance(value, KeypointSet)
    return value


def test_keypoint_instances_name_their_slice() -> None:
    value = keypoints(hand(slice=3), hand())
    assert [k.slice for k in value.keypoints] == [3, None]
    assert value.to_json()["keypoints"][0]["slice"] == 3
    assert "slice" not in value.to_json()["keypoints"][1]
    assert read_value(value.to_json()) == value
    with pytest.raises(InvalidAnnotation) as caught:
        keypoints(hand(slice=4))
    [violation] = caught.value.violations
    assert violation.field == "keypoints[0].slice"
    assert "the item has 4 slices, numbered 0 to 3" in violation.rule


def test_oks_consensus_matches_instances_on_the_same_slice_only() -> None:
    sigmas = {"hand": TEMPLATES["hand"].sigma_list()}
    one, same = keypoints(hand(slice=1)), keypoints(hand(slice=1, x=0.21))
    agreed = decide(KEYPOINTS, [one, same], min_labelers=2, max_labelers=2, sigmas=sigmas)
    assert agreed.verdict is Verdict.AGREED and agreed.final is not None
    assert isinstance(agreed.final, KeypointSet) and agreed.final.keypoints[0].slice == 1
    other = keypoints(hand(slice=2))
    apart = decide(KEYPOINTS, [one, other], min_labelers=2, max_labelers=2, sigmas=sigmas)
    assert apart.verdict is not Verdict.AGREED


def test_masks_and_instances_follow_their_slices_and_group_by_them() -> None:
    value = masks(mask(LEFT, slice=1), mask(RIGHT))
    shifted = moved(value, {1: 2})
    assert isinstance(shifted, MaskSet) and [m.slice for m in shifted.masks] == [2, None]
    assert list(slice_shapes(shifted)) == [None, 2]
    points = KeypointSet((KeypointInstance("hand", (Keypoint(0.1, 0.1, 2),), slice=0),))
    again = moved(points, {0: 1})
    assert isinstance(again, KeypointSet) and again.keypoints[0].slice == 1
