"""ML-assist benchmark: MNIST digits through the real services on the embedded adapters
(SQLite documents and queue, folder blobs in a temporary folder).

Two projects, active learning off and on. Each uploads the digits (ingestion and renditions
stages), then a simulated labeler takes tasks in queue order and answers with the true label:
after a cycle the queue serves pre-labeled items first, which the labeler confirms or corrects,
as in the product. At each checkpoint of human labels (100, 200, 300, 500; --quick: 100, 200,
300 on 1,000 digits) a cycle is requested and its `assist-train` message handled, and the bench
prints: the head's held-out accuracy (train run) and its accuracy on every remaining unlabeled
item, the threshold, coverage of the remaining items by pre-labels and their precision (both vs
the truth, overall and per class), and the purity of the clustered lane's pages of 9 (taken
with `next_task(size=9)` by other members without answering, then released).

Featurization: `Featurizer.embed_images` (pipelined) on the thumbnails beside a bare loop on
the same session and batch size (`preprocess` then `session.run`, one batch after the other),
in alternating rounds (the cores may be shared), and the featurize run's own items/s (blob
reads, pixel features and shard writes included).

Each arm has its own data folder and the same project id (`--seed`), hence the same item ids
and queue order: both arms start from the same first labels, and the second arm's featurize
step reads embedding shards copied from the first arm's cache (same images, same backbone;
on two CPU cores the backbone runs at ~15 images/s, and featurizing the same digits twice
would only measure the same thing again).

Goals: after <= 300 human labels, pre-labels at >= 95 % precision cover >= 50 % of the
remaining items; clustering puts >= 70 % of each page in one true class; pipelined
featurization >= 0.9 of bare onnxruntime. The last line is one JSON object of all figures.

    python bench/assist.py            # 5,000 digits, checkpoints 100/200/300/500
    python bench/assist.py --quick    # 1,000 digits, checkpoints 100/200/300
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
import types
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.adapters.clock import SystemClock  # noqa: E402
from core.adapters.local.blobs import FolderBlobStore  # noqa: E402
from core.adapters.local.documents import SqliteDocumentStore  # noqa: E402
from core.adapters.local.queue import SqliteWorkQueue  # noqa: E402
from core.domain.items import Item, ItemState  # noqa: E402
from core.domain.messages import ASSIST_TRAIN  # noqa: E402
from core.domain.projects import ProjectSettings, Role  # noqa: E402
from core.domain.runs import RunKind  # noqa: E402
from core.ports import Deps, Query  # noqa: E402
from core.services import assist_cycle, projects, stages  # noqa: E402
from core.services.assist import recent_runs, request_training  # noqa: E402
from core.services.collections import ITEMS, USERS, load, scan  # noqa: E402
from core.services.derivatives import DERIVATIVES  # noqa: E402
from core.services.labeling import submit_annotation  # noqa: E402
from core.services.members import set_member  # noqa: E402
from core.services.projects import create_project, get_project  # noqa: E402
from core.services.tasks import next_task, release_leases  # noqa: E402
from core.services.uploads import upload_file  # noqa: E402
from core.services.users import create_user  # noqa: E402
from tests.support.assist import drain, mnist  # noqa: E402

OWNER, LABELER, PEEKER = "olive", "lee", "peek"
DIGITS = [str(d) for d in range(10)]
PAGE = 9
PURE = 0.7
ROUND_BATCHES = 5
STEPS = (RunKind.FEATURIZE, RunKind.TRAIN, RunKind.VALIDATE, RunKind.CLUSTER, RunKind.INFER)


# Data and deps


def deps_for(work: Path) -> Deps:
    clock = SystemClock()
    return Deps(
        documents=SqliteDocumentStore(work / "documents.sqlite"),
        blobs=FolderBlobStore(work / "blobs"),
        queue=SqliteWorkQueue(work / "queue.sqlite", clock, stages.QUEUE_SPECS),
        clock=clock,
    )


def all_items(deps: Deps, project_id: str) -> list[Item]:
    container = deps.documents.container(ITEMS)
    return [load(Item, d) for d in scan(container, project_id, Query(page_size=1000))]


# What the cycle computed, seen through its own module's names (read-only spies)


@dataclass
class Spy:
    ids: list[str] = field(default_factory=list)
    labels: list[tuple[str, ...]] = field(default_factory=list)
    installed: bool = False

    def install(self) -> None:
        if self.installed:
            return
        features, best = assist_cycle.item_features, assist_cycle.best_head

        def item_features(*args: Any, **kwargs: Any) -> Any:
            with tqdm(total=len(args[1]), desc="featurize run", leave=False) as bar:

                def progress(done: int) -> None:
                    bar.update(done - bar.n)

                found = features(*args, progress=progress, **kwargs)
            self.ids = list(found.ids)
            return found

        def best_head(results: Any) -> Any:
            head = best(results)
            self.labels = list(head.pool.labels)
            return head

        assist_cycle.item_features = item_features  # type: ignore[assignment]
        assist_cycle.best_head = best_head  # type: ignore[assignment]
        self.installed = True

    def reset(self) -> None:
        self.ids, self.labels = [], []


SPY = Spy()


# One project


@dataclass
class Arm:
    name: str
    active: bool
    deps: Deps
    project_id: str = ""
    truth: dict[str, str] = field(default_factory=dict)
    """Item id → true class."""
    suggested: int = 0
    confirmed: int = 0
    labeled: int = 0
    peekers: list[str] = field(default_factory=list)


def make_users(deps: Deps) -> None:
    for name in (OWNER, LABELER):
        create_user(deps, name=name)


def fixed_project_id(deps: Deps, settings: ProjectSettings, seed: int) -> str:
    """Create the project under an id fixed by `seed`: queue ranks follow from item ids, which
    follow from the project id, so both arms (each in its own data folder) get the same queue
    order and the same first labels, and a rerun labels the same items."""
    fixed = types.SimpleNamespace(uuid4=lambda: uuid.UUID(int=seed))
    real, projects.uuid = projects.uuid, fixed  # type: ignore[assignment]
    try:
        return create_project(deps, settings=settings, actor=OWNER).value.id
    finally:
        projects.uuid = real


def setup(arm: Arm, pngs: Sequence[bytes], truth: Sequence[str], seed: int) -> float:
    deps = arm.deps
    settings = ProjectSettings.model_validate(
        {
            "name": f"Digits AL {arm.name}",
            "taskType": "image_multiclass",
            "labelClasses": [{"name": c} for c in DIGITS],
            "assist": {"enabled": True, "activeLearning": arm.active},
        }
    )
    arm.project_id = fixed_project_id(deps, settings, seed)
    drain(deps)
    set_member(deps, project_id=arm.project_id, actor=OWNER, user=LABELER, role=Role.LABELER)
    started = time.perf_counter()
    for n, png in enumerate(tqdm(pngs, desc=f"upload ({arm.name})", leave=False)):
        path = f"digits/{n:05d}.png"
        _, made = upload_file(
            deps, project_id=arm.project_id, path=path, data=io.BytesIO(png), actor=OWNER
        )
        arm.truth[made[0].id] = truth[n]
    drain(deps)  # renditions
    return time.perf_counter() - started


def label(arm: Arm, until: int) -> None:
    """The labeler answers tasks in queue order with the truth until `until` human labels."""
    deps = arm.deps
    with tqdm(total=until - arm.labeled, desc=f"label ({arm.name})", leave=False) as bar:
        while arm.labeled < until:
            task = next_task(deps, project_id=arm.project_id, actor=LABELER)
            if not task.items:
                raise RuntimeError("the queue ran dry")
            for item in task.items:
                answer = arm.truth[item.id]
                if item.prediction is not None:
                    arm.suggested += 1
                    arm.confirmed += item.prediction.value.get("label") == answer
                submit_annotation(
                    deps,
                    project_id=arm.project_id,
                    actor=LABELER,
                    item_id=item.id,
                    value={"label": answer},
                )
                arm.labeled += 1
                bar.update()


def run_cycle(arm: Arm) -> tuple[str, float]:
    SPY.reset()
    started = time.perf_counter()
    cycle = request_training(arm.deps, project_id=arm.project_id, actor=OWNER)
    drain(arm.deps, ASSIST_TRAIN)
    return cycle, time.perf_counter() - started


def peeker(arm: Arm, index: int) -> str:
    while len(arm.peekers) <= index:
        name = f"{PEEKER}-{len(arm.peekers):04d}"
        if arm.deps.documents.container(USERS).get(name, name) is None:
            create_user(arm.deps, name=name)
        set_member(arm.deps, project_id=arm.project_id, actor=OWNER, user=name, role=Role.LABELER)
        arm.peekers.append(name)
    return arm.peekers[index]


def page_purity(arm: Arm, pages: int) -> list[float]:
    """Pages of 9 from the clustered lane as a labeler's grid gets them: other members take
    pages in queue order without answering (skipping past the pre-labeled lane), then give
    every page back."""
    deps, taken, purities = arm.deps, [], []
    try:
        while len(purities) < pages:
            actor = peeker(arm, len(taken))
            task = next_task(deps, project_id=arm.project_id, actor=actor, size=PAGE)
            if not task.items:
                break
            taken.append((actor, [i.id for i in task.items]))
            clustered = [i for i in task.items if i.prediction is None and i.cluster]
            if clustered and len(clustered) == len(task.items):
                classes = Counter(arm.truth[i.id] for i in clustered)
                purities.append(classes.most_common(1)[0][1] / len(clustered))
    finally:
        for actor, ids in taken:
            release_leases(deps, project_id=arm.project_id, actor=actor, item_ids=ids)
    return purities


def measure(arm: Arm, cycle: str, wall: float, pages: int) -> dict[str, Any]:
    deps = arm.deps
    runs = {r.kind: r for r in recent_runs(deps, arm.project_id) if r.cycle == cycle}
    items = all_items(deps, arm.project_id)
    waiting = [i for i in items if i.state is ItemState.UNLABELED and not i.annotations]
    suggested = [i for i in waiting if i.prediction is not None]
    right = sum(
        i.prediction.value.get("label") == arm.truth[i.id] for i in suggested if i.prediction
    )
    guesses = dict(zip(SPY.ids, SPY.labels, strict=False)) if SPY.labels else {}
    head_right = sum(guesses.get(i.id, ("",))[0] == arm.truth[i.id] for i in waiting)
    per_class = {}
    for digit in DIGITS:
        mine = [i for i in waiting if arm.truth[i.id] == digit]
        said = [i for i in mine if i.prediction is not None]
        per_class[digit] = len(said) / len(mine) if mine else 0.0
    train = runs.get(RunKind.TRAIN)
    validate = runs.get(RunKind.VALIDATE)
    featurize = runs.get(RunKind.FEATURIZE)
    purities = page_purity(arm, pages)
    steps = {}
    for kind in STEPS:
        run = runs.get(kind)
        if run is not None and run.started_at and run.finished_at:
            steps[kind.value] = (run.finished_at - run.started_at).total_seconds()
    return {
        "labels": arm.labeled,
        "confirmations": arm.confirmed,
        "suggestedAnswered": arm.suggested,
        "heldOutAccuracy": train.metrics.get("heldOutAccuracy") if train else None,
        "headAccuracy": head_right / len(waiting) if guesses and waiting else None,
        "threshold": validate.metrics.get("threshold") if validate else None,
        "method": (train.message or "").split(" ", 1)[0] if train else None,
        **{
            name: validate.metrics.get(name) if validate else None
            for name in ("heldOut", "heldOutPrecision", "lowerBound", "heldOutCoverage")
        },
        "validateMessage": validate.message if validate else None,
        "remaining": len(waiting),
        "prelabeled": len(suggested),
        "coverage": len(suggested) / len(waiting) if waiting else 0.0,
        "precision": right / len(suggested) if suggested else None,
        "perClassCoverage": per_class,
        "pages": len(purities),
        "purityMean": float(np.mean(purities)) if purities else None,
        "pagesPure": float(np.mean([p >= PURE for p in purities])) if purities else None,
        "purityMin": min(purities) if purities else None,
        "steps": steps,
        "cycleWall": wall,
        "featurizeItemsPerSecond": featurize.metrics.get("itemsPerSecond") if featurize else None,
        "featurizeComputed": featurize.metrics.get("computed") if featurize else None,
    }


def fmt(value: float | None, spec: str = ".3f") -> str:
    return "—" if value is None else format(value, spec)


def show(arm: Arm, row: dict[str, Any]) -> None:
    print(
        f"AL {arm.name:3} {row['labels']:4d} labels "
        f"({row['confirmations']}/{row['suggestedAnswered']} pre-labels confirmed) | "
        f"held-out acc {fmt(row['heldOutAccuracy'])} | head acc on remaining "
        f"{fmt(row['headAccuracy'])} | threshold {fmt(row['threshold'])} | coverage "
        f"{fmt(row['coverage'], '.1%')} ({row['prelabeled']}/{row['remaining']}) at precision "
        f"{fmt(row['precision'], '.2%')}"
    )
    print(
        f"    validate ({row['method']} head): held-out precision "
        f"{fmt(row['heldOutPrecision'], '.2%')} (lower bound {fmt(row['lowerBound'], '.2%')}) "
        f"at held-out coverage {fmt(row['heldOutCoverage'], '.1%')} of {fmt(row['heldOut'], '.0f')}"
    )
    classes = " ".join(f"{d}:{c:.2f}" for d, c in row["perClassCoverage"].items())
    print(f"    per-class coverage {classes}")
    print(
        f"    pages of 9 (clustered lane): {row['pages']}, mean purity "
        f"{fmt(row['purityMean'])}, ≥70 %: {fmt(row['pagesPure'], '.0%')}, "
        f"worst {fmt(row['purityMin'], '.2f')}"
    )
    steps = " ".join(f"{k} {v:.1f}s" for k, v in row["steps"].items())
    extra = ""
    if row["featurizeComputed"]:
        extra = f" (featurized {row['featurizeComputed']:.0f} at "
        extra += f"{row['featurizeItemsPerSecond']:.1f} items/s)"
    print(f"    cycle {row['cycleWall']:.1f}s: {steps}{extra}")
    if row["threshold"] is None and row["validateMessage"]:
        print(f"    validate: {row['validateMessage']}")


def copy_embeddings(source: Arm, target: Arm) -> int:
    """The first arm's cached embedding shards, into the second arm's blob store: same project
    id, same item ids, same images, same backbone."""
    name = assist_cycle.featurizer_for(source.deps, _project(source)).manifest.name
    prefix = f"{source.project_id}/embeddings/{name}/"
    copied = 0
    for blob in source.deps.blobs.list(DERIVATIVES, prefix):
        data = source.deps.blobs.get(DERIVATIVES, blob.name)
        target.deps.blobs.put(DERIVATIVES, blob.name, data)
        with np.load(io.BytesIO(data)) as shard:
            copied += len(shard["ids"])
    return copied


def _project(arm: Arm) -> Any:
    return get_project(arm.deps, project_id=arm.project_id).value


# Featurization: pipelined beside bare onnxruntime


def featurization(arm: Arm, count: int) -> dict[str, float]:
    deps = arm.deps
    featurizer = assist_cycle.featurizer_for(deps, _project(arm))
    items = [i for i in all_items(deps, arm.project_id) if i.derivatives is not None][:count]
    blobs = []
    for item in items:
        assert item.derivatives is not None
        container, name = item.derivatives.thumbnail.split("/", 1)
        blobs.append(deps.blobs.get(container, name))
    size = featurizer.batch_size

    def opened() -> list[Image.Image]:
        return [Image.open(io.BytesIO(b)) for b in blobs]

    featurizer.embed_images(opened()[:size])  # warm-up

    def bare_loop(images: list[Image.Image]) -> None:
        for start in range(0, len(images), size):
            batch = featurizer.preprocess(images[start : start + size])
            featurizer.session.run([featurizer.manifest.output], {featurizer.manifest.input: batch})

    # The cores are shared: the two run in alternating rounds of ROUND_BATCHES batches (each
    # first in every other round), so that load from elsewhere falls on both alike.
    step = ROUND_BATCHES * size
    seconds = {"bare": 0.0, "ours": 0.0}
    ratios = []
    load = os.getloadavg()[0]
    for turn, start in enumerate(tqdm(range(0, len(blobs), step), desc="featurize", leave=False)):
        chunk = blobs[start : start + step]
        took = {}
        for which in ("bare", "ours") if turn % 2 == 0 else ("ours", "bare"):
            images = [Image.open(io.BytesIO(b)) for b in chunk]
            began = time.perf_counter()
            if which == "bare":
                bare_loop(images)
            else:
                featurizer.embed_images(images)
            took[which] = time.perf_counter() - began
            seconds[which] += took[which]
        ratios.append(took["bare"] / took["ours"])
    bare, ours = len(blobs) / seconds["bare"], len(blobs) / seconds["ours"]
    print(
        f"featurization ({featurizer.manifest.name}, {', '.join(featurizer.providers)}, "
        f"batch {size}, {len(blobs):,} thumbnails, {len(ratios)} alternating rounds, load "
        f"average {load:.1f} → {os.getloadavg()[0]:.1f}): embed_images {ours:.1f} images/s, "
        f"bare preprocess + session.run {bare:.1f} images/s, ratio {ours / bare:.3f} "
        f"(median per round {np.median(ratios):.3f})"
    )
    return {
        "featurize_images": len(blobs),
        "featurize_batch": size,
        "embed_images_per_s": round(ours, 2),
        "bare_onnxruntime_images_per_s": round(bare, 2),
        "featurize_ratio": round(ours / bare, 4),
        "featurize_ratio_median_round": round(float(np.median(ratios)), 4),
    }


# Main


def record(figures: dict[str, Any], key: str, row: dict[str, Any]) -> None:
    for name in (
        "heldOutAccuracy", "headAccuracy", "threshold", "coverage", "precision",
        "heldOutPrecision", "lowerBound", "heldOutCoverage", "remaining", "prelabeled",
        "confirmations", "suggestedAnswered", "purityMean", "pagesPure", "purityMin", "pages",
        "cycleWall",
    ):  # fmt: skip
        value = row[name]
        figures[f"{key}_{name}"] = round(value, 4) if value is not None else None
    for step, seconds in row["steps"].items():
        figures[f"{key}_step_{step}_s"] = round(seconds, 3)
    for digit, share in row["perClassCoverage"].items():
        figures[f"{key}_coverage_class_{digit}"] = round(share, 4)
    if row["featurizeComputed"]:
        figures["featurize_run_items_per_s"] = round(row["featurizeItemsPerSecond"], 2)


def verdicts(results: dict[str, list[dict[str, Any]]], figures: dict[str, Any]) -> None:
    for arm, rows in results.items():
        early = [r for r in rows if r["labels"] <= 300]
        good = [r for r in early if (r["precision"] or 0) >= 0.95 and r["coverage"] >= 0.5]
        best = max(early, key=lambda r: r["coverage"] if (r["precision"] or 0) >= 0.95 else -1)
        state = "met" if good else "NOT met"
        first = f" from {good[0]['labels']} labels" if good else ""
        print(
            f"goal (AL {arm}) ≥ 50 % coverage at ≥ 95 % precision after ≤ 300 labels: {state}"
            f"{first}; at {best['labels']}: coverage {best['coverage']:.1%}, precision "
            f"{fmt(best['precision'], '.2%')}"
        )
        unsafe = [r for r in rows if r["precision"] is not None and r["precision"] < 0.95]
        if unsafe:
            shown = ", ".join(f"{r['labels']} labels {r['precision']:.2%}" for r in unsafe)
            print(f"  but (AL {arm}) pre-label precision fell below 95 % at: {shown}")
        figures[f"checkpoints_below_target_precision_al_{arm}"] = len(unsafe)
        last = early[-1]
        pure = last["purityMean"] is not None and last["purityMean"] >= PURE
        print(
            f"goal (AL {arm}) pages ≥ 70 % one class, at {last['labels']} labels: mean purity "
            f"{fmt(last['purityMean'])} ({'met' if pure else 'NOT met'} as a mean); "
            f"{fmt(last['pagesPure'], '.0%')} of {last['pages']} pages reach 70 % "
            f"({'met' if last['pagesPure'] == 1.0 else 'NOT met'} for each page)"
        )
        figures[f"goal_coverage_met_al_{arm}"] = int(bool(good))
        figures[f"goal_purity_mean_met_al_{arm}"] = int(pure)
    ratio = figures["featurize_ratio"]
    print(
        f"goal featurization ≥ 0.9 of bare onnxruntime: {'met' if ratio >= 0.9 else 'NOT met'} "
        f"({figures['embed_images_per_s']:.1f} vs {figures['bare_onnxruntime_images_per_s']:.1f}"
        f" images/s, ratio {ratio:.3f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 digits, 100/200/300 labels")
    parser.add_argument("--seed", type=int, default=1, help="fixes the project id: queue order")
    parser.add_argument("--pages", type=int, default=30, help="clustered pages per checkpoint")
    parser.add_argument(
        "--featurize",
        type=int,
        default=None,
        help="thumbnails for the featurization comparison (default: all; --quick 200)",
    )
    args = parser.parse_args()
    count, checkpoints = (1_000, (100, 200, 300)) if args.quick else (5_000, (100, 200, 300, 500))
    compare = args.featurize or (200 if args.quick else count)
    print(
        f"assist benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, quick={args.quick}: "
        f"{count:,} MNIST digits, embedded adapters (SQLite documents + queue, folder blobs)"
    )
    SPY.install()
    pngs, truth = mnist(count)
    figures: dict[str, Any] = {"digits": count, "seed": args.seed}
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as work:
        arms = []
        for name, active in (("off", False), ("on", True)):
            (Path(work) / name).mkdir()
            arms.append(Arm(name, active, deps_for(Path(work) / name)))
        for arm in arms:
            make_users(arm.deps)
            seconds = setup(arm, pngs, truth, args.seed)
            print(f"AL {arm.name}: uploaded and rendered {count:,} digits in {seconds:.1f} s")
            figures[f"ingest_s_al_{arm.name}"] = round(seconds, 2)
            if arm is arms[1]:
                copied = copy_embeddings(arms[0], arm)
                print(f"AL on: {copied:,} embeddings copied from the AL-off arm's cache")
            rows = results.setdefault(arm.name, [])
            for target in checkpoints:
                label(arm, target)
                cycle, wall = run_cycle(arm)
                row = measure(arm, cycle, wall, args.pages)
                show(arm, row)
                rows.append(row)
                record(figures, f"al_{arm.name}_{target}", row)
        figures |= featurization(arms[0], compare)
        verdicts(results, figures)
        for arm in arms:
            arm.deps.close()
    figures["goal_precision"] = 0.95
    figures["goal_coverage"] = 0.5
    figures["goal_purity"] = PURE
    figures["goal_featurize_ratio"] = 0.9
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
