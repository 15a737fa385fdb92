"""What every ML-assist cycle starts from: the project's items, which of them assist can use,
the featurizer of its backbone, and the outcome a cycle reports."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.assist.featurizer import Featurizer
from core.domain.items import Item, ItemState
from core.domain.projects import Project
from core.domain.task_types import MediaKind
from core.ports import Deps, Document, Query
from core.services.model_registry import backbone_name, load_backbone, registry_version
from core.store.collections import ITEMS, scan

_featurizers: dict[str, Featurizer] = {}


@dataclass(frozen=True)
class Outcome:
    labels: int
    threshold: float | None = None
    coverage: float | None = None
    prelabeled: int = 0
    class_thresholds: dict[str, float] = field(default_factory=dict)
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    """What each class got (the infer run's figures), for the outbound event."""


def featurizer_for(deps: Deps, project: Project) -> Featurizer:
    """One featurizer per backbone version and process: a session takes seconds to build, and
    an owner may upload a new version under the same name."""
    name = backbone_name(project.assist.backbone, project.task_type.media)
    key = f"{name}@{registry_version(deps, name)}"
    if key not in _featurizers:
        _featurizers[key] = Featurizer(load_backbone(deps, name, project.task_type.media))
    return _featurizers[key]


CUDA = "CUDAExecutionProvider"


def device_figures(deps: Deps, featurizer: Featurizer) -> tuple[dict[str, float], str | None]:
    """Where the featurizer runs, for its run: `gpu` 1 or 0, and on a GPU profile whose CUDA
    provider is not active, a message saying that the cycle fell back to the CPU."""
    on_gpu = featurizer.providers[:1] == [CUDA]
    if on_gpu or deps.gpu_profile is None:
        return {"gpu": float(on_gpu)}, None
    return {"gpu": 0.0}, (
        f"featurized on the CPU: this job runs on the GPU profile {deps.gpu_profile}, but "
        f"onnxruntime's CUDA provider is not active (the session runs on "
        f"{', '.join(featurizer.providers)}; the image needs onnxruntime-gpu with CUDA and cuDNN)"
    )


def all_items(deps: Deps, project_id: str) -> list[Document]:
    return list(scan(deps.documents.container(ITEMS), project_id, Query(page_size=1000)))


def usable(item: Item, media: MediaKind) -> bool:
    """DICOM is left out of ML assist; images wait for their thumbnails."""
    if item.kind is not media or item.state is ItemState.ERROR:
        return False
    if media is MediaKind.TEXT:
        return True
    return item.dicom is None and item.derivatives is not None
