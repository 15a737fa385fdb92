"""A small file can hold a huge picture: 13000 × 13000 pixels (under the default pixel limit)
in half a megabyte of PNG or a few of JPEG, 676 MB once decoded, which rendering decoded whole
(and copied) before: about 1.4 GB of growth per stage worker.

Each file goes through the real derivatives stage (local stores, the blob spooled from the
folder) in a fresh Python process of its own, as a stage worker runs it; the child reports its
resident memory before the stage and its peak (VmHWM) after, and the item's outcome. Every
peak must stay within `RENDER_MEMORY_BOUND_BYTES` over the child's baseline: a baseline JPEG and
a non-interlaced PNG are rendered (decoded reduced, or in strips), an interlaced PNG and a
DICOM frame too large to decode within the budget become items in error with a reason naming
their size, the bound and what to do, and a TIFF just within the decoding budget, decoded
whole, shows the worst case the bound allows for."""

from __future__ import annotations

import io
import json
import math
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import RLELossless, SecondaryCaptureImageStorage, generate_uid

from core.media.decoding import DECODE_BUDGET_BYTES, RENDER_MEMORY_BOUND_BYTES
from core.media.images import DISPLAY_MAX
from tests.support.reliability import ROOT, Recorder, Row

SIDE = 13000
COLOUR = (90, 140, 200)
ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
MB = 1 << 20

# The stage in a process of its own: decoders imported first (a worker has them loaded), then
# the baseline, the stage, the peak.
CHILD = """
import json, sys, time
from pathlib import Path
import core.media.probe  # noqa: F401
from core.domain.items import Item
from core.services import stages
from core.store.collections import ITEMS, load
from core.services.uploads import upload_file
from tests.support.deps import local_deps
from tests.support.labeling import running_project

def kb(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])

folder, source = Path(sys.argv[1]), Path(sys.argv[2])
deps = local_deps(folder)
project = running_project(deps, owner="olive")
with source.open("rb") as data:
    _, made = upload_file(deps, project_id=project.id, path=source.name, data=data, actor="olive")
before, started = kb("VmRSS"), time.monotonic()
while batch := [(q, m) for q in stages.QUEUE_SPECS for m in deps.queue.receive(q, max_messages=10)]:
    for queue, message in batch:
        stages.handle(deps, queue, message.body)
        deps.queue.complete(message)
seconds, peak = time.monotonic() - started, kb("VmHWM")
item = load(Item, deps.documents.container(ITEMS).get(project.id, made[0].id))
shown = item.derivatives
print(json.dumps({
    "before_kb": before, "peak_kb": peak, "seconds": seconds, "state": str(item.state),
    "error": item.error, "display": [shown.width, shown.height] if shown else None,
}))
"""


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def huge_png(path: Path, *, interlaced: bool = False) -> None:
    """One colour, written row by row through zlib: the picture is never in memory."""
    header = struct.pack(">IIBBBBB", SIDE, SIDE, 8, 2, 0, 0, int(interlaced))
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header))
        packer = zlib.compressobj(6)
        pending = bytearray()
        for sx, sy, dx, dy in ADAM7 if interlaced else ((0, 0, 1, 1),):
            row = b"\x00" + bytes(COLOUR) * math.ceil((SIDE - sx) / dx)
            for _ in range(math.ceil((SIDE - sy) / dy)):
                pending += packer.compress(row)
                if len(pending) >= MB:
                    out.write(chunk(b"IDAT", bytes(pending)))
                    pending.clear()
        pending += packer.flush()
        out.write(chunk(b"IDAT", bytes(pending)) + chunk(b"IEND", b""))


def huge_jpeg(path: Path) -> None:
    """A baseline JPEG of one colour, never held whole: Pillow codes two rows of 16-pixel
    blocks with a restart marker after each, and the first row's data, which restarts its DC
    prediction, codes every row of the picture alike."""
    strip = io.BytesIO()
    Image.new("RGB", (SIDE, 32), COLOUR).save(strip, "JPEG", quality=90, restart_marker_rows=1)
    data = strip.getvalue()
    sos = data.index(b"\xff\xda")
    start = sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")
    row = data[start : data.index(b"\xff\xd0", start)]
    head = bytearray(data[:start])
    sof = head.index(b"\xff\xc0")
    head[sof + 5 : sof + 7] = SIDE.to_bytes(2, "big")  # the frame's height
    with path.open("wb") as out:
        out.write(bytes(head) + row)
        for n in range(1, math.ceil(SIDE / 16)):
            out.write(bytes((0xFF, 0xD0 + (n - 1) % 8)) + row)
        out.write(b"\xff\xd9")


def huge_dicom(path: Path) -> None:
    """A 16-bit RLE Lossless frame of zeros: each row of each byte plane is runs of 128."""
    runs, rest = divmod(SIDE, 128)
    row = b"\x81\x00" * runs + (bytes((257 - rest, 0)) if rest > 1 else b"\x00\x00" * rest)
    plane = row * SIDE
    header = struct.pack("<16I", 2, 64, 64 + len(plane), *([0] * 13))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = RLELossless
    ds = FileDataset(path.name, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, generate_uid()
    ds.Modality, ds.Rows, ds.Columns, ds.SamplesPerPixel = "OT", SIDE, SIDE, 1
    ds.PhotometricInterpretation, ds.PixelRepresentation = "MONOCHROME2", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelData = encapsulate([header + plane + plane])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.save_as(path, enforce_file_format=True)


def tiff_at_the_budget(path: Path) -> None:
    """The largest square RGB picture a whole decode may take (8000 × 8000 × 4 bytes), deflated:
    the worst case the bound allows for."""
    Image.new("RGB", (8000, 8000), COLOUR).save(path, compression="tiff_deflate")


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path], None]
    rendered: bool
    advice: str = ""


CASES = [
    Case("huge.png", huge_png, rendered=True),
    Case("huge.jpg", huge_jpeg, rendered=True),
    Case(
        "huge-interlaced.png",
        lambda path: huge_png(path, interlaced=True),
        rendered=False,
        advice="non-interlaced",
    ),
    Case("huge.dcm", huge_dicom, rendered=False, advice="tiled"),
    Case("at-the-budget.tif", tiff_at_the_budget, rendered=True),
]


def run_stage(folder: Path, source: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


@pytest.mark.slow
def test_huge_pictures_in_small_files_render_within_the_memory_bound(
    tmp_path: Path, reliability: Recorder
) -> None:
    sources = {}
    for case in CASES:
        sources[case.name] = tmp_path / case.name
        case.make(sources[case.name])
    with ThreadPoolExecutor(2) as pool:  # each child measures only itself
        outcomes = dict(
            zip(
                [case.name for case in CASES],
                pool.map(lambda c: run_stage(tmp_path / f"data-{c.name}", sources[c.name]), CASES),
                strict=True,
            )
        )

    bound_mb = RENDER_MEMORY_BOUND_BYTES / MB
    growth = {}
    for case in CASES:
        found = outcomes[case.name]
        growth[case.name] = round((found["peak_kb"] - found["before_kb"]) / 1024)
        assert growth[case.name] <= bound_mb, (case.name, found)
        if case.rendered:
            assert found["state"] == "unlabeled" and found["error"] is None, found
            assert max(found["display"]) == DISPLAY_MAX, found
        else:
            reason = found["error"] or ""
            assert found["state"] == "error" and found["display"] is None, found
            assert "13,000 × 13,000" in reason, reason  # the size,
            assert f"{DECODE_BUDGET_BYTES // MB} MB bound" in reason, reason  # the bound,
            assert case.advice in reason, reason  # and what to do
    # The pictures decoded reduced or in strips cost a fraction of the bound.
    assert growth["huge.png"] < bound_mb / 3 and growth["huge.jpg"] < bound_mb / 3, growth

    files = ", ".join(f"{c.name} ({sources[c.name].stat().st_size / MB:.1f} MB)" for c in CASES)
    reliability.record(
        Row(
            suite="Security: memory per huge image",
            test="13000 × 13000 pictures in small files through the derivatives stage",
            load="one file per fresh stage-worker process",
            inputs=f"{files}: 13000 × 13000 each, the TIFF 8000 × 8000 (at the budget)",
            result={
                "bound MB (growth per worker)": round(bound_mb),
                "decoding budget MB": DECODE_BUDGET_BYTES // MB,
                **{f"peak growth MB {name}": mb for name, mb in growth.items()},
                **{
                    f"outcome {case.name}": "rendered" if case.rendered else "error with reason"
                    for case in CASES
                },
            },
        )
    )
