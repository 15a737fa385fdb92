"""Backbones are data: an owner's ONNX model with a manifest in the `models` container serves
a project as well as the packaged defaults do."""

from __future__ import annotations

import io
import json

import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from core.assist.manifest import EFFICIENTNET_LITE0
from core.domain.errors import InvalidInput
from core.domain.items import ItemState
from core.domain.messages import ASSIST_TRAIN
from core.domain.runs import JobStatus, RunKind
from core.domain.task_types import MediaKind
from core.services.assist import assist_status, request_training
from core.services.model_registry import MODELS, list_models, load_backbone
from tests.assist.conftest import OWNER, create, items, label, upload
from tests.support.assist import drain


def mean_colour_model() -> bytes:
    """A 'backbone' of one operation: the mean of each colour channel (3-d features)."""
    pixels = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", 3, 16, 16])
    features = helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", 3])
    axes = helper.make_tensor("axes", TensorProto.INT64, [2], [2, 3])
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["pixels", "axes"], ["features"], keepdims=0)],
        "mean-colour",
        [pixels],
        [features],
        initializer=[axes],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


MANIFEST = {
    "name": "mean-colour",
    "modality": "image",
    "input": "pixels",
    "output": "features",
    "dim": 3,
    "size": 16,
    "layout": "NCHW",
    "colorOrder": "RGB",
    "scale": 1 / 255,
    "mean": [0.5, 0.5, 0.5],
    "std": [0.25, 0.25, 0.25],
    "license": "MIT",
    "source": "tests/assist/test_registry.py",
}


def register(deps, manifest=MANIFEST) -> None:
    deps.blobs.put(MODELS, "mean-colour/model.onnx", mean_colour_model())
    deps.blobs.put(MODELS, "mean-colour/manifest.json", json.dumps(manifest).encode())


def swatch(red: int, blue: int, noise: int) -> bytes:
    image = Image.new("RGB", (24, 24), (red, 60 + noise % 40, blue))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def swatches(deps, project_id):
    """200 warm and cool swatches, 120 of them labeled: the truth of each item by id."""
    files, truth = [], {}
    for n in range(200):
        warm = n % 2 == 0
        data = swatch(200 - n % 30, 40 + n % 30, n) if warm else swatch(40 + n % 30, 200, n)
        files.append((f"c/{n:03d}.png", data))
        truth[f"c/{n:03d}.png"] = "red" if warm else "blue"
    ids = upload(deps, project_id, files)
    by_id = {ids[path]: colour for path, colour in truth.items()}
    label(deps, project_id, 120, lambda item: {"label": by_id[item.id]})
    request_training(deps, project_id=project_id, actor=OWNER)
    drain(deps, ASSIST_TRAIN)
    return by_id


def assert_served(deps, project_id, by_id, backbone):
    status = assist_status(deps, project_id=project_id, actor=OWNER)
    assert status.backbone == backbone
    assert {run.status for run in status.runs} == {JobStatus.SUCCEEDED}
    found = items(deps, project_id)
    waiting = [i for i in found if i.state is ItemState.UNLABELED and not i.audit]
    assert waiting and all(i.prediction is not None for i in waiting)
    assert all(i.prediction.value.label == by_id[i.id] for i in waiting)


def test_an_uploaded_backbone_serves_a_project(deps):
    register(deps)
    assert "mean-colour" in {entry.name for entry in list_models(deps) if entry.stored}
    project_id = create(deps, "image_multiclass", ["red", "blue"], backbone="mean-colour")
    assert_served(deps, project_id, swatches(deps, project_id), "mean-colour")


def test_a_built_in_backbone_picked_by_name_is_derived_at_first_use(deps):
    listed = {entry.name: entry for entry in list_models(deps)}
    assert not listed[EFFICIENTNET_LITE0].stored and listed[EFFICIENTNET_LITE0].modality == "image"
    project_id = create(deps, "image_multiclass", ["red", "blue"], backbone=EFFICIENTNET_LITE0)
    assert_served(deps, project_id, swatches(deps, project_id), EFFICIENTNET_LITE0)
    assert {entry.name: entry for entry in list_models(deps)}[EFFICIENTNET_LITE0].stored


def test_a_built_in_backbone_of_the_other_modality_is_refused(deps):
    with pytest.raises(InvalidInput, match="is a model of images; this project labels texts"):
        load_backbone(deps, EFFICIENTNET_LITE0, MediaKind.TEXT)
    assert not any(entry.stored for entry in list_models(deps))


@pytest.mark.parametrize(
    ("backbone", "manifest", "error"),
    [
        ("nowhere", MANIFEST, "not in the model registry"),
        ("mean-colour", MANIFEST | {"modality": "text"}, "manifest.json"),
    ],
)
def test_a_missing_or_broken_backbone_fails_its_run_with_the_reason(
    deps, backbone, manifest, error
):
    register(deps, manifest)
    project_id = create(deps, "image_multiclass", ["red", "blue"], backbone=backbone)
    upload(deps, project_id, [("c/0.png", swatch(200, 40, 0))])
    request_training(deps, project_id=project_id, actor=OWNER)
    message = deps.queue.receive(ASSIST_TRAIN)[0]
    from core.services import stages

    with pytest.raises(Exception, match=error):
        stages.handle(deps, ASSIST_TRAIN, message.body)
    (run,) = assist_status(deps, project_id=project_id, actor=OWNER).runs
    assert run.kind is RunKind.FEATURIZE and run.status is JobStatus.FAILED
    assert error in run.error
