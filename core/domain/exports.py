"""Export jobs: a request for labels in one format, and where the result was written."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from core.domain.model import DomainModel, Stamp
from core.domain.runs import JobStatus


class ExportFormat(StrEnum):
    COCO = "coco"
    AZUREML_JSONL = "azureml_jsonl"
    CSV = "csv"
    VOC = "voc"
    YOLO = "yolo"
    CONLL = "conll"
    LOUPE_JSONL = "loupe_jsonl"
    BRAT = "brat"
    DICOM_SEG = "dicom_seg"


PART_ITEMS = 5000
"""Items one part of an export job holds by default (LOUPE_EXPORT_PART_ITEMS): each stage call
writes one part, a few seconds (longer where YOLO ships images)."""
MAX_PART_ITEMS = 100_000
"""The most a part may hold: more would make one stage call long again."""
SEG_PART_ITEMS = 100
"""The most items a DICOM-SEG part holds, whatever LOUPE_EXPORT_PART_ITEMS says: each item
reads all its source files and encodes its frames (0.2-0.3 s for a 64-slice 512 x 512 series,
bench/dicom_seg.py), so 100 stay well inside a Function's ten minutes."""


def part_items(format: ExportFormat, configured: int) -> int:
    """The items one part of an export in `format` holds."""
    return min(configured, SEG_PART_ITEMS) if format is ExportFormat.DICOM_SEG else configured


class ExportJob(DomainModel):
    id: str
    project_id: str
    format: ExportFormat
    options: dict[str, Any] = Field(default_factory=dict)
    status: JobStatus = JobStatus.QUEUED
    created_by: str
    created_at: Stamp
    finished_at: Stamp | None = None
    blob_name: str | None = None
    error: str | None = None
    parts: int = Field(default=0, ge=0, description="Parts written so far (a large export's)")
    items: int = Field(default=0, ge=0, description="Items written so far")
    cursor: str | None = Field(default=None, description="The id of the last item written")
    counts: dict[str, int] = Field(
        default_factory=dict, description="What the format numbers by, carried part to part"
    )
    written: bool = Field(default=False, description="Every part is written: assemble them")
    plan: str | None = Field(
        default=None,
        description="The blob of what every part must know of all items (a split's validation "
        "set, VOC's ids), made before the first part",
    )
    plan_slices: list[str] = Field(
        default_factory=list,
        description="The plan's slices written so far, each by the token in its blob's name",
    )
    plan_cursor: str | None = Field(
        default=None, description="The id of the last item the plan's slices have"
    )
