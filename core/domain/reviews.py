"""What a reviewer does to an item: approve (with a fix in place), accept a skip, reject (labels
off, back in the queue, history kept), and comment. Each is an item in, the changed item out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from core.domain.annotations import AnnotationValue
from core.domain.errors import Conflict, InvalidInput
from core.domain.items import MAX_COMMENTS, Comment, Item, ItemState, RemovedLabels, ReviewMark

Decision = Literal["approve", "reject"]


def reviewed(
    item: Item,
    decision: Decision,
    *,
    actor: str,
    now: datetime,
    note: str | None,
    comment_id: str,
    fix: Callable[[Item], AnnotationValue] | None = None,
) -> Item:
    """`item` approved (with `fix`, the reviewer's own value for it: required where consensus
    left it undecided) or rejected, the note going with a rejection as a comment."""
    if item.state in (ItemState.UNLABELED, ItemState.ERROR):
        raise Conflict(f"item {item.id!r} is {item.state.value}: there is nothing to review")
    if decision == "reject":
        return rejected(
            item,
            actor=actor,
            reason="rejected in review",
            now=now,
            note=note,
            comment_id=comment_id,
        )
    mark = ReviewMark(user=actor, at=now, decision="approved", note=note)
    if item.state is ItemState.SKIPPED:
        if fix is not None:
            raise InvalidInput.one("value", "accepting a skip takes no value")
        return item.model_copy(update={"review": mark, "updated_at": now})
    if fix is None and item.state is ItemState.NEEDS_REVIEW:
        raise InvalidInput.one(
            "value", "the labelers did not agree: approve with the label you decide on"
        )
    final = item.final if fix is None else fix(item)
    update = {"state": ItemState.LABELED, "final": final, "review": mark, "updated_at": now}
    return item.model_copy(update=update)


def rejected(
    item: Item,
    *,
    actor: str,
    reason: str,
    now: datetime,
    note: str | None = None,
    comment_id: str = "",
) -> Item:
    """`item` back in the queue without its labels; what was removed is kept as history, and
    `note` (with `comment_id`) becomes a comment to the labelers whose answers or skips were
    taken off."""
    comments = item.comments
    if note and note.strip():
        comment = Comment(id=comment_id, user=actor, at=now, text=note, to=answered_by(item))
        comments = with_comment(item, comment)
    removed = RemovedLabels(
        at=now,
        by=actor,
        reason=reason,
        annotations=item.annotations,
        skips=item.skips,
        final=item.final,
    )
    return item.model_copy(
        update={
            "state": ItemState.UNLABELED,
            "annotations": [],
            "skips": [],
            "final": None,
            "review": None,
            "lease": None,
            "removed": [*item.removed, removed],
            "comments": comments,
            "updated_at": now,
        }
    )


def commented(item: Item, *, comment_id: str, actor: str, now: datetime, text: str) -> Item:
    """`item` with a comment addressed to the labelers whose answers or skips it holds."""
    comment = Comment(id=comment_id, user=actor, at=now, text=text, to=answered_by(item))
    return item.model_copy(update={"comments": with_comment(item, comment)})


def answered_by(item: Item) -> list[str]:
    """The labelers who answered or skipped `item`, in order, once each."""
    return [*dict.fromkeys([a.user for a in item.annotations] + [s.user for s in item.skips])]


def with_comment(item: Item, comment: Comment) -> list[Comment]:
    """The item's comments with `comment` added (the oldest dropped beyond the bound)."""
    return [*item.comments, comment][-MAX_COMMENTS:]


def comment_id(now: datetime, token: str) -> str:
    """Time order first, then a token against two comments in one microsecond."""
    return f"{now.strftime('%Y%m%dT%H%M%S%f')}-{token}"
