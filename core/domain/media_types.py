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


_IMAGE_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
SNIFF_BYTES = 16
TEXT_TYPE = "text/plain; charset=utf-8"
OPAQUE_TYPE = "application/octet-stream"
SERVED_TYPES = (
    *dict.fromkeys(kind for _, kind in _IMAGE_MAGIC),
    "image/webp",
    TEXT_TYPE,
    OPAQUE_TYPE,
)
"""Every type `served_type` answers."""


def served_type(head: bytes, name: str) -> tuple[str, bool]:
    """The content type a stored blob is served with, and whether it may show inline, decided
    from its first bytes and never from what an uploader said: raster images by their magic
    numbers (inline), text files as plain UTF-8 text, anything else as opaque bytes (both as
    attachments). SVG and HTML are text here: a browser never runs what a user stored."""
    for magic, content_type in _IMAGE_MAGIC:
        if head.startswith(magic):
            return content_type, True
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", True
    if extension(name) in TEXT_EXTENSIONS | {".json"}:
        return TEXT_TYPE, False
    return OPAQUE_TYPE, False
