"""Changing label classes mid-project, and what happens to the labels items already carry."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from core.domain.items import Item, ItemState
from core.domain.model import DomainModel, Stamp

LABEL_CLASSES = "label-classes"
"""The queue whose messages rewrite a project's items after its label classes changed."""


class ExistingLabels(StrEnum):
    START_OVER = "start_over"  # remove every label: all items go back to the queue
    KEEP_AS_DEFAULTS = "keep_as_defaults"  # back to the queue, the old label pre-filled
    KEEP = "keep"  # continue: labels stay, new classes apply from now on


class RewriteLabels(DomainModel):
    """Rewrite one project's items, a batch per message (`continuation` resumes): reset those
    labeled before `before` (start over), or rename `old` to `new`. `job` names the project's
    pending rewrite this belongs to (None: a message from before rewrites were recorded)."""

    project_id: str
    actor: str
    before: Stamp
    existing: ExistingLabels | None = None
    old: str | None = None
    new: str | None = None
    continuation: str | None = None
    batch: int = 0
    job: str | None = None


class PendingRewrite(DomainModel):
    """A class change whose items are still being rewritten, kept on the project itself: the
    classes and the rewrite they need are written together, in one document write, so no
    failure can leave one without the other. Cleared by the rewrite's last batch."""

    job: str
    actor: str
    before: Stamp
    existing: ExistingLabels | None = None
    old: str | None = None
    new: str | None = None
    sent: bool = False
    """Whether its first message was sent; a sweep sends it for a writer that died first."""

    def message(self, project_id: str) -> RewriteLabels:
        return RewriteLabels(
            project_id=project_id,
            actor=self.actor,
            before=self.before,
            existing=self.existing,
            old=self.old,
            new=self.new,
            job=self.job,
        )

    def describe(self) -> str:
        if self.old is not None:
            return f"the rename of {self.old!r} to {self.new!r}"
        return f"the class addition ({self.existing})"


def labeled_before(item: Item, before: datetime) -> bool:
    """Whether the item carries labels (or a skip), none newer than `before`: such an item is
    reset by a start-over, while one answered again after the change is left alone, so that a
    repeated message does no harm."""
    if item.state is ItemState.UNLABELED and not item.annotations:
        return False
    if item.state is ItemState.ERROR:
        return False
    answers = [a.at for a in item.annotations] + [s.at for s in item.skips]
    return all(at <= before for at in answers)
