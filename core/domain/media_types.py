"""Which files a project takes, by extension (case-insensitive)."""

from __future__ import annotations

from core.domain.task_types import MediaKind

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".jpe", ".jfif", ".bmp", ".tif", ".tiff", ".dcm", ".dicom"}
)
TEXT_EXTENSIONS = frozenset({".txt", ".csv", ".tsv", ".jsonl"})


def extension(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return base[dot:].lower() if dot > 0 else ""


def accepts(kind: MediaKind, name: str) -> bool:
    allowed = IMAGE_EXTENSIONS if kind is MediaKind.IMAGE else TEXT_EXTENSIONS
    return extension(name) in allowed
