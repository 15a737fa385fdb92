"""Reading stored documents: one into its model, and every match of a query, page by page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from core.domain.model import DomainModel
from core.ports import Document, DocumentContainer, Query

M = TypeVar("M", bound=DomainModel)


def load(model: type[M], document: Document) -> M:
    return model.model_validate(document.body)


def scan(container: DocumentContainer, pk: str | None, query: Query) -> Iterator[Document]:
    """Every match of `query`, following continuation tokens page by page."""
    continuation: str | None = None
    while True:
        page = container.query(pk, query, continuation)
        yield from page.documents
        if not (continuation := page.continuation):
            return
