from __future__ import annotations

import pytest
from PIL import Image

from core.assist.box_head import ScoredBox
from core.assist.polygons import (
    LabeledPolygonImage,
    PolygonCalibration,
    PolygonSuggestion,
    bounding_box,
    calibrate_polygons,
    match_polygons,
    polygon_from_box,
)
from core.domain.annotations import PolygonSet, validate_annotation
from core.domain.geometry import polygon_iou
from core.domain.task_types import TaskType
from tests.unit.assist.scenes import CLASSES, Scene, cheap_embed, one_blas_thread, scenes

TARGET = 0.9

_one_blas_thread = pytest.fixture(scope="module", autouse=True)(one_blas_thread)


@pytest.fixture(scope="module")
def labeled() -> list[LabeledPolygonImage]:
    return [s.outlined() for s in scenes(60, seed=1)]


@pytest.fixture(scope="module")
def calibration(labeled: list[LabeledPolygonImage]) -> PolygonCalibration:
    return calibrate_polygons(labeled, cheap_embed, CLASSES, target=TARGET)


def grabcut_ious(sample: list[Scene]) -> dict[str, list[float]]:
    """Polygon IoU of GrabCut's outline, seeded with each shape's true box, with the shape."""
    found: dict[str, list[float]] = {name: [] for name in CLASSES}
    for scene in sample:
        for shape in scene.shapes:
            label, x, y, w, h = shape.box
            ring = polygon_from_box(scene.image, ScoredBox(label, x, y, w, h, 1.0))
            found[label].append(polygon_iou(ring, shape.outline) if ring else 0.0)
    return found


def test_grabcut_outlines_the_shape_in_its_box() -> None:
    ious = grabcut_ious(scenes(20, seed=3))
    for label in ("disc", "triangle", "square"):
        assert ious[label], label
        worst = min(ious[label])
        mean = sum(ious[label]) / len(ious[label])
        assert worst >= 0.8, f"{label}: worst IoU {worst:.3f}, mean {mean:.3f}"


def test_outlines_are_normalised_and_short() -> None:
    scene = next(s for s in scenes(10, seed=4) if any(x.label == "disc" for x in s.shapes))
    disc = next(x for x in scene.shapes if x.label == "disc")
    label, x, y, w, h = disc.box
    for limit in (32, 8, 4):
        ring = polygon_from_box(scene.image, ScoredBox(label, x, y, w, h, 1.0), max_points=limit)
        assert ring is not None and 3 <= len(ring) <= limit
        assert all(0 <= px <= 1 and 0 <= py <= 1 for px, py in ring)
    full = polygon_from_box(scene.image, ScoredBox(label, x, y, w, h, 1.0))
    assert full is not None and polygon_iou(full, disc.outline) >= 0.85


def test_no_outline_where_there_is_nothing_to_cut() -> None:
    flat = Image.new("RGB", (100, 100), (128, 128, 128))
    assert polygon_from_box(flat, ScoredBox("disc", 0.2, 0.2, 0.5, 0.5, 1.0)) is None
    noisy = scenes(1, seed=5)[0].image
    assert polygon_from_box(noisy, ScoredBox("disc", 0.2, 0.2, 0.005, 0.5, 1.0)) is None
    assert polygon_from_box(noisy, ScoredBox("disc", 0.2, 0.2, 0.0, 0.5, 1.0)) is None


def test_calibrated_polygons_meet_the_target_on_fresh_images(
    calibration: PolygonCalibration,
) -> None:
    assert calibration.threshold is not None, calibration.reason
    assert calibration.precision is not None and calibration.precision >= TARGET
    correct = suggested = labeled = 0
    for scene in scenes(30, seed=2):
        truth = scene.outlined().polygons
        suggestions = calibration.suggest(scene.image, cheap_embed)
        hits = match_polygons(suggestions, truth)
        correct += sum(hits)
        suggested += len(hits)
        labeled += len(truth)
    precision, coverage = correct / suggested, correct / labeled
    assert precision >= TARGET, f"fresh precision {precision:.3f} of {suggested} suggestions"
    assert coverage >= 0.7, f"fresh recall {coverage:.3f} of {labeled} polygons"


def test_suggestions_are_valid_polygon_annotations(calibration: PolygonCalibration) -> None:
    scene = scenes(1, seed=6)[0]
    suggestions = calibration.suggest(scene.image, cheap_embed)
    assert suggestions
    raw = {"polygons": [s.to_json() for s in suggestions]}
    value = validate_annotation(TaskType.IMAGE_POLYGON, raw, label_names=CLASSES)
    assert isinstance(value, PolygonSet) and len(value.polygons) == len(suggestions)


SQUARE = ((0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75))


def test_match_polygons_needs_the_class_and_half_overlap() -> None:
    truth = [("square", SQUARE)]
    same = PolygonSuggestion("square", SQUARE, 0.8)
    half = PolygonSuggestion("square", ((0.25, 0.25), (0.5, 0.25), (0.5, 0.75), (0.25, 0.75)), 0.9)
    assert match_polygons([], truth) == []
    assert match_polygons([same], []) == [False]
    assert match_polygons([PolygonSuggestion("disc", SQUARE, 0.8)], truth) == [False]
    assert match_polygons([half], truth) == [True]  # IoU exactly 0.5
    # The more confident takes the one human polygon, even though the other fits it better.
    assert match_polygons([same, half], truth) == [False, True]


def test_bounding_box_of_a_polygon() -> None:
    assert bounding_box(("square", SQUARE)) == ("square", 0.25, 0.25, 0.5, 0.5)


def test_too_few_labels_give_a_reason(labeled: list[LabeledPolygonImage]) -> None:
    few = calibrate_polygons(labeled[:4], cheap_embed, CLASSES, target=TARGET)
    assert few.threshold is None and few.head is None
    assert few.reason is not None and "4 labeled images" in few.reason
    assert few.suggest(labeled[0].image, cheap_embed) == []
