"""Blobs in Azure Blob Storage (`azure-storage-blob`), identity-based in production, Azurite in
tests. Names are checked by `core.adapters.blob_names`, as in every other blob store."""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import (
    BlobProperties,
    BlobSasPermissions,
    BlobServiceClient,
    ContainerClient,
    ContentSettings,
    UserDelegationKey,
    generate_blob_sas,
)

from core.adapters.blob_names import check_blob_name, check_container_name
from core.domain.errors import Conflict, NotFound
from core.ports import BlobInfo

_DEFAULT_CONTENT_TYPE = "application/octet-stream"
_SINGLE_PUT_BYTES = 4 << 20
"""Streams up to this size are read and sent in one request; longer ones in 4 MiB blocks."""
_SAS_CLOCK_SKEW = timedelta(minutes=5)
"""SAS start time is back-dated so a server clock slightly behind ours accepts it."""
_DELEGATION_KEY_LIFETIME = timedelta(hours=24)
_DELEGATION_KEY_MARGIN = timedelta(hours=1)
"""A cached user delegation key is replaced when it would expire within this margin (and
always before it would expire before a SAS signed with it)."""
_MAX_SAS_LIFETIME = timedelta(days=7)
"""A user delegation SAS cannot outlive its key, and a key lives at most seven days."""


def _info(container: str, name: str, props: BlobProperties) -> BlobInfo:
    return BlobInfo(
        container=container,
        name=name,
        size=int(props.size),
        etag=str(props.etag),
        last_modified=props.last_modified,
        content_type=props.content_settings.content_type if props.content_settings else None,
    )


class _Counting(io.RawIOBase):
    """A read-only stream of `head` then the rest of `inner`, counting what the SDK reads. It
    has no length, so the SDK uploads it block by block instead of reading it whole."""

    def __init__(self, head: bytes, inner: BinaryIO) -> None:
        self._head = head
        self._inner = inner
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            data = self._head if size < 0 else self._head[:size]
            self._head = self._head[len(data) :]
        else:
            data = self._inner.read(size)
        self.count += len(data)
        return data


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    """Up to `size` bytes, fewer only at the end of the stream (a raw read may return less)."""
    parts, left = [], size
    while left > 0:
        part = stream.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


class AzureBlobStore:
    """Implements `core.ports.BlobStore`."""

    def __init__(self, service: BlobServiceClient) -> None:
        self._service = service
        self._ready: set[str] = set()
        self._lock = threading.Lock()
        self._delegation_key: UserDelegationKey | None = None
        self._delegation_expiry = datetime.min.replace(tzinfo=UTC)

    # -- writing -------------------------------------------------------------------------------

    def put(
        self,
        container: str,
        name: str,
        data: bytes | BinaryIO,
        *,
        content_type: str | None = None,
        overwrite: bool = True,
    ) -> BlobInfo:
        blob = self._writable(container).get_blob_client(check_blob_name(name))
        settings = ContentSettings(content_type=content_type) if content_type else None
        counter = None
        if isinstance(data, bytes | bytearray | memoryview):
            source: Any = bytes(data)
        else:
            # A small stream goes up in one request; a larger one in blocks, never whole.
            source = _read_up_to(data, _SINGLE_PUT_BYTES + 1)
            if len(source) > _SINGLE_PUT_BYTES:
                source = counter = _Counting(source, data)
        try:
            result = blob.upload_blob(source, overwrite=overwrite, content_settings=settings)
        except ResourceExistsError:
            raise Conflict(f"blob {container}/{name} already exists") from None
        size = counter.count if counter is not None else len(source)
        return BlobInfo(
            container=container,
            name=name,
            size=size,
            etag=str(result["etag"]),
            last_modified=result["last_modified"],
            # Blob Storage stores application/octet-stream when none is given; say what info() will.
            content_type=content_type or _DEFAULT_CONTENT_TYPE,
        )

    def delete(self, container: str, name: str) -> None:
        # Idempotent: a missing blob (or container) is already deleted.
        with contextlib.suppress(ResourceNotFoundError):
            self._container(container).delete_blob(check_blob_name(name))

    # -- reading -------------------------------------------------------------------------------

    def get(self, container: str, name: str) -> bytes:
        blob = self._container(container).get_blob_client(check_blob_name(name))
        try:
            return blob.download_blob().readall()
        except ResourceNotFoundError:
            raise self._missing(container, name) from None

    def stream(self, container: str, name: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        blob = self._container(container).get_blob_client(check_blob_name(name))
        try:
            # The first request happens here, outside the generator, so a missing blob fails
            # the call itself, before any chunk.
            downloader = blob.download_blob()
        except ResourceNotFoundError:
            raise self._missing(container, name) from None
        return self._rechunk(downloader.chunks(), chunk_size)

    @staticmethod
    def _rechunk(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
        """The SDK's chunks (its own sizes) as chunks of exactly `size` bytes, the last shorter."""
        buffer = bytearray()
        for chunk in chunks:
            buffer += chunk
            while len(buffer) >= size:
                yield bytes(buffer[:size])
                del buffer[:size]
        if buffer:
            yield bytes(buffer)

    def info(self, container: str, name: str) -> BlobInfo:
        blob = self._container(container).get_blob_client(check_blob_name(name))
        try:
            return _info(container, name, blob.get_blob_properties())
        except ResourceNotFoundError:
            raise self._missing(container, name) from None

    def exists(self, container: str, name: str) -> bool:
        blob = self._container(container).get_blob_client(check_blob_name(name))
        return bool(blob.exists())

    def list(self, container: str, prefix: str = "") -> Iterator[BlobInfo]:
        pages = self._container(container).list_blobs(name_starts_with=prefix or None)
        try:
            # Blob Storage lists in name order, one page (up to 5,000 names) per request.
            for props in pages:
                yield _info(container, str(props.name), props)
        except ResourceNotFoundError:
            return  # a container never written to holds no blobs

    def list_since(self, container: str, prefix: str, since: datetime) -> Iterator[BlobInfo]:
        """The whole listing, filtered here: List Blobs has no last-modified filter (an
        incremental listing would need the change feed, which Azurite lacks). Its cost is one
        list operation per 5,000 blobs under `prefix`, which is why the sweep is rare."""
        return (info for info in self.list(container, prefix) if info.last_modified >= since)

    def url(self, container: str, name: str, *, expires_in_s: int = 3600) -> str:
        """A read-only SAS URL: signed with the account key when the client has one (Azurite,
        connection strings), otherwise with a user delegation key (identity-based access)."""
        return self._sas(container, name, BlobSasPermissions(read=True), expires_in_s)

    def write_url(self, container: str, name: str, *, expires_in_s: int = 900) -> str:
        """A SAS URL that may create or overwrite this one blob (Put Blob, or Put Block and Put
        Block List for a large one), and nothing else: no read, list or delete."""
        self._writable(container)  # a client cannot create the container with it
        return self._sas(container, name, BlobSasPermissions(create=True, write=True), expires_in_s)

    def _sas(
        self, container: str, name: str, permission: BlobSasPermissions, expires_in_s: int
    ) -> str:
        blob = self._container(container).get_blob_client(check_blob_name(name))
        now = datetime.now(UTC)
        expiry = now + min(timedelta(seconds=expires_in_s), _MAX_SAS_LIFETIME)
        signing: dict[str, Any]
        account_key = getattr(self._service.credential, "account_key", None)
        if account_key:
            signing = {"account_key": account_key}
        else:
            signing = {"user_delegation_key": self._user_delegation_key(now, expiry)}
        sas = generate_blob_sas(
            account_name=str(self._service.account_name),
            container_name=container,
            blob_name=name,
            permission=permission,
            start=now - _SAS_CLOCK_SKEW,
            expiry=expiry,
            **signing,
        )
        return f"{blob.url}?{sas}"

    def close(self) -> None:
        self._service.close()

    # -- helpers -------------------------------------------------------------------------------

    def _user_delegation_key(self, now: datetime, until: datetime) -> UserDelegationKey:
        with self._lock:
            if self._delegation_key is None or self._delegation_expiry < max(
                now + _DELEGATION_KEY_MARGIN, until
            ):
                expiry = now + max(_DELEGATION_KEY_LIFETIME, until - now + _DELEGATION_KEY_MARGIN)
                expiry = min(expiry, now + _MAX_SAS_LIFETIME)
                self._delegation_key = self._service.get_user_delegation_key(
                    key_start_time=now - _SAS_CLOCK_SKEW, key_expiry_time=expiry
                )
                self._delegation_expiry = expiry
            return self._delegation_key

    def _container(self, container: str) -> ContainerClient:
        return self._service.get_container_client(check_container_name(container))

    def _writable(self, container: str) -> ContainerClient:
        client = self._container(container)
        if container not in self._ready:
            with contextlib.suppress(ResourceExistsError):
                client.create_container()
            with self._lock:
                self._ready.add(container)
        return client

    @staticmethod
    def _missing(container: str, name: str) -> NotFound:
        return NotFound(f"blob {container}/{name} does not exist")
