"""Comments on items: a reviewer's word to the labelers who answered (a rejection's reason is
one too), and each labeler's feedback, the comments addressed to them, newest first."""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.errors import Conflict, InvalidInput, PreconditionFailed
from core.domain.items import Comment, Item, ItemState
from core.domain.projects import Role
from core.ports import Deps, Query, Where
from core.services.collections import ITEMS, load
from core.services.review import NEWEST, comment_id, with_comment
from core.services.worklog import RETRIES, member_project, read_item, save_item

MAX_TEXT = 2000
FEEDBACK_PAGE = 50


def comment_on_item(deps: Deps, *, project_id: str, actor: str, item_id: str, text: str) -> Item:
    """Add a comment, addressed to the labelers whose answers or skips the item holds."""
    member_project(deps, project_id, actor, Role.REVIEWER)
    words = text.strip()
    if not words:
        raise InvalidInput.one("text", "write something: a comment cannot be empty")
    if len(words) > MAX_TEXT:
        raise InvalidInput.one("text", f"at most {MAX_TEXT} characters")
    for _ in range(RETRIES):
        current = read_item(deps, project_id, item_id)
        item = current.value
        now = deps.clock.now()
        to = [*dict.fromkeys([a.user for a in item.annotations] + [s.user for s in item.skips])]
        comment = Comment(id=comment_id(now), user=actor, at=now, text=words, to=to)
        after = item.model_copy(update={"comments": with_comment(item, comment)})
        try:
            return save_item(deps, current, after, actor=actor, action="item.commented").value
        except PreconditionFailed:
            continue
    raise Conflict(f"item {item_id!r} keeps changing; try again")


@dataclass(frozen=True)
class Feedback:
    item_id: str
    path: str
    state: ItemState
    comments: list[Comment]
    """Only the comments addressed to the caller, oldest first."""


@dataclass(frozen=True)
class FeedbackPage:
    entries: list[Feedback]
    continuation: str | None


def feedback(
    deps: Deps, *, project_id: str, actor: str, continuation: str | None = None
) -> FeedbackPage:
    """The items whose comments are addressed to `actor`, most recently changed first."""
    member_project(deps, project_id, actor, Role.LABELER, Role.REVIEWER)
    query = Query(
        where=(Where("notify", "contains", actor),), order_by=NEWEST, page_size=FEEDBACK_PAGE
    )
    page = deps.documents.container(ITEMS).query(project_id, query, continuation)
    entries = []
    for document in page.documents:
        item = load(Item, document)
        mine = [c for c in item.comments if actor in c.to]
        entries.append(Feedback(item.id, item.path, item.state, mine))
    return FeedbackPage(entries, page.continuation)
