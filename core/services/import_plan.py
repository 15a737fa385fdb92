"""Checking an import before anything is written: every record read, matched to an item by its
path, and its value validated for the project's task type and classes (the labeling rules);
every problem collected with where it is in the file. What comes out is a compact plan, each
item's normalized value as JSON, which `core.services.imports` applies; or `InvalidImport`.

Paths the project has no item for are reported and skipped, not refused: a file often covers
more than the project (a COCO file of a whole dataset, a project of part of it). A file none of
whose paths match is refused, as that is a wrong path prefix far more often than a choice."""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from core.domain.annotation_json import stored_labels
from core.domain.errors import InvalidAnnotation, InvalidImport, Violation
from core.domain.items import Item, item_id
from core.domain.json_text import compact_json
from core.domain.labels import label_names
from core.domain.projects import Project
from core.export import mask_pixels
from core.export.records import Imported, Problem
from core.ports import Deps, Document
from core.services.labeling import mask_grid, validated
from core.store.collections import load
from core.store.repositories.items import Items

SHOWN = 100
"""Problems listed in the refusal (the count of the others is given)."""
COUNTED = 100_000
"""A file stops being read after this many problems: it is not a labels file."""
SHOWN_PATHS = 1000
MATCH_BATCH = 100
"""Paths looked up in one query (a Cosmos query's text stays well under its size limit)."""
_PART = re.compile(r"(boxes|polygons|spans|labels)\[(\d+)\]\.?(.*)")


@dataclass(frozen=True, slots=True)
class Planned:
    path: str
    value: str
    """The validated, normalized value as compact JSON: a fraction of its parsed size."""
    score: float | None


@dataclass
class Plan:
    label_classes: frozenset[str]
    """The classes the values were checked against: applying stops if they change."""
    entries: list[Planned] = field(default_factory=list)
    records: int = 0
    unmatched: int = 0
    unmatched_paths: list[str] = field(default_factory=list)
    without_labels: int = 0


class Problems:
    """The first `SHOWN` problems in file order (values are checked a batch after they are
    read, so problems are found a little out of order), and how many there are in all."""

    def __init__(self) -> None:
        self._first: list[tuple[int, int, Violation]] = []  # a max-heap on the position
        self.total = 0
        self.unknown: set[str] = set()

    def add(self, position: int, where: str, rule: str) -> None:
        self.total += 1
        heapq.heappush(self._first, (-position, -self.total, Violation(where, rule)))
        if len(self._first) > SHOWN:
            heapq.heappop(self._first)

    @property
    def full(self) -> bool:
        return self.total >= COUNTED

    def check(self) -> None:
        if self.total:
            shown = [v for _, _, v in sorted(self._first, key=lambda e: (-e[0], -e[1]))]
            if self.full:
                shown.append(Violation("file", f"reading stopped after {COUNTED} problems"))
            raise InvalidImport(
                shown,
                omitted=self.total - min(self.total, SHOWN),
                unknown_classes=sorted(self.unknown)[:SHOWN],
            )


def plan_import(deps: Deps, project: Project, records: Iterable[Imported | Problem]) -> Plan:
    """The whole file checked; `InvalidImport` lists what is wrong, and then nothing is done."""
    plan = Plan(label_classes=label_names(project.label_classes))
    problems = Problems()
    first: dict[str, str] = {}
    batch: list[tuple[int, Imported]] = []
    for position, record in enumerate(records):
        if isinstance(record, Problem):
            problems.add(position, record.where, record.rule)
            if problems.full:
                break
            continue
        plan.records += 1
        if record.value is None:
            plan.without_labels += 1
        elif record.path in first:
            problems.add(position, record.where, f"{record.path!r} is also at {first[record.path]}")
        else:
            first[record.path] = record.where
            batch.append((position, record))
            if len(batch) == MATCH_BATCH:
                _check(deps, project, batch, plan, problems)
                batch = []
    _check(deps, project, batch, plan, problems)
    if not problems.total and not plan.entries:
        problems.add(0, "file", _empty(plan))
    problems.check()
    return plan


def _check(
    deps: Deps,
    project: Project,
    batch: list[tuple[int, Imported]],
    plan: Plan,
    problems: Problems,
) -> None:
    if not batch:
        return
    found = read_items(deps, project.id, [record.path for _, record in batch])
    for position, record in batch:
        assert record.value is not None
        document = found.get(record.path)
        if document is None:
            plan.unmatched += 1
            if len(plan.unmatched_paths) < SHOWN_PATHS:
                plan.unmatched_paths.append(record.path)
            continue
        try:
            item = load(Item, document)
            value = record.value
            grid = mask_grid(item) if project.task_type.is_mask else None
            if grid is not None:  # a file's masks are at the image's size, answers the display's
                value = mask_pixels.fitted(value, *grid)
            normal = validated(project, item, value)
        except InvalidAnnotation as error:
            problems.unknown.update(set(stored_labels(record.value)) - plan.label_classes)
            for violation in error.violations:
                problems.add(position, *_located(record, violation))
            continue
        plan.entries.append(Planned(record.path, compact_json(normal.to_json()), record.score))


def read_items(deps: Deps, project_id: str, paths: list[str]) -> dict[str, Document]:
    """The items at `paths` that exist, by path: a query on their ids per `MATCH_BATCH` (a
    path's id is its hash), which every store answers from its primary key (a query on paths
    scans the partition in SQLite)."""
    ids = list(dict.fromkeys(item_id(project_id, path) for path in paths))
    items = Items(deps, project_id)
    return {
        d.body["path"]: d
        for start in range(0, len(ids), MATCH_BATCH)
        for d in items.with_ids(ids[start : start + MATCH_BATCH])
    }


def _located(record: Imported, violation: Violation) -> tuple[str, str]:
    """Where a broken rule is in the file: the shape's own place when the reader knows it."""
    path = violation.field.removeprefix("value").lstrip(".")
    match = _PART.fullmatch(path)
    if match and int(match[2]) < len(record.parts):
        where = f"{record.where}, {record.parts[int(match[2])]}"
        return where, f"{match[3]}: {violation.rule}" if match[3] else violation.rule
    return record.where, f"{path}: {violation.rule}" if path else violation.rule


def _empty(plan: Plan) -> str:
    if plan.unmatched:
        return (
            f"none of its {plan.unmatched} path(s) is an item of this project (the first: "
            f"{plan.unmatched_paths[0]!r}); paths are relative to the project's dataset root"
        )
    if plan.records:
        return f"its {plan.records} record(s) carry no labels"
    return "holds no records"
