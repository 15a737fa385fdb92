"""ML-assist benchmark for shape projects: polygons, instance masks and semantic masks, through
the real services on in-memory adapters with the default image backbone.

For each arm (`polygon`, `instance`, `semantic`) and each seed, a project is created, `--images`
generated scenes (squares, discs and triangles on textured noise, with distractors:
`tests/unit/assist/scenes.py`, drawn from the seed) are uploaded, a simulated labeler answers
`--labels` tasks in queue order with the true shapes, one cycle runs on the `assist-train`
queue, and the bench measures on the images still waiting:

- *precision*: the share of pre-labeled shapes that are right (polygon or mask IoU ≥ 0.5 with an
  unmatched true shape of their class; semantic: a class region with IoU ≥ 0.5 with the true
  region of its class), the figure the threshold promises at the target;
- *coverage*: the share of waiting images that got a pre-label, and *recall*: the share of their
  true shapes (semantic: class regions) a right pre-label found;
- the held-out figures the cycle's validate run recorded, and the cycle's wall time.

    python bench/assist_shapes.py                     # 3 seeds, 60 images, 40 labels, target 0.9
    python bench/assist_shapes.py --arms semantic --seeds 5 --labels 60 --target 0.8
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.assist.masks import MaskSuggestion, grid_iou, match_masks  # noqa: E402
from core.assist.polygons import PolygonSuggestion, match_polygons  # noqa: E402
from core.domain.items import Item, ItemState  # noqa: E402
from core.domain.messages import ASSIST_TRAIN  # noqa: E402
from core.domain.runs import RunKind  # noqa: E402
from core.export.mask_pixels import to_grid  # noqa: E402
from core.ports import CountingIds  # noqa: E402
from core.services.assist import assist_status, request_training  # noqa: E402
from tests.assist.conftest import OWNER, create, items, label, upload  # noqa: E402
from tests.support.assist import drain  # noqa: E402
from tests.support.deps import memory_deps  # noqa: E402
from tests.unit.assist.scenes import CLASSES, Scene, scenes  # noqa: E402

TASK_TYPES = {
    "polygon": "image_polygon",
    "instance": "image_instance_segmentation",
    "semantic": "image_semantic_segmentation",
}

Answer = Callable[[Item], dict[str, object]]


def answers(arm: str, truth: dict[str, Scene]) -> Answer:
    """The labeler's true answer for an item, as the arm's task type takes it."""
    if arm == "polygon":
        return lambda item: {
            "polygons": [
                {"label": name, "points": [list(p) for p in ring]}
                for name, ring in truth[item.id].outlined().polygons
            ]
        }
    semantic = arm == "semantic"
    return lambda item: {"masks": [m.to_json() for m in truth[item.id].masks(semantic=semantic)]}


def judged(arm: str, value: dict[str, Any], scene: Scene) -> tuple[int, int, int]:
    """Right pre-labeled shapes, pre-labeled shapes and true shapes of one waiting image."""
    if arm == "polygon":
        outlines = [
            PolygonSuggestion(p["label"], tuple(map(tuple, p["points"])), 1.0)
            for p in value["polygons"]
        ]
        hits = match_polygons(outlines, scene.outlined().polygons)
        return sum(hits), len(hits), len(scene.shapes)
    semantic = arm == "semantic"
    truth = [(m.label, to_grid(m.to_json())) for m in scene.masks(semantic=semantic)]
    found = [MaskSuggestion(m["label"], to_grid(m), 1.0) for m in value["masks"]]
    if semantic:
        human = dict(truth)
        right = sum(f.label in human and grid_iou(f.grid, human[f.label]) >= 0.5 for f in found)
        return right, len(found), len(truth)
    hits = match_masks(found, truth)
    return sum(hits), len(hits), len(truth)


def one_run(arm: str, seed: int, images: int, labels: int, target: float) -> dict[str, float]:
    deps = memory_deps(ids=CountingIds())
    try:
        project_id = create(deps, TASK_TYPES[arm], CLASSES, targetPrecision=target, trainAfter=10)
        made = scenes(images, seed=seed)
        files = []
        for n, scene in enumerate(made):
            buffer = io.BytesIO()
            scene.image.save(buffer, "PNG")
            files.append((f"s/{n:03d}.png", buffer.getvalue()))
        ids = upload(deps, project_id, files)
        truth = {ids[f"s/{n:03d}.png"]: scene for n, scene in enumerate(made)}
        label(deps, project_id, labels, answers(arm, truth))
        started = time.perf_counter()
        request_training(deps, project_id=project_id, actor=OWNER)
        drain(deps, ASSIST_TRAIN)
        wall = time.perf_counter() - started
        status = assist_status(deps, project_id=project_id, actor=OWNER)
        validate = next(r for r in status.runs if r.kind is RunKind.VALIDATE).metrics
        right = shown = true = prelabeled = waiting = 0
        for item in items(deps, project_id):
            if item.state is not ItemState.UNLABELED or item.audit:
                continue
            waiting += 1
            if item.prediction is None:
                true += judged(arm, {"polygons": [], "masks": []}, truth[item.id])[2]
                continue
            prelabeled += 1
            r, s, t = judged(arm, item.to_doc()["prediction"]["value"], truth[item.id])
            right, shown, true = right + r, shown + s, true + t
        return {
            "precision": right / shown if shown else float("nan"),
            "coverage": prelabeled / waiting if waiting else 0.0,
            "recall": right / true if true else 0.0,
            "shapes": float(shown),
            "heldOutPrecision": float(validate.get("heldOutPrecision", float("nan"))),
            "lowerBound": float(validate.get("lowerBound", float("nan"))),
            "threshold": float(validate.get("threshold", float("nan"))),
            "wall": wall,
        }
    finally:
        deps.close()


def summary(rows: list[dict[str, float]], key: str) -> str:
    values = [r[key] for r in rows if r[key] == r[key]]  # NaN: no pre-labels
    if not values:
        return "—"
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {spread:.3f} (min {min(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arms", default="polygon,instance,semantic")
    parser.add_argument("--seeds", type=int, default=3, help="runs per arm (seeds 1, 2, …)")
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--labels", type=int, default=40, help="images labeled before the cycle")
    parser.add_argument("--target", type=float, default=0.9)
    args = parser.parse_args()
    print(
        f"shape assist benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {args.images} scenes, "
        f"{args.labels} labeled, target {args.target}, seeds 1…{args.seeds}, load "
        f"{os.getloadavg()[0]:.1f}"
    )
    for arm in args.arms.split(","):
        rows = []
        for seed in range(1, args.seeds + 1):
            row = one_run(arm, seed, args.images, args.labels, args.target)
            rows.append(row)
            print(
                f"  {arm} seed {seed}: precision {row['precision']:.3f} of {row['shapes']:.0f}, "
                f"coverage {row['coverage']:.3f}, recall {row['recall']:.3f}, held-out "
                f"{row['heldOutPrecision']:.3f} (bound {row['lowerBound']:.3f}, threshold "
                f"{row['threshold']:.3f}), cycle {row['wall']:.1f} s"
            )
        print(f"{arm}: precision {summary(rows, 'precision')}")
        print(f"{' ' * len(arm)}  coverage {summary(rows, 'coverage')}")
        print(f"{' ' * len(arm)}  recall {summary(rows, 'recall')}")
        unsafe = sum(
            1 for r in rows if r["precision"] == r["precision"] and r["precision"] < args.target
        )
        print(f"{' ' * len(arm)}  runs below target: {unsafe} of {len(rows)}")


if __name__ == "__main__":
    main()
