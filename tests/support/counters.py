"""The dashboard's counters in tests: a crash between an item's write and its counter's, and the
figures as the items say and as the dashboard shows them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from core.domain.items import Item
from core.domain.progress import AGREED, ANSWERS, COMPARED, LABEL, counted, kind_of
from core.ports import Deps, Query
from core.services import dashboard
from core.services.recount import read_counters
from core.store.collections import ITEMS, STATS, load, scan


@contextmanager
def counter_lost(deps: Deps, project_id: str, actor: str) -> Iterator[list[dict[str, Any]]]:
    """The item writes inside land; `actor`'s counter writes do not (a kill between the two).
    Yields a list that receives the counter document as it would have landed."""
    stats = deps.documents.container(STATS)
    before = stats.get(project_id, actor)
    landed: list[dict[str, Any]] = []
    yield landed
    after = stats.get(project_id, actor)
    if after is not None:
        landed.append(after.body)
    if before is None:
        if after is not None:
            stats.delete(project_id, actor)
    else:
        stats.upsert(before.body)


@contextmanager
def item_write_lost(deps: Deps, project_id: str, item_id: str) -> Iterator[None]:
    """The counters written inside land; the item's write does not."""
    items = deps.documents.container(ITEMS)
    before = items.read(project_id, item_id).body
    yield
    items.upsert(before)


@dataclass(frozen=True)
class Figures:
    """What the dashboard shows that the items decide."""

    labels: dict[str, int]
    answers: dict[str, int]
    agreement: dict[str, tuple[int, int]]
    """Per labeler: answers that agreed with the consensus, answers compared with one."""

    def drift(self, other: Figures) -> int:
        """How many counts differ between the two."""
        total = 0
        for mine, theirs in ((self.labels, other.labels), (self.answers, other.answers)):
            total += sum(abs(mine.get(k, 0) - theirs.get(k, 0)) for k in {*mine, *theirs})
        for user in {*self.agreement, *other.agreement}:
            a, b = self.agreement.get(user, (0, 0)), other.agreement.get(user, (0, 0))
            total += abs(a[0] - b[0]) + abs(a[1] - b[1])
        return total


def from_items(items: Iterable[Item]) -> Figures:
    """Counted from the items themselves, independently of the service's own counting."""
    labels: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    compared: Counter[str] = Counter()
    for item in items:
        labels.update(item.labels)
        for annotation in item.annotations:
            answers[annotation.user] += 1
            if annotation.agreed is not None:
                compared[annotation.user] += 1
                agreed[annotation.user] += annotation.agreed
    return Figures(
        labels=dict(sorted((k, n) for k, n in labels.items() if n)),
        answers=dict(sorted(answers.items())),
        agreement={u: (agreed[u], n) for u, n in sorted(compared.items())},
    )


def truth(deps: Deps, project_id: str) -> Figures:
    found = scan(deps.documents.container(ITEMS), project_id, Query(page_size=1000))
    return from_items(load(Item, d) for d in found)


def from_board(board: dict[str, Any]) -> Figures:
    """The figures of a dashboard as the API sends it (camelCase JSON)."""
    people = board["labelers"]
    return Figures(
        labels=dict(sorted(board["labels"].items())),
        answers={p["user"]: p["answers"] for p in people if p["answers"]},
        agreement={p["user"]: (p["agreed"], p["compared"]) for p in people if p["compared"]},
    )


def shown(deps: Deps, project_id: str, reviewer: str) -> Figures:
    board = dashboard.dashboard(deps, project_id=project_id, actor=reviewer)
    return Figures(
        labels=board.labels,
        answers={p.user: p.answers for p in board.labelers if p.answers},
        agreement={p.user: (p.agreed, p.compared) for p in board.labelers if p.compared},
    )


def from_counters(deps: Deps, project_id: str) -> Figures:
    """The figures as the counter documents hold them (what the dashboard would show now)."""
    found = read_counters(deps, project_id)
    figures: dict[str, dict[str, int]] = {}
    for key, n in counted(found.actors, found.recount).items():
        kind, name = kind_of(key)
        if n:
            figures.setdefault(kind, {})[name] = n
    agreed, compared = figures.get(AGREED, {}), figures.get(COMPARED, {})
    return Figures(
        labels=dict(sorted(figures.get(LABEL, {}).items())),
        answers=dict(sorted(figures.get(ANSWERS, {}).items())),
        agreement={u: (agreed.get(u, 0), n) for u, n in sorted(compared.items())},
    )
