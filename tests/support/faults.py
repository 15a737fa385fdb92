"""Faults in the document store, for all-or-nothing tests: a wrapper around any adapter's
`DocumentStore` that passes everything through, except that writes to one container can crash
(the process dying there) or first let a concurrent writer in (a labeler's save in between)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from core.domain.errors import NotFound, PreconditionFailed
from core.ports import ContainerSpec, Document, DocumentContainer, DocumentStore, JsonDoc


class Crash(Exception):
    """The process dies here: nothing after this point runs (a test's stand-in for SIGKILL)."""


class FaultyDocuments:
    def __init__(
        self,
        inner: DocumentStore,
        container: str,
        *,
        crash_after: int | None = None,
        before_write: Callable[[DocumentContainer, JsonDoc], None] | None = None,
    ) -> None:
        self.inner = inner
        self.name = container
        self.crash_after = crash_after
        """Writes to the container that succeed before every further one crashes."""
        self.before_write = before_write
        self.writes = 0

    def container(self, spec: ContainerSpec) -> DocumentContainer:
        found = self.inner.container(spec)
        return _Faulty(found, self) if spec.name == self.name else found

    def unit(self, *, wait: bool = True) -> AbstractContextManager[None]:
        return self.inner.unit(wait=wait)

    def close(self) -> None:
        self.inner.close()


class _Faulty:
    def __init__(self, inner: DocumentContainer, faults: FaultyDocuments) -> None:
        self._inner = inner
        self._faults = faults
        self.spec = inner.spec

    def _write(self, body: JsonDoc) -> None:
        faults = self._faults
        if faults.crash_after is not None and faults.writes >= faults.crash_after:
            raise Crash(f"crashed before writing {body.get('id')!r}")
        faults.writes += 1
        if faults.before_write is not None:
            faults.before_write(self._inner, body)

    def upsert(self, body: JsonDoc, *, if_match: str | None = None) -> Document:
        self._write(body)
        return self._inner.upsert(body, if_match=if_match)

    def create(self, body: JsonDoc) -> Document:
        self._write(body)
        return self._inner.create(body)

    def upsert_many(self, bodies: Iterable[JsonDoc]) -> int:
        return sum(1 for body in bodies if self.upsert(body))

    def create_many(self, bodies: Iterable[JsonDoc]) -> int:
        """One write after another, as `upsert_many`."""
        written = 0
        for body in bodies:
            self._write(body)
            written += self._inner.create_many([body])
        return written

    def replace_many(self, changes: Sequence[tuple[JsonDoc, str]]) -> list[Document | None]:
        """One write after another, so a crash lands between two of them."""
        written: list[Document | None] = []
        for body, if_match in changes:
            try:
                written.append(self.upsert(body, if_match=if_match))
            except (PreconditionFailed, NotFound):
                written.append(None)
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
