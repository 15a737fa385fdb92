from __future__ import annotations

import io

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from PIL import Image, ImageDraw, ImageFilter

from core.assist import featurizer
from core.assist.backbones import DEFAULT_IMAGE, DEFAULT_TEXT
from core.assist.featurizer import (
    PIXEL_FEATURES_DIM,
    SHAPE_FEATURES_DIM,
    Featurizer,
    pixel_features,
    select_providers,
    shape_features,
)
from core.assist.manifest import Backbone, BackboneManifest
from tests.unit.assist.derived import built_in_backbone, image_featurizer, text_featurizer


def photo(seed: int, size: tuple[int, int] = (400, 300)) -> Image.Image:
    """A 'photo': blurred noise under random coloured shapes, different for every seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    ground = rng.integers(0, 256, (h // 20, w // 20, 3), dtype=np.uint8)
    image = Image.fromarray(ground).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(10, 60))
        fill = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x - r, y - r, x + r, y + r), fill=fill)
    return image.filter(ImageFilter.GaussianBlur(1))


def jpeg(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return Image.open(io.BytesIO(buffer.getvalue()))


def tiny_backbone(**changes: object) -> Backbone:
    """Channel means of an NCHW input: cheap, and its output exposes the preprocessing."""
    node = helper.make_node("ReduceMean", ["pixels"], ["features"], axes=[2, 3], keepdims=0)
    graph = helper.make_graph(
        [node],
        "tiny",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", 3, 8, 8])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    fields: dict[str, object] = {
        "name": "tiny",
        "modality": "image",
        "input": "pixels",
        "output": "features",
        "dim": 3,
        "size": 8,
        "layout": "NCHW",
        "color_order": "RGB",
        "scale": 1 / 255,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.25, 0.5],
        "license": "MIT",
        "source": "test",
    }
    manifest = BackboneManifest.model_validate({**fields, **changes})
    return Backbone(manifest=manifest, model=model.SerializeToString())


class TestProviders:
    def test_cuda_first_when_offered(self) -> None:
        available = ["AzureExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
        assert select_providers(available) == ["CUDAExecutionProvider", "CPUExecutionProvider"]

    def test_falls_back_to_the_cpu(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert select_providers(["AzureExecutionProvider"]) == ["CPUExecutionProvider"]
        monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
        assert Featurizer(tiny_backbone()).providers == ["CPUExecutionProvider"]


class TestPreprocessing:
    def test_nchw_rgb_scale_mean_and_std(self) -> None:
        tiny = Featurizer(tiny_backbone())
        batch = tiny.preprocess([Image.new("RGB", (30, 20), (255, 0, 51))])
        assert batch.shape == (1, 3, 8, 8) and batch.dtype == np.float32
        assert np.allclose(batch[0, :, 3, 3], [1.0, -2.0, -0.6], atol=1e-6)

    def test_nhwc_bgr_caffe_means(self) -> None:
        batch = image_featurizer().preprocess([Image.new("RGB", (300, 200), (10, 20, 30))])
        assert batch.shape == (1, 224, 224, 3)
        assert np.array_equal(batch[0, 100, 100], [30 - 104, 20 - 117, 10 - 123])

    def test_resize_then_centre_crop(self) -> None:
        # Left half black, right half white: after resize 16 → crop 8 the edge stays central.
        image = Image.new("RGB", (64, 64))
        image.paste((255, 255, 255), (32, 0, 64, 64))
        tiny = Featurizer(tiny_backbone(resize=16, scale=1.0, mean=[0, 0, 0], std=[1, 1, 1]))
        row = tiny.preprocess([image])[0, 0, 4]
        assert row[0] == 0 and row[-1] == 255 and row[3] < 128 < row[4]

    @pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16"])
    def test_any_pillow_mode(self, mode: str) -> None:
        image = photo(1, (64, 48)).convert(mode)
        assert np.isfinite(Featurizer(tiny_backbone()).embed_images([image])).all()

    def test_large_jpegs_decode_at_a_reduced_scale(self) -> None:
        big = photo(2, (2400, 1600))
        lazy, full = jpeg(big), jpeg(big)
        full.load()
        reduced, reference = image_featurizer().preprocess([lazy, full])
        assert lazy.size == (600, 400)  # draft(): 1/4 scale still covers the 256 resize
        assert np.abs(reduced - reference).mean() < 2.0


class TestImageEmbeddings:
    def test_unit_rows_in_input_order(self) -> None:
        photos = [photo(seed) for seed in range(3)]
        forward = image_featurizer().embed_images(photos)
        backward = image_featurizer().embed_images(photos[::-1])
        assert forward.shape == (3, 1024) and forward.dtype == np.float32
        assert np.allclose(np.linalg.norm(forward, axis=1), 1, atol=1e-5)
        assert np.allclose(forward, backward[::-1], atol=1e-5)

    def test_two_crops_of_one_photo_are_closer_than_two_photos(self) -> None:
        a, b = photo(10, (480, 360)), photo(11, (480, 360))
        left, right = a.crop((0, 0, 400, 330)), a.crop((80, 30, 480, 360))
        vectors = image_featurizer().embed_images([left, right, b.crop((0, 0, 400, 330))])
        same = float(vectors[0] @ vectors[1])
        assert same > float(vectors[0] @ vectors[2]) and same > float(vectors[1] @ vectors[2])

    def test_batch_size_does_not_change_vectors(self) -> None:
        photos = [photo(seed, (120, 90)) for seed in range(7)]
        backbone = built_in_backbone(DEFAULT_IMAGE)
        one = Featurizer(backbone, batch_size=1).embed_images(photos)
        seven = Featurizer(backbone, batch_size=7).embed_images(photos)
        three = Featurizer(backbone, batch_size=3).embed_images(photos)
        assert np.abs(one - seven).max() < 1e-5 and np.abs(three - seven).max() < 1e-5

    def test_no_images(self) -> None:
        assert image_featurizer().embed_images([]).shape == (0, 1024)

    def test_an_image_backbone_takes_no_text(self) -> None:
        with pytest.raises(TypeError, match="image backbone"):
            image_featurizer().embed_texts(["hello"])


class TestTextEmbeddings:
    def test_batch_size_and_order_do_not_change_vectors(self) -> None:
        texts = [
            "short",
            "a somewhat longer sentence about labeling data",
            "",
            "Un texte en français, avec des accents.",
            " ".join(["long"] * 300),
            "two words",
            "The quick brown fox jumps over the lazy dog",
        ]
        one = Featurizer(built_in_backbone(DEFAULT_TEXT), batch_size=1).embed_texts(texts)
        seven = Featurizer(built_in_backbone(DEFAULT_TEXT), batch_size=7).embed_texts(texts)
        assert seven.shape == (7, 384) and seven.dtype == np.float32
        assert np.abs(one - seven).max() < 1e-5
        assert np.allclose(np.linalg.norm(seven, axis=1), 1, atol=1e-5)

    def test_no_texts(self) -> None:
        assert text_featurizer().embed_texts([]).shape == (0, 384)

    def test_a_text_backbone_takes_no_images(self) -> None:
        with pytest.raises(TypeError, match="text backbone"):
            text_featurizer().embed_images([Image.new("RGB", (8, 8))])


class TestPixelFeatures:
    def test_shape_and_normalised_parts(self) -> None:
        vector = pixel_features(photo(3))
        assert vector.shape == (PIXEL_FEATURES_DIM,) == (304,) and vector.dtype == np.float32
        gray, colour = vector[:256], vector[256:]
        for part in (gray, colour):
            assert abs(float(part.mean())) < 1e-5
            assert float(np.linalg.norm(part)) == pytest.approx(1, abs=1e-5)

    def test_a_flat_image_gives_zeros_not_nans(self) -> None:
        assert not pixel_features(Image.new("L", (10, 10), 128)).any()

    def test_appearance_survives_rescaling(self) -> None:
        a, b = photo(4), photo(5)
        small = a.resize((100, 75))
        assert float(pixel_features(a) @ pixel_features(small)) > 1.9
        assert float(pixel_features(a) @ pixel_features(b)) < 1.5


class TestShapeFeatures:
    def bar(self, angle: float, level: int = 255, size: int = 28) -> Image.Image:
        image = Image.new("L", (size, size))
        ImageDraw.Draw(image).line([(4, size // 2), (size - 4, size // 2)], fill=level, width=3)
        return image.rotate(angle, Image.Resampling.BILINEAR)

    def test_unit_length_and_flat_images_give_zeros(self) -> None:
        vector = shape_features(self.bar(0))
        assert vector.shape == (SHAPE_FEATURES_DIM,) == (324,) and vector.dtype == np.float32
        assert float(np.linalg.norm(vector)) == pytest.approx(1, abs=1e-5)
        assert not shape_features(Image.new("L", (10, 10), 128)).any()

    def test_edges_count_by_direction_not_by_brightness_or_size(self) -> None:
        flat, dim, big = self.bar(0), self.bar(0, level=90), self.bar(0, size=112)
        upright = self.bar(90)
        same = float(shape_features(flat) @ shape_features(dim))
        assert same > 0.99
        assert float(shape_features(flat) @ shape_features(big)) > 0.8
        assert float(shape_features(flat) @ shape_features(upright)) < 0.5 < same


def test_batches_of_the_pipeline_arrive_in_order() -> None:
    prepared = list(featurizer._pipelined(iter([[1], [2, 3], [4]]), lambda chunk: sum(chunk)))
    assert prepared == [1, 5, 4]
