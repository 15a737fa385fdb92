"""One ML-assist cycle, the assist worker's stage: featurize → train → validate → cluster →
infer, each recorded as a run. Classification projects (image and text) are handled here; box,
polygon and mask projects in `assist_shapes`.

Pre-labels are written only at a threshold measured on held-out human labels (`calibration`);
a cycle that finds too few labels, or no threshold reaching the target precision, says so in
its run and removes the pre-labels of earlier cycles rather than leave unvouched ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.assist.bands import (
    Live,
    audit_band,
    kept,
    live_by_class,
    random_rank,
    random_sample,
)
from core.assist.class_thresholds import ClassThreshold
from core.assist.clustering import cluster_within, order_clusters
from core.assist.features import pool_features
from core.assist.heads import HeadResult, best_head, fit_heads, too_few
from core.domain.annotations import AnnotationValue, MultiLabel, SingleLabel, labels_of
from core.domain.assist import CLUSTERED_TASKS, SHAPE_TASKS, AssistState, unsupported_reason
from core.domain.errors import NotFound
from core.domain.items import Item, ItemState, Prediction
from core.domain.messages import RunAssist
from core.domain.outbound import ASSIST_CYCLE_FINISHED
from core.domain.projects import Project
from core.domain.runs import RunKind
from core.domain.task_types import MediaKind
from core.ports import Deps, Document
from core.services import outbound
from core.services.assist import change_state, human_labels, read_state, suggestions_since
from core.services.assist_inputs import (
    Outcome,
    all_items,
    device_figures,
    featurizer_for,
    usable,
)
from core.services.assist_shapes import shape_cycle
from core.services.embeddings import item_features
from core.services.projects import get_project
from core.services.runs import RunLog, Step
from core.services.suggestions import Suggestion, write_suggestions
from core.store.collections import load

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
    skipped = unsupported_reason(project.task_type)
    if skipped is not None:  # a cycle asked before the task type was known to be unsupported
        outcome = _skipped(deps, project, runs, skipped)
    elif project.task_type in SHAPE_TASKS:
        outcome = shape_cycle(deps, project, runs, state)
    else:
        outcome = _classification_cycle(deps, project, runs, state)
    _finish(deps, project.id, message.cycle, outcome)


def _skipped(deps: Deps, project: Project, runs: RunLog, reason: str) -> Outcome:
    """No model for this task type: the cycle records why in its one run and writes nothing."""
    with runs.step(RunKind.TRAIN) as step:
        step.message = f"skipped: {reason}"
    return Outcome(labels=human_labels(deps, project.id))


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


@dataclass(frozen=True)
class _Guess:
    """What the head makes of the waiting items outside the random sample (`candidates`)."""

    head: HeadResult | None
    candidates: list[int]
    confidence: npt.NDArray[np.float64]
    guesses: list[tuple[str, ...]]
    thresholds: dict[str, float | None]
    keep: set[int]
    """Last cycle's pre-labels kept (the new model agrees, and none was shown to drop)."""
    live: dict[str, Live]
    suggested: set[int]
    band: set[int]
    """The audit band: served without a pre-label, to measure the precision below it."""


def _classification_cycle(
    deps: Deps, project: Project, runs: RunLog, state: AssistState
) -> Outcome:
    documents = all_items(deps, project.id)
    items = [load(Item, d) for d in documents]
    media = project.task_type.media
    pool = _Pool(items, documents, [r for r, item in enumerate(items) if usable(item, media)])
    return _Cycle(deps, project, runs, state, pool).run()


class _Cycle:
    """One classification cycle over `pool`: the slots it learns from (`labeled`) and those
    waiting for a label (`waiting`)."""

    def __init__(
        self, deps: Deps, project: Project, runs: RunLog, state: AssistState, pool: _Pool
    ) -> None:
        self.deps, self.project, self.runs, self.state, self.pool = deps, project, runs, state, pool
        self.names = [label.name for label in project.label_classes]
        self.target = project.assist.target_precision
        self.labeled = pool.slots(lambda i: i.state is ItemState.LABELED and _known(i, self.names))
        self.waiting = pool.slots(lambda i: i.state is ItemState.UNLABELED and not i.annotations)

    def run(self) -> Outcome:
        pool = self.pool
        features = self._featurize()
        head = self._train(features)
        drawn = random_sample([pool.item(s) for s in self.waiting], self.project.assist.train_every)
        sample = {s for s in self.waiting if pool.item(s).id in drawn}
        guess = self._guess(head, [s for s in self.waiting if s not in sample])
        clusters: dict[int, str] = {}
        if self.project.task_type in CLUSTERED_TASKS:
            clusters = self._cluster(features, guess)
        with self.runs.step(RunKind.INFER) as step:
            # The random sample, and on the first cycle every label made before it (they came in
            # plain random queue order).
            audited = [*sample, *(self.labeled if self.state.last_cycle is None else [])]
            changes = self._suggestions(guess, clusters, audited)
            write_suggestions(self.deps, pool.items, pool.documents, changes)
            coverage = _infer_figures(step, self.names, guess, len(self.waiting), len(sample))
        chosen = _chosen(guess, self.state)
        return Outcome(
            human_labels(self.deps, self.project.id),
            min(chosen.values()) if chosen else None,
            coverage,
            len(guess.suggested),
            chosen,
            step.per_class,
        )

    def _featurize(self) -> npt.NDArray[np.float64]:
        pool = self.pool
        with self.runs.step(RunKind.FEATURIZE) as step:
            featurizer = featurizer_for(self.deps, self.project)
            every = [pool.item(s) for s in range(len(pool.rows))]
            found = item_features(self.deps, every, featurizer, project_id=self.project.id)
            step.metrics = {
                "items": len(pool.rows),
                "computed": found.computed,
                "cached": len(pool.rows) - found.computed,
                "itemsPerSecond": found.computed / found.seconds if found.seconds else 0.0,
            }
            device, fallback = device_figures(self.deps, featurizer)
            step.metrics |= device
            left_out = _left_out(pool.items, self.project.task_type.media)
            step.message = "; ".join(m for m in (fallback, left_out) if m)
        return pool_features(found.embeddings, found.pixels, found.shapes)

    def _train(self, features: npt.NDArray[np.float64]) -> HeadResult | None:
        """The best head on every label, its thresholds set for the waiting slots by the labels
        that were fair samples of their band; `vouched`: the slots an earlier cycle pre-labeled."""
        pool, labeled = self.pool, self.labeled
        targets = [_targets(pool.item(s), self.names) for s in labeled]
        fair = [n for n, s in enumerate(labeled) if _fair(pool.item(s))]
        with self.runs.step(RunKind.TRAIN) as step:
            step.metrics = {"labels": len(labeled), "calibrationLabels": len(fair)}
            if reason := too_few(targets, minimum=MIN_LABELS):
                step.message = f"not trained: {reason}"
                return None
            results = fit_heads(
                features,
                np.array(labeled, dtype=np.int64),
                targets,
                self.names,
                multi_label=self.project.task_type.is_multilabel,
                target_precision=self.target,
                waiting=self.waiting,
                calibration=fair,
                vouched=[_vouched(pool.item(s)) for s in range(len(pool.rows))],
            )
            head = best_head(results)
            for result in results:  # what each candidate would have given, for comparison
                step.metrics[f"heldOutAccuracy.{result.method}"] = result.accuracy
                step.metrics[f"coverage.{result.method}"] = result.coverage
            step.metrics["heldOutAccuracy"] = head.accuracy
            step.message = (
                f"{head.method} head chosen (the larger coverage at per-class thresholds); "
                f"{len(fair)} of the {len(labeled)} labels were fair samples of their band and "
                "set the thresholds"
            )
            return head

    def _guess(self, head: HeadResult | None, candidates: list[int]) -> _Guess:
        thresholds: dict[str, float | None] = dict.fromkeys(self.names)
        keep: set[int] = set()
        live: dict[str, Live] = {}
        if head is not None:
            with self.runs.step(RunKind.VALIDATE) as step:
                labeled = [self.pool.item(s) for s in self.labeled]
                live = live_by_class(labeled, _infer_run(self.state))
                thresholds = self._validate(head, live, step)
                keep = self._keep(step, head, candidates, thresholds, live)
        confidence = head.pool.confidence if head else np.zeros(len(self.pool.rows))
        guesses: list[tuple[str, ...]] = head.pool.labels if head else [()] * len(self.pool.rows)
        suggested = {
            s
            for s in candidates
            if s in keep or _emits(guesses[s], float(confidence[s]), thresholds)
        }
        unsuggested = [s for s in candidates if s not in suggested]
        band = (
            audit_band(unsuggested, guesses, confidence, thresholds, self._rank) if head else set()
        )
        return _Guess(
            head, candidates, confidence, guesses, thresholds, keep, live, suggested, band
        )

    def _rank(self, slot: int) -> float:
        return random_rank(self.pool.item(slot))

    def _validate(
        self, head: HeadResult, live: dict[str, Live], step: Step
    ) -> dict[str, float | None]:
        """Each class's threshold, with why a class has none, and a class whose last pre-labels
        labelers surely found below the target asked for more confidence than before."""
        decision = head.decision
        step.metrics.update(
            targetPrecision=self.target,
            heldOut=len(head.held_out.labels),
            pooledPrecision=decision.pooled_precision,
            pooledLowerBound=decision.pooled_lower_bound,
            pooledSupport=decision.pooled_support,
            classesWithThreshold=sum(1 for c in decision.classes if c.threshold is not None),
        )
        thresholds: dict[str, float | None] = {}
        notes = []
        for found in decision.classes:
            step.per_class[found.name] = {
                "threshold": -1.0 if found.threshold is None else found.threshold,
                "heldOutPrecision": found.precision,
                "lowerBound": found.lower_bound,
                "support": found.support,
                "answers": float(found.answers),
                "answersRight": float(found.right),
            }
            if found.reason:
                notes.append(f"{found.name}: {found.reason}")
            figures = live.get(found.name)
            thresholds[found.name], note = _after_live(found, figures, self.target, self.state)
            notes += [note] if note else []
        chosen = [t for t in thresholds.values() if t is not None]
        if chosen:
            step.metrics["threshold"] = min(chosen)
        step.message = "; ".join(notes) or None
        return thresholds

    def _keep(
        self,
        step: Step,
        head: HeadResult,
        candidates: list[int],
        thresholds: dict[str, float | None],
        live: dict[str, Live],
    ) -> set[int]:
        """The last cycle's pre-labels that the new model agrees with, of classes whose
        labelers confirmed at least the target of them so far, also where this cycle's threshold
        is higher or none: a new fit that happens to be less sure is no measured reason to
        withdraw them."""
        standing = {n for n in self.names if n in self.state.class_thresholds}
        standing -= {n for n, f in live.items() if f.below(self.target)}
        labels, confidence = head.pool.labels, head.pool.confidence
        keep = {
            slot
            for slot in kept(candidates, self.pool.item, labels, _infer_run(self.state), standing)
            if not _emits(labels[slot], float(confidence[slot]), thresholds)
        }
        for name in sorted(_kept_classes(keep, labels)):
            count = sum(1 for slot in keep if name in labels[slot])
            _say(
                step,
                f"{name}: kept {count} pre-label(s) of the last cycle that the new model "
                "agrees with, below this cycle's threshold or without one (labelers confirmed "
                "at least the target of them)",
            )
        return keep

    def _cluster(self, features: npt.NDArray[np.float64], guess: _Guess) -> dict[int, str]:
        """Cluster ids of the waiting items served without a pre-label or audit mark, within
        the head's guessed class when there is a head."""
        with self.runs.step(RunKind.CLUSTER) as step:
            unsuggested = [
                s for s in guess.candidates if s not in guess.suggested and s not in guess.band
            ]
            # Pages share a guess; items the head can hardly guess are labeled one at a time.
            head = guess.head
            slots = [
                s for s in unsuggested if head is None or guess.confidence[s] >= PAGE_CONFIDENCE
            ]
            clusters: dict[int, str] = {}
            if slots:
                groups = [",".join(guess.guesses[s]) if head else "" for s in slots]
                assignment = cluster_within(features[slots], groups)
                active = head is not None and self.project.assist.active_learning
                priority = [
                    guess.confidence[s] if active else self.pool.item(s).rank for s in slots
                ]
                names = order_clusters(assignment, np.array(priority))
                clusters = {s: names[int(c)] for s, c in zip(slots, assignment, strict=True)}
            step.metrics = {"items": len(clusters), "clusters": len(set(clusters.values()))}
        return clusters

    def _suggestions(
        self, guess: _Guess, clusters: dict[int, str], audited: list[int]
    ) -> dict[int, Suggestion]:
        """Each candidate's pre-label (or none), cluster and queue rank, by row; the `audited`
        slots marked as random samples."""
        pool = self.pool
        changes = {}
        active = guess.head is not None and self.project.assist.active_learning
        for slot in guess.candidates:
            prediction = None
            if guess.head is not None and slot in guess.suggested:
                prediction = Prediction(
                    value=_value(self.project, guess.guesses[slot]),
                    confidence=float(guess.confidence[slot]),
                    run=self.runs.run_id(RunKind.INFER),
                )
            # Pre-labels and the audit band in random order (a fair sample of their band);
            # the rest by confidence under active learning.
            served = slot in guess.suggested or slot in guess.band
            rank = self._rank(slot)
            if active and not served:
                rank = float(min(guess.confidence[slot], 0.999999))
            changes[pool.rows[slot]] = Suggestion(
                prediction, clusters.get(slot), rank, audit=slot in guess.band
            )
        for slot in audited:
            changes[pool.rows[slot]] = Suggestion(
                None, None, random_rank(pool.item(slot)), audit=True
            )
        return changes


def _infer_figures(step: Step, names: list[str], guess: _Guess, waiting: int, sample: int) -> float:
    """The infer run's figures; returns the coverage."""
    coverage = len(guess.suggested) / waiting if waiting else 0.0
    step.metrics = {
        "unlabeled": waiting,
        "randomSample": sample,
        "auditBand": len(guess.band),
        "prelabeled": len(guess.suggested),
        "kept": len(guess.keep),
        "coverage": coverage,
    }
    step.per_class = _per_class(names, guess)
    if not guess.suggested:
        step.message = "no pre-labels: " + (
            "no class reached the target precision" if guess.head else "no model yet"
        )
    return coverage


def _per_class(names: list[str], guess: _Guess) -> dict[str, dict[str, float]]:
    """What each class got: its threshold (-1: none), the waiting items guessed as it, how many
    of them are pre-labeled (coverage; kept: of the last cycle's, below this cycle's
    threshold) or in the audit band, and the live answers to the last cycle's pre-labels of
    it."""
    figures = {}
    for name in names:
        mine = [s for s in guess.candidates if name in guess.guesses[s]]
        said = sum(1 for s in mine if s in guess.suggested)
        found = guess.live.get(name, Live())
        threshold = guess.thresholds[name]
        figures[name] = {
            "threshold": -1.0 if threshold is None else float(threshold),
            "guessed": float(len(mine)),
            "prelabeled": float(said),
            "coverage": said / len(mine) if mine else 0.0,
            "kept": float(sum(1 for s in mine if s in guess.keep)),
            "auditBand": float(sum(1 for s in mine if s in guess.band)),
            "liveAnswered": float(found.answered),
            "liveConfirmed": float(found.confirmed),
        }
    return figures


def _chosen(guess: _Guess, state: AssistState) -> dict[str, float]:
    """The thresholds in force: this cycle's, and the last one's of classes it kept."""
    chosen = {n: t for n, t in guess.thresholds.items() if t is not None}
    chosen |= {
        n: state.class_thresholds[n]
        for n in _kept_classes(guess.keep, guess.guesses)
        if n in state.class_thresholds and n not in chosen
    }
    return chosen


def _vouched(item: Item) -> bool:
    """An earlier cycle pre-labeled it (a labeled item keeps the pre-label it was answered on)."""
    return item.prediction is not None and item.prediction.run is not None


def _fair(item: Item) -> bool:
    """Whether a label was a fair sample of some band: answered in random order (a pre-label,
    the random sample, an audit band, the plain queue), not page by page from a cluster of
    near-duplicates. A page's held-out answers flatter the model (each one's neighbours trained
    it), and, held out a cluster at a time, they still count as many samples where a page is
    mostly all right or all wrong: on bench/assist.py's hard set that narrowed the bounds until
    12 of 20 runs were unsafe, against 7."""
    return item.prediction is not None or item.audit or item.cluster is None


def _infer_run(state: AssistState) -> str | None:
    return f"{state.last_cycle}-{RunKind.INFER.value}" if state.last_cycle else None


def _emits(guess: tuple[str, ...], confidence: float, thresholds: dict[str, float | None]) -> bool:
    limits = [thresholds.get(name) for name in guess]
    return bool(limits) and all(t is not None and confidence >= t for t in limits)


def _kept_classes(keep: set[int], guesses: list[tuple[str, ...]]) -> set[str]:
    return {name for slot in keep for name in guesses[slot]}


def _say(step: Step, text: str) -> None:
    step.message = f"{step.message}; {text}" if step.message else text


def _known(item: Item, names: list[str]) -> bool:
    return bool(set(labels_of(item.final)) & set(names))


def _targets(item: Item, names: list[str]) -> tuple[str, ...]:
    return tuple(label for label in labels_of(item.final) if label in names)


def _after_live(
    found: ClassThreshold, figures: Live | None, target: float, state: AssistState
) -> tuple[float | None, str | None]:
    """A class's threshold once labelers' answers to its last pre-labels are heard: when they
    surely fell below the target, withdrawn, or held above halfway from the last one to 1."""
    if figures is None or not figures.dropped(target):
        return found.threshold, None
    said = (
        f"{found.name}: labelers confirmed {figures.confirmed} of {figures.answered} of its "
        "pre-labels, surely below the target"
    )
    if found.threshold is None:
        return None, f"{said}: withdrawn"
    previous = state.class_thresholds.get(found.name, found.threshold)
    floor = previous + (1.0 - previous) / 2
    return max(found.threshold, floor), f"{said}: its threshold stays above {floor:.3f}"


def _value(project: Project, labels: tuple[str, ...]) -> AnnotationValue:
    if project.task_type.is_multilabel:
        return MultiLabel(tuple(sorted(labels)))
    return SingleLabel(labels[0])


def _left_out(items: list[Item], media: MediaKind) -> str | None:
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
    def finished(state: AssistState) -> AssistState:
        suggested, confirmed = suggestions_since(deps, state)
        return state.model_copy(
            update={
                "pending": None if state.pending == cycle else state.pending,
                "pending_since": None if state.pending == cycle else state.pending_since,
                "last_cycle": cycle,
                "trained_at_labels": outcome.labels,
                "threshold": outcome.threshold,
                "class_thresholds": outcome.class_thresholds,
                "coverage": outcome.coverage,
                "prelabeled": outcome.prelabeled,
                "suggested_before": state.suggested_before + suggested,
                "confirmed_before": state.confirmed_before + confirmed,
            }
        )

    change_state(deps, project_id, finished)
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
            "classes": outcome.per_class,
        },
    )
