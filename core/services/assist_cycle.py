"""One ML-assist cycle, the assist worker's stage: featurize → train → validate → cluster →
infer, each recorded as a run. Classification projects (image and text) are handled here; box
and polygon projects in `assist_shapes`.

Pre-labels are written only at a threshold measured on held-out human labels (`calibration`);
a cycle that finds too few labels, or no threshold reaching the target precision, says so in
its run and removes the pre-labels of earlier cycles rather than leave unvouched ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.assist.calibration import Threshold, wilson_lower_bound, wilson_upper_bound
from core.assist.clustering import cluster_within, order_clusters
from core.assist.features import pool_features
from core.assist.heads import HeadResult, best_head, fit_heads, too_few
from core.domain.annotation_json import value_labels
from core.domain.assist import CLUSTERED_TASKS, SHAPE_TASKS, AssistState, is_audit
from core.domain.errors import NotFound
from core.domain.items import Item, ItemState, Prediction
from core.domain.messages import RunAssist
from core.domain.outbound import ASSIST_CYCLE_FINISHED
from core.domain.projects import Project
from core.domain.runs import RunKind
from core.domain.task_types import MediaKind
from core.ports import Deps, Document
from core.services import outbound
from core.services.assist import human_labels, read_state, suggestions_since
from core.services.assist_inputs import Outcome, all_items, featurizer_for, usable
from core.services.assist_shapes import shape_cycle
from core.services.collections import ASSIST, load
from core.services.embeddings import item_features
from core.services.projects import get_project
from core.services.runs import RunLog, Step
from core.services.suggestions import Suggestion, write_suggestions

PAGE_CONFIDENCE = 0.5
"""Below this, the head's guess is no better than a coin: clustering such items by it makes
mixed pages, so they wait in the plain queue instead."""
MIN_LABELS = 20
"""Below this, five folds of held-out labels say nothing about precision."""


def run_assist(deps: Deps, *, message: RunAssist) -> None:
    try:
        project = get_project(deps, project_id=message.project_id).value
    except NotFound:
        return
    state = read_state(deps, project.id)
    if state.last_cycle == message.cycle:
        return  # finished already: a repeated delivery
    runs = RunLog(deps, project.id, message.cycle)
    if project.task_type in SHAPE_TASKS:
        outcome = shape_cycle(deps, project, runs, state)
    else:
        outcome = _classification_cycle(deps, project, runs, state)
    _finish(deps, project.id, message.cycle, outcome)


def live_threshold(deps: Deps, project: Project, state: AssistState, step: Step) -> float:
    """A floor for the next threshold from how the last cycle's pre-labels fared with labelers:
    when even the upper bound of their live precision is below the target, ask for more
    confidence than before (a point estimate would overreact to a few corrections)."""
    suggested, confirmed = suggestions_since(deps, state)
    if suggested:
        step.metrics["livePrecision"] = confirmed / suggested
        step.metrics["liveSamples"] = suggested
    target = project.assist.target_precision
    if state.threshold is None or wilson_upper_bound(confirmed, suggested) >= target:
        return 0.0
    floor = state.threshold + (1.0 - state.threshold) / 2
    step.message = (
        f"labelers confirmed {confirmed} of {suggested} pre-labels "
        f"({confirmed / suggested:.1%}), surely below the target: the threshold stays above "
        f"{floor:.3f}"
    )
    return floor


@dataclass(frozen=True)
class _Pool:
    """The items a cycle works on, by slot (their row in `features`)."""

    items: list[Item]
    documents: list[Document]
    rows: list[int]
    """Slot → row of `items`: the usable ones (no DICOM, no errors, renditions made)."""

    def item(self, slot: int) -> Item:
        return self.items[self.rows[slot]]

    def slots(self, keep: Callable[[Item], bool]) -> list[int]:
        return [slot for slot, row in enumerate(self.rows) if keep(self.items[row])]


def _classification_cycle(
    deps: Deps, project: Project, runs: RunLog, state: AssistState
) -> Outcome:
    documents = all_items(deps, project.id)
    items = [load(Item, d) for d in documents]
    media = project.task_type.media
    pool = _Pool(items, documents, [r for r, item in enumerate(items) if usable(item, media)])
    with runs.step(RunKind.FEATURIZE) as step:
        featurizer = featurizer_for(deps, project)
        found = item_features(
            deps, [pool.item(s) for s in range(len(pool.rows))], featurizer, project_id=project.id
        )
        step.metrics = {
            "items": len(pool.rows),
            "computed": found.computed,
            "cached": len(pool.rows) - found.computed,
            "itemsPerSecond": found.computed / found.seconds if found.seconds else 0.0,
        }
        step.message = _left_out(items, pool.rows, media)
    features = pool_features(found.embeddings, found.pixels)
    first = state.last_cycle is None
    names = [label.name for label in project.label_classes]
    labeled = pool.slots(lambda i: i.state is ItemState.LABELED and _known(i, names))
    targets = [_targets(pool.item(s), names) for s in labeled]
    calibrating = [n for n, s in enumerate(labeled) if first or pool.item(s).audit]
    head = _train(runs, project, features, labeled, targets, names, calibrating)
    threshold = None
    if head is not None:
        with runs.step(RunKind.VALIDATE) as step:
            threshold = _validate(head, targets, names, project.assist.target_precision, step)
            floor = live_threshold(deps, project, state, step)
            if threshold is not None and floor > threshold:
                threshold = step.metrics["threshold"] = floor
    waiting = pool.slots(lambda i: i.state is ItemState.UNLABELED and not i.annotations)
    sample = [s for s in waiting if is_audit(pool.item(s).id)]
    unlabeled = [s for s in waiting if not is_audit(pool.item(s).id)]
    confidence = head.pool.confidence if head else np.zeros(len(pool.rows))
    suggested = {s for s in unlabeled if threshold is not None and confidence[s] >= threshold}
    clusters: dict[int, str] = {}
    if project.task_type in CLUSTERED_TASKS:
        with runs.step(RunKind.CLUSTER) as step:
            guesses = head.pool.labels if head else None
            # Pages share a guess; items the head can hardly guess are labeled one at a time.
            rest = [
                s
                for s in unlabeled
                if s not in suggested and (head is None or confidence[s] >= PAGE_CONFIDENCE)
            ]
            clusters = _clusters(features, rest, guesses, pool, confidence, project)
            step.metrics = {"items": len(clusters), "clusters": len(set(clusters.values()))}
    with runs.step(RunKind.INFER) as step:
        changes = {}
        for slot in unlabeled:
            prediction = None
            if head is not None and slot in suggested:
                prediction = Prediction(
                    value=_value(project, head.pool.labels[slot]),
                    confidence=float(confidence[slot]),
                    run=runs.run_id(RunKind.INFER),
                )
            active = head is not None and project.assist.active_learning
            rank = float(min(confidence[slot], 0.999999)) if active else None
            changes[pool.rows[slot]] = Suggestion(prediction, clusters.get(slot), rank)
        # The random sample: its own items, and on the first cycle every label made before
        # it (they came in plain random queue order).
        for slot in sample + (labeled if first else []):
            changes[pool.rows[slot]] = Suggestion(None, None, audit=True)
        write_suggestions(deps, items, documents, changes)
        coverage = len(suggested) / len(unlabeled) if unlabeled else 0.0
        step.metrics = {
            "unlabeled": len(unlabeled),
            "randomSample": len(sample),
            "prelabeled": len(suggested),
            "coverage": coverage,
        }
        if threshold is None:
            step.message = "no pre-labels: " + (
                "no threshold reached the target precision" if head else "no model yet"
            )
    return Outcome(human_labels(deps, project.id), threshold, coverage, len(suggested))


def _train(
    runs: RunLog,
    project: Project,
    features: npt.NDArray[np.float64],
    labeled: list[int],
    targets: list[tuple[str, ...]],
    names: list[str],
    sample: list[int],
) -> HeadResult | None:
    """The best head on every label, its threshold set by the labels at positions `sample`
    (the random sample's)."""
    with runs.step(RunKind.TRAIN) as step:
        step.metrics = {"labels": len(labeled), "calibrationLabels": len(sample)}
        if reason := too_few(targets, minimum=MIN_LABELS):
            step.message = f"not trained: {reason}"
            return None
        results = fit_heads(
            features,
            np.array(labeled, dtype=np.int64),
            targets,
            names,
            multi_label=project.task_type.is_multilabel,
            target_precision=project.assist.target_precision,
            calibration=sample,
        )
        head = best_head(results)
        for result in results:  # what each candidate would have given, for comparison
            step.metrics[f"heldOutAccuracy.{result.method}"] = result.accuracy
            coverage = result.threshold.coverage if result.threshold else 0.0
            step.metrics[f"heldOutCoverage.{result.method}"] = coverage
        step.metrics["heldOutAccuracy"] = head.accuracy
        step.message = (
            f"{head.method} head chosen (the larger calibrated coverage); {len(sample)} of "
            f"{len(labeled)} labels are from the random sample that sets its threshold"
        )
        return head


def _known(item: Item, names: list[str]) -> bool:
    return bool(set(value_labels(item.final)) & set(names))


def _targets(item: Item, names: list[str]) -> tuple[str, ...]:
    return tuple(label for label in value_labels(item.final) if label in names)


def _validate(
    head: HeadResult,
    targets: list[tuple[str, ...]],
    names: list[str],
    target: float,
    step: Step,
) -> float | None:
    found: Threshold | None = head.threshold
    held = head.held_out
    step.metrics["targetPrecision"] = target
    step.metrics["heldOut"] = len(held.labels)
    if found is None:
        hits = np.cumsum(head.correct[np.argsort(-held.confidence, kind="stable")])
        best = max(
            (wilson_lower_bound(int(k), n) for n, k in enumerate(hits, start=1)), default=0.0
        )
        step.message = (
            f"no threshold reaches {target:.0%} precision on {len(held.labels)} held-out labels "
            f"(the best lower bound is {best:.1%}): no pre-labels until more labels come in"
        )
        return None
    step.metrics.update(
        threshold=found.confidence,
        heldOutPrecision=found.precision,
        lowerBound=found.lower_bound,
        heldOutCoverage=found.coverage,
        support=found.support,
    )
    emitted = held.confidence >= found.confidence
    for name in names:
        truly = np.array([name in labels for labels in targets], dtype=bool)
        said = np.array([name in labels for labels in held.labels], dtype=bool) & emitted
        if truly.any() or said.any():
            step.per_class[name] = {
                "heldOut": int(truly.sum()),
                "coverage": float((said & truly).sum() / truly.sum()) if truly.any() else 0.0,
                "precision": float((said & head.correct).sum() / said.sum()) if said.any() else 1.0,
            }
    return found.confidence


def _clusters(
    features: npt.NDArray[np.float64],
    slots: list[int],
    guesses: list[tuple[str, ...]] | None,
    pool: _Pool,
    confidence: npt.NDArray[np.float64],
    project: Project,
) -> dict[int, str]:
    """Cluster ids for `slots`, within the head's guessed class when there is a head."""
    if not slots:
        return {}
    groups = [",".join(guesses[slot]) if guesses else "" for slot in slots]
    assignment = cluster_within(features[slots], groups)
    active = guesses is not None and project.assist.active_learning
    priority = np.array([confidence[s] if active else pool.item(s).rank for s in slots])
    names = order_clusters(assignment, priority)
    return {slot: names[int(c)] for slot, c in zip(slots, assignment, strict=True)}


def _value(project: Project, labels: tuple[str, ...]) -> dict[str, object]:
    if project.task_type.is_multilabel:
        return {"labels": sorted(labels)}
    return {"label": labels[0]}


def _left_out(items: list[Item], pool: list[int], media: MediaKind) -> str | None:
    dicom = sum(1 for item in items if item.dicom is not None)
    waiting = sum(
        1
        for item in items
        if media is MediaKind.IMAGE
        and item.dicom is None
        and item.derivatives is None
        and item.state is not ItemState.ERROR
    )
    parts = []
    if dicom:
        parts.append(f"{dicom} DICOM item(s) are left out of ML assist")
    if waiting:
        parts.append(f"{waiting} image(s) wait for their thumbnails (next cycle)")
    return "; ".join(parts) or None


def _finish(deps: Deps, project_id: str, cycle: str, outcome: Outcome) -> None:
    container = deps.documents.container(ASSIST)
    state = read_state(deps, project_id)
    suggested, confirmed = suggestions_since(deps, state)
    done = state.model_copy(
        update={
            "pending": None if state.pending == cycle else state.pending,
            "pending_since": None if state.pending == cycle else state.pending_since,
            "last_cycle": cycle,
            "trained_at_labels": outcome.labels,
            "threshold": outcome.threshold,
            "coverage": outcome.coverage,
            "prelabeled": outcome.prelabeled,
            "suggested_before": state.suggested_before + suggested,
            "confirmed_before": state.confirmed_before + confirmed,
        }
    )
    container.upsert(done.to_doc())
    outbound.publish(
        deps,
        type=ASSIST_CYCLE_FINISHED,
        project_id=project_id,
        subject=cycle,
        data={
            "cycle": cycle,
            "threshold": outcome.threshold,
            "coverage": outcome.coverage,
            "prelabeled": outcome.prelabeled,
        },
    )
