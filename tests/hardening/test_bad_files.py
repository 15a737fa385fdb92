"""The bad files people bring, through the real ingestion path on the local adapters (SQLite
documents and queue, a blob folder): the init stage lists the dataset, ingest batches register
the files, the derivatives stage renders them, all run by the embedded runtime's own worker.

Each bad file becomes an item in `error` with a reason that says what to do, or, where the text
can be read without guessing (UTF-16 with its byte-order mark), an item; nothing crashes or
ends in a dead-letter queue, and the good files of the same batches are ingested. The corpus is
made here, never committed."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from core.domain.datasets import Dataset, DatasetRoot, DataSource
from core.domain.items import Item, ItemState
from core.domain.media_types import IMAGE_EXTENSIONS
from core.domain.projects import ProjectSettings, ProjectStatus
from core.local.workers import QueueWorker
from core.media.text import MAX_TEXT_CHARS
from core.ports import Deps, Query
from core.services import projects, stages
from core.services.ingestion import ingestion_progress
from core.store.collections import ITEMS, load, scan
from tests.support.deps import local_deps
from tests.support.labeling import creator
from tests.support.media import FORMAT_OF, bundled_dicom, image_bytes, made_dicom
from tests.support.reliability import Recorder, Row

MAX_PIXELS = 5_000_000
EXPLICIT_LE = b"1.2.840.10008.1.2.1\x00"


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header declaring `width` × `height`, with a few bytes of pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def tiff_pages(pages: int, size: tuple[int, int]) -> bytes:
    """A little-endian greyscale TIFF of `pages` pages sharing one strip of pixels, written
    directly: Pillow's writer takes quadratic time in the page count."""
    width, height = size
    entries = [  # (tag, type: 3 SHORT / 4 LONG, value), in tag order
        (256, 4, width),
        (257, 4, height),
        (258, 3, 8),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, 8),
        (278, 4, height),
        (279, 4, width * height),
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    first = 8 + width * height
    out = io.BytesIO()
    out.write(b"II*\x00" + struct.pack("<I", first) + bytes(range(256)) * (width * height // 256))
    out.write(bytes(width * height % 256))
    for page in range(pages):
        out.write(struct.pack("<H", len(entries)))
        for tag, kind, value in entries:
            out.write(struct.pack("<HHII", tag, kind, 1, value))
        following = first + (page + 1) * ifd_size if page + 1 < pages else 0
        out.write(struct.pack("<I", following))
    return out.getvalue()


def lying_syntax(data: bytes, uid: bytes) -> bytes:
    """`data` (Explicit VR Little Endian) relabelled with another transfer syntax UID of the
    same length, so only the claim changes."""
    assert data.count(EXPLICIT_LE) == 1 and len(uid) == len(EXPLICIT_LE)
    return data.replace(EXPLICIT_LE, uid)


def good_image(ext: str) -> bytes:
    if ext in (".dcm", ".dicom"):
        return bundled_dicom("CT_small.dcm")
    return image_bytes(FORMAT_OF[ext], (300, 200))


def image_corpus() -> tuple[dict[str, bytes], dict[str, tuple[bytes, str]]]:
    """(good files, bad files with a phrase their reason must hold)."""
    good: dict[str, bytes] = {}
    bad: dict[str, tuple[bytes, str]] = {}
    for ext in sorted(IMAGE_EXTENSIONS):
        whole = good_image(ext)
        stem = ext.lstrip(".")
        good[f"in/good/{stem}{ext}"] = whole
        bad[f"in/bad/zero-{stem}{ext}"] = (b"", "empty file (0 bytes)")
        bad[f"in/bad/head-{stem}{ext}"] = (whole[:24], "damaged")
        bad[f"in/bad/half-{stem}{ext}"] = (whole[: len(whole) // 2], "truncated")
    pixels = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)
    dicom = made_dicom(pixels)
    bad |= {
        "in/bad/bomb.png": (png_bomb(100_000, 100_000), "ingest.maxPixels"),
        "in/bad/bomb-max.png": (png_bomb(2**31 - 1, 2**31 - 1), "ingest.maxPixels"),
        "in/bad/volume.tif": (tiff_pages(600, (100, 100)), "× 600 frames"),
        "in/bad/no-pixels.dcm": (made_dicom(pixels, with_pixels=False), "without pixel data"),
        "in/bad/says-big-endian.dcm": (
            lying_syntax(dicom, b"1.2.840.10008.1.2.2\x00"),
            "declared transfer syntax, Explicit VR Big Endian",
        ),
        "in/bad/says-rle.dcm": (
            lying_syntax(dicom, b"1.2.840.10008.1.2.5\x00"),
            "not in the transfer syntax it declares",
        ),
        "in/bad/not-an-image.jpg": (b"GIF89a but not really" * 10, "not a readable image"),
    }
    # Thousands of small pages: an item (its first page shows; it records how many there are).
    good["in/good/pages.tif"] = tiff_pages(3000, (20, 10))
    return good, bad


def text_corpus(folder: Path) -> tuple[dict[str, bytes], dict[str, tuple[bytes, str]], Path]:
    good = {
        "in/plain.txt": "Grüße aus Köln".encode(),
        "in/utf16.txt": "Grüße, UTF-16 with its mark".encode("utf-16"),
        "in/rows.csv": b"text\nfirst\n" + b"with a \x00 inside\n" + b"third\n",
        "in/lines.jsonl": b'{"text": "one"}\n{"text": "two\\u0000"}\n{"text": "three"}\n',
    }
    bad = {
        "in/latin1.txt": ("café crème".encode("latin-1"), "Latin-1 or Windows-1252"),
        "in/nul.txt": (b"text\x00with\x00NULs", "NUL character"),
        "in/latin1.csv": (
            b"text\nfine\n" + "déjà".encode("latin-1") + b"\n",
            "save it as UTF-8",
        ),
        "in/one-line.jsonl": (b'{"text": "' + b"x" * (20 << 20) + b'"}\n', "not a file of rows"),
    }
    # 200 MB, written to disk once and streamed into the blob store.
    big = folder / "big.txt"
    with big.open("wb") as out:
        line = b"The quick brown fox jumps over the lazy dog. " * 22 + b"\n"
        for _ in range(200_000_000 // len(line)):
            out.write(line)
    return good, bad, big


def settings(task: str, **ingest: object) -> ProjectSettings:
    return ProjectSettings.model_validate(
        {
            "name": f"Bad {task}",
            "taskType": task,
            "labelClasses": [{"name": "a"}, {"name": "b"}],
            "dataset": Dataset(
                source=DataSource.BLOB, container=task.replace("_", "-"), path="in/**"
            ),
            "ingest": ingest,
        }
    )


def run_stages(deps: Deps) -> int:
    """The embedded runtime's worker loop until every queue is empty."""
    worker = QueueWorker(deps, list(stages.QUEUE_SPECS.values()), stages.handle)
    handled = 0
    while worker.run_once():
        handled += 1
    return handled


def items_of(deps: Deps, project_id: str) -> dict[str, Item]:
    found = scan(deps.documents.container(ITEMS), project_id, Query(page_size=500))
    return {item.path: item for item in (load(Item, d) for d in found)}


@pytest.fixture
def deps(tmp_path: Path) -> Deps:
    made = local_deps(tmp_path / "store")
    # Each corpus in a container named after its task type, allowed as a deployment would.
    made.dataset_roots = (DatasetRoot("image-multiclass"), DatasetRoot("text-multiclass"))
    creator(made, "ann")
    yield made  # type: ignore[misc]
    made.close()


def test_bad_images_become_errors_with_reasons(deps: Deps, reliability: Recorder) -> None:
    good, bad = image_corpus()
    for name, data in good.items():
        deps.blobs.put("image-multiclass", name, data)
    for name, (data, _) in bad.items():
        deps.blobs.put("image-multiclass", name, data)
    project = projects.create_project(
        deps, settings=settings("image_multiclass", maxPixels=MAX_PIXELS), actor="ann"
    ).value
    started = time.monotonic()

    run_stages(deps)

    seconds = time.monotonic() - started
    assert projects.get_project(deps, project_id=project.id).value.status is ProjectStatus.RUNNING
    items = items_of(deps, project.id)
    assert set(items) == set(good) | set(bad)  # every file is an item, none twice
    for name in good:
        item = items[name]
        assert item.state is ItemState.UNLABELED, (name, item.error)
        assert item.derivatives is not None, name
    assert items["in/good/pages.tif"].media is not None
    assert items["in/good/pages.tif"].media.frames == 3000
    reasons = {name: items[name].error or "" for name in bad}
    wrong = {
        name: reasons[name]
        for name, (_, phrase) in bad.items()
        if items[name].state is not ItemState.ERROR or phrase not in reasons[name]
    }
    assert not wrong, wrong
    assert all(len(reason) < 600 for reason in reasons.values())
    dead = {q: deps.queue.dead_letters(q) for q in stages.QUEUE_SPECS}
    assert not any(dead.values()), dead
    progress = ingestion_progress(deps, project_id=project.id, actor="ann")
    assert progress.registered + progress.failed == len(good) + len(bad)
    reliability.record(
        Row(
            suite="bad files",
            test="images: truncated, empty, bombs, TIFF pages, lying DICOM",
            load=f"{len(good) + len(bad)} files in one dataset ({seconds:.1f} s)",
            faults="—",
            inputs=(
                f"zero-byte, cut header and cut pixels of all {len(IMAGE_EXTENSIONS)} "
                "extensions; PNG bombs; 600-page volume; 3000-page TIFF; DICOM without pixels, "
                "lying transfer syntax"
            ),
            result={
                "items": len(items),
                "errors_with_reason": len(bad),
                "good_ingested": len(good),
                "dead_letters": 0,
                "crashes": 0,
            },
        )
    )


def test_bad_texts_become_errors_or_items(
    deps: Deps, tmp_path: Path, reliability: Recorder
) -> None:
    good, bad, big = text_corpus(tmp_path)
    for name, data in good.items():
        deps.blobs.put("text-multiclass", name, data)
    for name, (data, _) in bad.items():
        deps.blobs.put("text-multiclass", name, data)
    with big.open("rb") as stream:
        deps.blobs.put("text-multiclass", "in/big.txt", stream)
    bad["in/big.txt"] = (b"", f"over {MAX_TEXT_CHARS:,} characters")
    project = projects.create_project(deps, settings=settings("text_multiclass"), actor="ann")
    started = time.monotonic()

    run_stages(deps)

    seconds = time.monotonic() - started
    project_id = project.value.id
    assert projects.get_project(deps, project_id=project_id).value.status is ProjectStatus.RUNNING
    items = items_of(deps, project_id)
    assert items["in/plain.txt"].text == "Grüße aus Köln"
    assert items["in/utf16.txt"].text == "Grüße, UTF-16 with its mark"
    assert [items[f"in/rows.csv#{n}"].state for n in (1, 2, 3)] == [
        ItemState.UNLABELED,
        ItemState.ERROR,
        ItemState.UNLABELED,
    ]
    assert "NUL" in (items["in/rows.csv#2"].error or "")
    assert items["in/lines.jsonl#2"].state is ItemState.ERROR
    assert items["in/lines.jsonl#3"].text == "three"
    assert items["in/latin1.csv#1"].text == "fine"  # the rows before the bad byte stay
    bad_items = {name: items.get(name) or items.get(f"{name}") for name in bad}
    wrong = {
        name: (item.state, item.error) if item else None
        for name, item in bad_items.items()
        if item is None
        or item.state is not ItemState.ERROR
        or bad[name][1] not in (item.error or "")
    }
    assert not wrong, wrong
    dead = {q: deps.queue.dead_letters(q) for q in stages.QUEUE_SPECS}
    assert not any(dead.values()), dead
    reliability.record(
        Row(
            suite="bad files",
            test="texts: encodings, NUL bytes, a 200 MB file, a 20 MB line",
            load=f"{len(good) + len(bad)} files, 200 MB in all ({seconds:.1f} s)",
            inputs="Latin-1 .txt/.csv, UTF-16 with BOM, NUL in .txt/.csv/.jsonl, 200 MB .txt",
            result={
                "items": len(items),
                "errors_with_reason": sum(1 for i in items.values() if i.state is ItemState.ERROR),
                "utf16_read": 1,
                "dead_letters": 0,
                "crashes": 0,
            },
        )
    )
