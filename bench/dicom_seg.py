"""DICOM-SEG export time: a CT series of 64 slices of 512 x 512 (one item, ingested as a
series), a semantic segmentation with two classes painted on 20 slices, exported as
`dicom_seg` by an export job (the export stage's calls timed; the embedded default: SQLite
documents, a folder of blobs) and as a direct download; COCO of the same masks per slice (20
images) is the baseline in the same run. The SEG's work is reading the 64 source files and
highdicom's encoding of the painted frames.

    python bench/dicom_seg.py            # 64 slices, masks on 20
    python bench/dicom_seg.py --quick    # 16 slices, masks on 5
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from export_parts import export_job  # bench/export_parts.py: a job's stage calls, timed

from core.adapters.clock import SystemClock
from core.adapters.local.blobs import FolderBlobStore
from core.adapters.local.documents import SqliteDocumentStore
from core.adapters.memory import MemoryWorkQueue
from core.domain.datasets import DatasetRoot
from core.domain.exports import ExportFormat
from core.domain.projects import ProjectSettings
from core.export.mask_pixels import counts_of_grid
from core.ports import Deps
from core.services import exports, labeling, projects, stages, tasks
from core.services.exports import EXPORTS_CONTAINER, ExportOptions
from core.services.stages import QUEUE_SPECS
from core.services.users import create_user

SIDE = 512
STUDY, SERIES, FRAME = generate_uid(), generate_uid(), generate_uid()


def ct_slice(k: int) -> bytes:
    """Slice k of a CT series, 2.5 mm apart, of a study with its patient."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CTImageStorage, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("ct.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.PatientID, ds.PatientName, ds.PatientBirthDate, ds.PatientSex = "p1", "Bench^P", "", ""
    ds.StudyInstanceUID, ds.StudyID, ds.StudyDate, ds.StudyTime = STUDY, "1", "20260101", "000000"
    ds.AccessionNumber, ds.ReferringPhysicianName = "", ""
    ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber = "CT", SERIES, 1
    ds.FrameOfReferenceUID, ds.InstanceNumber = FRAME, k + 1
    ds.ImagePositionPatient, ds.ImageOrientationPatient = [0.0, 0.0, 2.5 * k], [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing, ds.SliceThickness = [0.7, 0.7], 2.5
    ds.Rows = ds.Columns = SIDE
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ramp = np.add.outer(np.arange(SIDE), np.arange(SIDE)) % 4096
    ds.PixelData = ((ramp + 37 * k) % 4096).astype(np.uint16).tobytes()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def disc(cy: int, cx: int, r: int) -> np.ndarray:
    y, x = np.ogrid[:SIDE, :SIDE]
    return (y - cy) ** 2 + (x - cx) ** 2 <= r * r


def masks_on(slices: int, painted: int) -> list[dict[str, object]]:
    """A liver disc on each of `painted` slices spread over the series, a lesion inside it."""
    made: list[dict[str, object]] = []
    for n in np.linspace(0, slices - 1, painted).astype(int).tolist():
        liver = disc(256, 230, 120 + n % 7)
        lesion = disc(240, 260, 25 + n % 5)
        for label, grid in (("liver", liver & ~lesion), ("lesion", lesion)):
            made.append({"label": label, "size": [SIDE, SIDE], "counts": counts_of_grid(grid)})
            made[-1]["slice"] = n
    return made


def drain(deps: Deps) -> None:
    while batch := [(q, m) for q in QUEUE_SPECS for m in deps.queue.receive(q, max_messages=50)]:
        for queue, message in batch:
            stages.handle(deps, queue, message.body)
            deps.queue.complete(message)


def labeled(folder: Path, slices: int, painted: int) -> tuple[Deps, str]:
    clock = SystemClock()
    deps = Deps(
        documents=SqliteDocumentStore(folder / "documents.sqlite"),
        blobs=FolderBlobStore(folder / "blobs"),
        queue=MemoryWorkQueue(clock, QUEUE_SPECS),
        clock=clock,
        dataset_roots=(DatasetRoot("lake"),),
    )
    for k in range(slices):
        deps.blobs.put("lake", f"ct/{k:03d}.dcm", ct_slice(k))
    create_user(deps, name="olive")
    settings = ProjectSettings.model_validate(
        {
            "name": "Bench SEG",
            "taskType": "image_semantic_segmentation",
            "labelClasses": [{"name": "liver"}, {"name": "lesion"}],
            "dataset": {"source": "blob", "container": "lake", "path": "ct/**"},
            "ingest": {"dicomSeries": True},
        }
    )
    project_id = projects.create_project(deps, settings=settings, actor="olive").value.id
    drain(deps)
    [item] = tasks.next_task(deps, project_id=project_id, actor="olive").items
    assert item.media is not None and item.media.frames == slices, item.media
    value = {"masks": masks_on(slices, painted)}
    labeling.submit_annotation(
        deps, project_id=project_id, item_id=item.id, value=value, actor="olive"
    )
    return deps, project_id


def job_seconds(deps: Deps, project_id: str, fmt: ExportFormat) -> tuple[float, float, int]:
    """(longest stage call, all calls, the file's bytes) of an export job."""
    view, calls = export_job(deps, project_id, fmt, ExportOptions())
    assert view.job.status.value == "succeeded", view.job.error
    assert view.job.blob_name is not None
    data = deps.blobs.get(EXPORTS_CONTAINER, view.job.blob_name)
    if fmt is ExportFormat.DICOM_SEG:  # the item written, none left out
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            assert archive.read("skipped.csv") == b"path,reason\r\n", archive.read("skipped.csv")
            assert sum(n.endswith(".dcm") for n in archive.namelist()) == 1
    return max(calls), sum(calls), len(data)


def streamed_seconds(deps: Deps, project_id: str, fmt: ExportFormat) -> float:
    start = time.perf_counter()
    _, _, body = exports.open_export(
        deps, project_id=project_id, actor="olive", format=fmt, options=ExportOptions()
    )
    for _ in body:
        pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    slices, painted = (16, 5) if args.quick else (64, 20)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        deps, project_id = labeled(Path(folder), slices, painted)
        print(f"{slices} slices of {SIDE}x{SIDE} ingested and labeled on {painted} "
              f"in {time.perf_counter() - start:.1f} s", file=sys.stderr)  # fmt: skip
        figures: dict[str, float] = {"slices": slices, "painted_slices": painted}
        streamed_seconds(deps, project_id, ExportFormat.DICOM_SEG)  # warm: highdicom's imports
        for name, fmt in (("seg", ExportFormat.DICOM_SEG), ("coco", ExportFormat.COCO)):
            longest, total, size = job_seconds(deps, project_id, fmt)
            figures |= {f"{name}_job_longest_s": round(longest, 3)}
            figures |= {f"{name}_job_total_s": round(total, 3), f"{name}_kb": size // 1000}
            figures[f"{name}_streamed_s"] = round(streamed_seconds(deps, project_id, fmt), 3)
        figures["seg_over_coco"] = round(
            figures["seg_job_total_s"] / figures["coco_job_total_s"], 1
        )
        deps.close()
    for key, number in figures.items():
        print(f"{key:>22}: {number}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
