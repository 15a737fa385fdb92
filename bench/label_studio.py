"""Loupe beside a Label Studio you run yourself, on the same machine and the same files: upload
files/s, bulk-loading box labels, a COCO export, and next task + submit, one system at a time,
alternating, `--runs` times (2); it prints each figure, the medians and the ratios.

Label Studio is not installed by Loupe. To compare, in another shell:

    python -m venv /tmp/ls && /tmp/ls/bin/pip install label-studio
    /tmp/ls/bin/label-studio start --no-browser --port 8080 \\
        --username bench@example.com --password bench-password --user-token bench-token-0123456789

then (the token is that `--user-token`, or one from Account & Settings; a personal access
token works too):

    python bench/label_studio.py --ls-url http://127.0.0.1:8080 --ls-token bench-token-0123456789
    python bench/label_studio.py --quick ...       # 200 files, 2,000 boxes, 100 labels
    python bench/label_studio.py --loupe-only      # Loupe's figures alone (no Label Studio)

What each side does:
- upload: N one-megapixel JPEGs (`bench/upload.py`'s), 8 requests at a time. Loupe: the `loupe
  upload` command (link, PUT, complete per file) into an upload project. Label Studio: multipart
  `POST /api/projects/{id}/import` of `--ls-batch` files each (its UI sends several files a
  request; one file a request was 15× slower here), into an image project.
- import: N box labels (1–3 boxes an image, 4 classes). Loupe: `loupe import --format coco
  --mode final` into a blob project whose N images are registered first. Label Studio: one
  `POST /api/projects/{id}/import` of N tasks each carrying its annotation (the images are
  URLs it does not fetch), timed until its project counts them.
- export: COCO of those N labeled images. Loupe: `GET .../export?format=coco`; Label Studio:
  `GET /api/projects/{id}/export?exportType=COCO` (its JSON export if COCO is refused).
- next + submit: one labeler, in turn, on the uploaded project (one box each), p50 of each.
  Loupe: `POST .../tasks/next`, `POST .../items/{id}/annotation`. Label Studio:
  `GET /api/projects/{id}/next`, `POST /api/tasks/{id}/annotations`.

Loupe runs as `loupe serve --no-demo` on 127.0.0.1 (started and stopped by PID here, a fresh
data folder per run). Ratios are Loupe's speed over Label Studio's (above 1: Loupe is faster).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import upload as upload_bench  # noqa: E402  (bench/upload.py: JPEGs, server helpers)

LOUPE = Path(sys.executable).parent / "loupe"
CLASSES = ("cat", "dog", "bird", "fish")
LABEL_CONFIG = (
    '<View><Image name="image" value="$image"/><RectangleLabels name="label" toName="image">'
    + "".join(f'<Label value="{c}"/>' for c in CLASSES)
    + "</RectangleLabels></View>"
)
W, H = 640, 480


def boxes_of(index: int) -> list[tuple[str, float, float, float, float]]:
    """The same 1–3 boxes of image `index` for both systems: (class, x, y, w, h) in pixels."""
    rng = random.Random(index)
    return [
        (rng.choice(CLASSES), rng.uniform(0, 500), rng.uniform(0, 380), 100.0, 80.0)
        for _ in range(rng.randint(1, 3))
    ]


# -- Loupe ---------------------------------------------------------------------------------------


class Loupe:
    """A fresh `loupe serve` with an owner, an upload project and a blob project of N images."""

    def __init__(self, folder: Path, boxes: int) -> None:
        self.folder = folder
        self.boxes = boxes
        lake = folder / "blobs" / "lake" / "boxes"
        lake.mkdir(parents=True)
        tiny = _tiny_jpeg()
        for index in range(boxes):
            (lake / f"{index:06d}.jpg").write_bytes(tiny)
        self.project_id, self.token = upload_bench.seed(folder, "image_bounding_box", CLASSES)
        self.port = upload_bench.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOUPE_")}
        self.env = env | {"LOUPE_RATE_LIMIT": "0", "LOUPE_DATASETS": "lake"}
        self.server = subprocess.Popen(  # noqa: S603 (our own commands)
            [str(LOUPE), "--data-dir", str(folder), "serve", "--no-demo", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self.env,
            cwd=folder,
        )
        upload_bench.wait_up(f"{self.url}/api/health")
        self.http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=600
        )

    def close(self) -> None:
        self.http.close()
        upload_bench.stop(self.server)

    def upload(self, files: Path) -> float:
        started = time.perf_counter()
        command = [str(LOUPE), "upload", self.project_id, str(files), "--server", self.url]
        result = subprocess.run(  # noqa: S603
            [*command, "--workers", "8"],
            env=self.env | {"LOUPE_TOKEN": self.token},
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        took = time.perf_counter() - started
        if result.returncode != 0:
            raise RuntimeError(result.stdout + result.stderr)
        return took

    def import_boxes(self) -> float:
        created = self.http.post(
            "/api/projects",
            json={
                "name": "Boxes",
                "taskType": "image_bounding_box",
                "labelClasses": [{"name": c} for c in CLASSES],
                "dataset": {"source": "blob", "container": "lake", "path": "boxes/**"},
            },
        )
        created.raise_for_status()
        self.boxes_id = created.json()["id"]
        _wait(lambda: self._registered() >= self.boxes, 1800, "Loupe's registration")
        coco = self.folder / "boxes.coco.json"
        coco.write_text(json.dumps(_coco(self.boxes)))
        started = time.perf_counter()
        command = [str(LOUPE), "import", self.boxes_id, str(coco), "--format", "coco"]
        result = subprocess.run(  # noqa: S603
            [*command, "--mode", "final", "--server", self.url],
            env=self.env | {"LOUPE_TOKEN": self.token},
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        took = time.perf_counter() - started
        if result.returncode != 0:
            raise RuntimeError(result.stdout + result.stderr)
        return took

    def _registered(self) -> int:
        found = self.http.get(f"/api/projects/{self.boxes_id}/ingestion").json()
        return int(found.get("registered", 0)) if found.get("status") == "running" else 0

    def export(self) -> float:
        started = time.perf_counter()
        with self.http.stream("GET", f"/api/projects/{self.boxes_id}/export?format=coco") as got:
            got.raise_for_status()
            size = sum(len(chunk) for chunk in got.iter_bytes())
        took = time.perf_counter() - started
        if size < 100:
            raise RuntimeError("Loupe's export is empty")
        return took

    def label(self, rounds: int) -> tuple[float, float]:
        base = f"/api/projects/{self.project_id}"
        nexts, submits = [], []
        for n in range(rounds + 20):
            started = time.perf_counter()
            got = self.http.post(f"{base}/tasks/next", json={"size": 1})
            took_next = time.perf_counter() - started
            got.raise_for_status()
            item = got.json()["items"][0]["id"]
            value = {"boxes": [{"label": "cat", "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}]}
            started = time.perf_counter()
            sent = self.http.post(f"{base}/items/{item}/annotation", json={"value": value})
            took_submit = time.perf_counter() - started
            sent.raise_for_status()
            if n >= 20:
                nexts.append(took_next)
                submits.append(took_submit)
        return statistics.median(nexts), statistics.median(submits)


def _tiny_jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (W, H), (120, 90, 60)).save(out, "JPEG", quality=70)
    return out.getvalue()


def _coco(count: int) -> dict[str, Any]:
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for index in range(count):
        images.append(
            {"id": index + 1, "file_name": f"boxes/{index:06d}.jpg", "width": W, "height": H}
        )
        for label, x, y, w, h in boxes_of(index):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": index + 1,
                    "category_id": CLASSES.index(label) + 1,
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
    categories = [{"id": n + 1, "name": c} for n, c in enumerate(CLASSES)]
    return {"images": images, "annotations": annotations, "categories": categories}


# -- Label Studio ----------------------------------------------------------------------------


class LabelStudio:
    """Projects in a running Label Studio, through its REST API."""

    def __init__(self, url: str, token: str, boxes: int, batch: int) -> None:
        self.url = url.rstrip("/")
        self.boxes = boxes
        self.batch = batch
        self.http = httpx.Client(base_url=self.url, timeout=600, headers=_ls_auth(self.url, token))
        tag = f"{int(time.time())}-{random.randrange(1 << 16)}"
        self.uploads = self._project(f"loupe-bench uploads {tag}")
        self.labels = self._project(f"loupe-bench boxes {tag}")

    def _project(self, title: str) -> int:
        made = self.http.post("/api/projects", json={"title": title, "label_config": LABEL_CONFIG})
        made.raise_for_status()
        return int(made.json()["id"])

    def close(self) -> None:
        for project in (self.uploads, self.labels):
            self.http.delete(f"/api/projects/{project}")
        self.http.close()

    def upload(self, files: Path) -> float:
        paths = sorted(files.iterdir())
        batches = [paths[at : at + self.batch] for at in range(0, len(paths), self.batch)]

        def send(batch: list[Path]) -> None:
            bodies = [(path.name, path.read_bytes(), "image/jpeg") for path in batch]
            sent = self.http.post(
                f"/api/projects/{self.uploads}/import",
                files=[(f"file{n}", body) for n, body in enumerate(bodies)],  # one name each
            )
            sent.raise_for_status()

        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(send, batches))
        return time.perf_counter() - started

    def import_boxes(self) -> float:
        tasks = [
            {
                "data": {"image": f"/data/local-files/?d=boxes/{index:06d}.jpg"},
                "annotations": [{"result": _ls_result(boxes_of(index))}],
            }
            for index in range(self.boxes)
        ]
        body = json.dumps(tasks).encode()
        started = time.perf_counter()
        sent = self.http.post(
            f"/api/projects/{self.labels}/import",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        sent.raise_for_status()
        _wait(lambda: self._annotated() >= self.boxes, 3600, "Label Studio's import")
        return time.perf_counter() - started

    def _annotated(self) -> int:
        found = self.http.get(f"/api/projects/{self.labels}").json()
        return int(found.get("total_annotations_number") or 0)

    def export(self) -> float:
        started = time.perf_counter()
        size = self._download("COCO")
        if size is None:
            started = time.perf_counter()
            size = self._download("JSON")
        took = time.perf_counter() - started
        if not size:
            raise RuntimeError("Label Studio's export failed in COCO and in JSON")
        return took

    def _download(self, kind: str) -> int | None:
        url = f"/api/projects/{self.labels}/export?exportType={kind}"
        with self.http.stream("GET", url) as got:
            if got.status_code >= 400:
                return None
            return sum(len(chunk) for chunk in got.iter_bytes())

    def label(self, rounds: int) -> tuple[float, float]:
        nexts, submits = [], []
        for n in range(rounds + 20):
            started = time.perf_counter()
            got = self.http.get(f"/api/projects/{self.uploads}/next")
            took_next = time.perf_counter() - started
            got.raise_for_status()
            task = got.json()["id"]
            result = _ls_result([("cat", 64.0, 48.0, 128.0, 96.0)])
            started = time.perf_counter()
            sent = self.http.post(
                f"/api/tasks/{task}/annotations", json={"result": result, "project": self.uploads}
            )
            took_submit = time.perf_counter() - started
            sent.raise_for_status()
            if n >= 20:
                nexts.append(took_next)
                submits.append(took_submit)
        return statistics.median(nexts), statistics.median(submits)


def _ls_auth(url: str, token: str) -> dict[str, str]:
    """A legacy token (`Token x`), or a personal access token traded for an access token."""
    legacy = {"Authorization": f"Token {token}"}
    if httpx.get(f"{url}/api/projects?page_size=1", headers=legacy, timeout=30).status_code < 400:
        return legacy
    traded = httpx.post(f"{url}/api/token/refresh", json={"refresh": token}, timeout=30)
    traded.raise_for_status()
    return {"Authorization": f"Bearer {traded.json()['access']}"}


def _ls_result(boxes: list[tuple[str, float, float, float, float]]) -> list[dict[str, Any]]:
    return [
        {
            "from_name": "label",
            "to_name": "image",
            "type": "rectanglelabels",
            "original_width": W,
            "original_height": H,
            "value": {
                "x": 100 * x / W,
                "y": 100 * y / H,
                "width": 100 * w / W,
                "height": 100 * h / H,
                "rotation": 0,
                "rectanglelabels": [label],
            },
        }
        for label, x, y, w, h in boxes
    ]


def _wait(done: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not finish in {timeout:.0f} s")
        time.sleep(0.05)


# -- the runs ------------------------------------------------------------------------------------


def run_system(system: Loupe | LabelStudio, files: Path, count: int, rounds: int) -> dict[str, Any]:
    uploaded = system.upload(files)
    imported = system.import_boxes()
    exported = system.export()
    next_p50, submit_p50 = system.label(rounds)
    return {
        "upload_files_s": count / uploaded,
        "import_s": imported,
        "export_s": exported,
        "next_ms": next_p50 * 1000,
        "submit_ms": submit_p50 * 1000,
    }


def loupe_run(files: Path, count: int, boxes: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="loupe-vs-ls-") as tmp:
        loupe = Loupe(Path(tmp), boxes)
        try:
            return run_system(loupe, files, count, rounds)
        finally:
            loupe.close()


def studio_run(args: argparse.Namespace, files: Path, count: int, boxes: int, rounds: int) -> Any:
    studio = LabelStudio(args.ls_url, args.ls_token, boxes, args.ls_batch)
    try:
        return run_system(studio, files, count, rounds)
    finally:
        studio.close()


def show(name: str, figures: dict[str, Any]) -> None:
    print(
        f"  {name:12s} upload {figures['upload_files_s']:7.1f} files/s   import "
        f"{figures['import_s']:6.2f} s   export {figures['export_s']:6.2f} s   next "
        f"{figures['next_ms']:6.2f} ms   submit {figures['submit_ms']:6.2f} ms",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ls-url", default=os.environ.get("LABEL_STUDIO_URL"))
    parser.add_argument("--ls-token", default=os.environ.get("LABEL_STUDIO_TOKEN"))
    parser.add_argument("--loupe-only", action="store_true", help="no Label Studio: Loupe alone")
    parser.add_argument("--quick", action="store_true", help="200 files, 2,000 boxes, 100 labels")
    parser.add_argument("--files", type=int, default=None, help="JPEGs to upload (1,000)")
    parser.add_argument("--boxes", type=int, default=None, help="images of box labels (10,000)")
    parser.add_argument("--rounds", type=int, default=None, help="next + submit rounds (300)")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument(
        "--ls-batch", type=int, default=20, help="files per Label Studio upload request (20)"
    )
    args = parser.parse_args()
    if not args.loupe_only and not (args.ls_url and args.ls_token):
        parser.error("give --ls-url and --ls-token of a running Label Studio, or --loupe-only")
    count = args.files or (200 if args.quick else 1_000)
    boxes = args.boxes or (2_000 if args.quick else 10_000)
    rounds = args.rounds or (100 if args.quick else 300)
    if rounds + 20 > count:
        parser.error("--rounds + 20 must not pass --files: each round labels an uploaded file")
    files = upload_bench.make_jpegs(
        Path(tempfile.gettempdir()) / f"loupe-bench-jpegs-{count}", count
    )
    print(f"{count:,} JPEGs, {boxes:,} images of box labels, {rounds} labels; {args.runs} runs")
    results: dict[str, list[dict[str, Any]]] = {"loupe": [], "label_studio": []}
    for run in range(args.runs):
        order = ["loupe", "label_studio"] if run % 2 == 0 else ["label_studio", "loupe"]
        for system in order:
            if system == "label_studio" and args.loupe_only:
                continue
            if system == "loupe":
                found = loupe_run(files, count, boxes, rounds)
            else:
                found = studio_run(args, files, count, boxes, rounds)
            results[system].append(found)
            show(f"run {run + 1} {'Loupe' if system == 'loupe' else 'LS'}", found)
    figures: dict[str, float] = {}
    for system, runs in results.items():
        for key in ("upload_files_s", "import_s", "export_s", "next_ms", "submit_ms"):
            if runs:
                values = [r[key] for r in runs]
                figures[f"{system}_{key}"] = round(statistics.median(values), 3)
                spread = f"(min {min(values):.3f}, max {max(values):.3f})"
                print(f"{system:12s} {key:15s} median {statistics.median(values):9.3f} {spread}")
    if results["label_studio"]:
        ratios = {
            "upload": figures["loupe_upload_files_s"] / figures["label_studio_upload_files_s"],
            "import": figures["label_studio_import_s"] / figures["loupe_import_s"],
            "export": figures["label_studio_export_s"] / figures["loupe_export_s"],
            "next": figures["label_studio_next_ms"] / figures["loupe_next_ms"],
            "submit": figures["label_studio_submit_ms"] / figures["loupe_submit_ms"],
        }
        print("Loupe's speed over Label Studio's (medians):")
        for name, ratio in ratios.items():
            print(f"  {name:7s} ×{ratio:.2f}")
            figures[f"ratio_{name}"] = round(ratio, 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
