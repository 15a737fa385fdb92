"""Comments on items: a reviewer's word to the labelers who answered (a rejection's reason is
one too), and each labeler's feedback, the comments addressed to them, newest first."""

from __future__ import annotations

from core.domain.errors import InvalidInput
from core.domain.items import Comment, Item, ItemState
from core.domain.model import DomainModel
from core.domain.projects import Role
from core.domain.reviews import commented
from core.ports import Deps
from core.services.review import new_comment_id
from core.services.worklog import change_item, member_project
from core.store.collections import load
from core.store.repositories.items import Items

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

    def comment(item: Item) -> Item:
        now = deps.clock.now()
        token = new_comment_id(deps, now)
        return commented(item, comment_id=token, actor=actor, now=now, text=words)

    action = "item.commented"
    return change_item(deps, project_id, item_id, comment, actor=actor, action=action).after.value


class Feedback(DomainModel):
    item_id: str
    path: str
    state: ItemState
    comments: list[Comment]
    """Only the comments addressed to the caller, oldest first."""


class FeedbackPage(DomainModel):
    entries: list[Feedback]
    continuation: str | None = None


def feedback(
    deps: Deps, *, project_id: str, actor: str, continuation: str | None = None
) -> FeedbackPage:
    """The items whose comments are addressed to `actor`, most recently changed first."""
    member_project(deps, project_id, actor, Role.LABELER, Role.REVIEWER)
    page = Items(deps, project_id).addressed_to(actor, FEEDBACK_PAGE, continuation)
    entries = []
    for document in page.documents:
        item = load(Item, document)
        mine = [c for c in item.comments if actor in c.to]
        entries.append(Feedback(item_id=item.id, path=item.path, state=item.state, comments=mine))
    return FeedbackPage(entries=entries, continuation=page.continuation)
