"""Ingestion's records: an initialization's plan, one result per batch, the refresh watermark,
and the progress read from them. Progress is summed on read from many small documents, so no
single document is fought over by every batch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from pydantic import Field

from core.domain.model import DomainModel, Stamp

PLAN = "plan"
REFRESH = "refresh"


def batch_id(run: str, batch: int) -> str:
    return f"batch-{run}-{batch:06d}"


class Tally(DomainModel):
    registered: int = 0
    failed: int = 0
    skipped: int = 0
    skipped_reasons: dict[str, int] = Field(default_factory=dict)

    def plus(self, other: Tally) -> Tally:
        reasons = Counter(self.skipped_reasons)
        reasons.update(other.skipped_reasons)
        return Tally(
            registered=self.registered + other.registered,
            failed=self.failed + other.failed,
            skipped=self.skipped + other.skipped,
            skipped_reasons=dict(reasons),
        )


def tally(registered: int, failed: int, skipped: Iterable[tuple[str, int]]) -> Tally:
    reasons: Counter[str] = Counter()
    for reason, count in skipped:
        reasons[reason] += count
    return Tally(
        registered=registered,
        failed=failed,
        skipped=sum(reasons.values()),
        skipped_reasons=dict(reasons),
    )


class IngestPlan(DomainModel):
    """Written by the init stage as it lists: how many files and batches so far, and the
    files it skipped itself (types the project does not take, over the cap)."""

    id: str = PLAN
    project_id: str
    run: str
    listed: int = 0
    batches: int = 0
    complete: bool = False
    skipped: Tally = Tally()
    started_at: Stamp


class BatchResult(DomainModel):
    id: str
    project_id: str
    run: str
    batch: int
    tally: Tally
    done_at: Stamp


class RefreshState(DomainModel):
    """Blobs changed after `swept_at` (the last sweep's start; before one has run, after
    `watermark`, the newest blob an older sweep saw) are new to the sweep; with neither, it
    compares every blob with the items. `refreshed_at` is when the data was last refreshed."""

    id: str = REFRESH
    project_id: str
    watermark: Stamp | None = None
    swept_at: Stamp | None = None
    refreshed_at: Stamp
    registered: int = Field(default=0, description="Items added since initialization")


class IngestProgress(DomainModel):
    status: str
    total: int = Field(description="Files listed so far (a row file becomes many items)")
    registered: int
    failed: int
    skipped: int
    skipped_reasons: dict[str, int]
    batches: int
    batches_done: int
    listing_complete: bool
    started_at: Stamp | None = None
    last_refreshed_at: Stamp | None = None
    refreshed_items: int = 0
    item_cap: int = Field(
        default=0, description="The most items the project takes (its own cap or the deployment's)"
    )
    capacity_warning: str | None = Field(
        default=None,
        description="Set from 80 % of the cap: how full the project is, what happens at the cap "
        "(new files are refused, counted under 'over the item cap'), and what to do",
    )
