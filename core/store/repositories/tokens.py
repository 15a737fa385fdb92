"""API tokens, by the user they sign in, beside the index that query needs."""

from __future__ import annotations

from collections.abc import Iterator

from core.ports import ContainerSpec, Deps, Document, Query, Where
from core.store.documents import scan

TOKENS = ContainerSpec("tokens", partition_key="id", indexes=(("user",),))


class Tokens:
    def __init__(self, deps: Deps) -> None:
        self.container = deps.documents.container(TOKENS)

    def of(self, user: str) -> Iterator[Document]:
        """Every token of `user`, revoked or not."""
        return scan(self.container, None, Query(where=(Where("user", "=", user),), page_size=100))

    def live_of(self, user: str) -> Iterator[Document]:
        """The tokens of `user` not revoked."""
        live = (Where("user", "=", user), Where("revokedAt", "missing"))
        return scan(self.container, None, Query(where=live, page_size=500))
