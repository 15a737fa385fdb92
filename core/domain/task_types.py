"""What a project asks labelers to do."""

from __future__ import annotations

from enum import StrEnum


class MediaKind(StrEnum):
    IMAGE = "image"
    TEXT = "text"


class TaskType(StrEnum):
    IMAGE_MULTICLASS = "image_multiclass"
    IMAGE_MULTILABEL = "image_multilabel"
    IMAGE_BOUNDING_BOX = "image_bounding_box"
    IMAGE_POLYGON = "image_polygon"
    IMAGE_KEYPOINTS = "image_keypoints"
    IMAGE_SEMANTIC_SEGMENTATION = "image_semantic_segmentation"
    IMAGE_INSTANCE_SEGMENTATION = "image_instance_segmentation"
    TEXT_MULTICLASS = "text_multiclass"
    TEXT_MULTILABEL = "text_multilabel"
    TEXT_NER = "text_ner"

    @property
    def media(self) -> MediaKind:
        # The member is its value (a str): `.value` would go through the enum's descriptor,
        # and registration asks this several times per file.
        return MediaKind.TEXT if self.startswith("text_") else MediaKind.IMAGE

    @property
    def is_classification(self) -> bool:
        return self in _CLASSIFICATION

    @property
    def is_mask(self) -> bool:
        """Painted masks (`core.domain.masks`): semantic, one per class; instance, one per
        object."""
        return self in MASK_TASKS

    @property
    def is_multilabel(self) -> bool:
        return self in (TaskType.IMAGE_MULTILABEL, TaskType.TEXT_MULTILABEL)


_CLASSIFICATION = frozenset(
    {
        TaskType.IMAGE_MULTICLASS,
        TaskType.IMAGE_MULTILABEL,
        TaskType.TEXT_MULTICLASS,
        TaskType.TEXT_MULTILABEL,
    }
)
MASK_TASKS = frozenset({TaskType.IMAGE_SEMANTIC_SEGMENTATION, TaskType.IMAGE_INSTANCE_SEGMENTATION})
"""Task types whose answers are painted masks (equal to their values as strings)."""
