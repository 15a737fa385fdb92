"""The BlobStore contract, run against every adapter (see conftest.py)."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.adapters.azure.blobs import AzureBlobStore
from core.adapters.memory import ManualClock, MemoryBlobStore
from core.domain.errors import Conflict, InvalidInput, NotFound
from core.ports import BlobStore

C = "data"


def names(blobs: BlobStore, prefix: str = "", container: str = C) -> list[str]:
    return [info.name for info in blobs.list(container, prefix)]


def test_put_bytes_then_get_and_info(blobs: BlobStore) -> None:
    put = blobs.put(C, "images/cat.png", b"\x89PNG data", content_type="image/png")

    assert blobs.get(C, "images/cat.png") == b"\x89PNG data"
    info = blobs.info(C, "images/cat.png")
    assert (info.container, info.name, info.size) == (C, "images/cat.png", 9)
    assert info.content_type == "image/png"
    assert isinstance(info.etag, str) and info.etag == put.etag
    assert isinstance(info.last_modified, datetime) and info.last_modified.tzinfo is not None
    assert blobs.exists(C, "images/cat.png")


def test_put_from_a_stream_and_read_back_in_chunks(blobs: BlobStore) -> None:
    data = bytes(range(256)) * (3 * 4096)  # 3 MiB

    info = blobs.put(C, "big.bin", io.BytesIO(data), content_type="application/octet-stream")

    assert info.size == len(data)
    chunks = list(blobs.stream(C, "big.bin", chunk_size=1 << 20))
    assert len(chunks) >= 3
    assert all(len(chunk) <= 1 << 20 for chunk in chunks)
    assert b"".join(chunks) == data


def test_empty_blob(blobs: BlobStore) -> None:
    blobs.put(C, "empty", b"")

    assert blobs.get(C, "empty") == b""
    assert blobs.info(C, "empty").size == 0
    assert b"".join(blobs.stream(C, "empty")) == b""


def test_missing_blob(blobs: BlobStore) -> None:
    assert not blobs.exists(C, "missing.txt")
    with pytest.raises(NotFound):
        blobs.get(C, "missing.txt")
    with pytest.raises(NotFound):
        blobs.info(C, "missing.txt")
    with pytest.raises(NotFound):
        next(iter(blobs.stream(C, "missing.txt")))


def test_overwrite_replaces_and_changes_the_etag(blobs: BlobStore) -> None:
    first = blobs.put(C, "a.txt", b"one")
    second = blobs.put(C, "a.txt", b"two")

    assert blobs.get(C, "a.txt") == b"two"
    assert second.etag != first.etag
    assert blobs.info(C, "a.txt").etag == second.etag


def test_put_without_overwrite_conflicts_and_keeps_the_blob(blobs: BlobStore) -> None:
    blobs.put(C, "a.txt", b"one")

    with pytest.raises(Conflict):
        blobs.put(C, "a.txt", b"two", overwrite=False)
    with pytest.raises(Conflict):
        blobs.put(C, "a.txt", io.BytesIO(b"three"), overwrite=False)
    assert blobs.get(C, "a.txt") == b"one"
    blobs.put(C, "new.txt", b"fresh", overwrite=False)
    assert blobs.get(C, "new.txt") == b"fresh"


def test_list_returns_names_in_order_by_prefix(blobs: BlobStore) -> None:
    for name in ["b.txt", "a/2.txt", "a/1.txt", "a-b.txt", "a/sub/x.txt", "c/d/e.txt", "ä.txt"]:
        blobs.put(C, name, name.encode())

    assert names(blobs) == [
        "a-b.txt", "a/1.txt", "a/2.txt", "a/sub/x.txt", "b.txt", "c/d/e.txt", "ä.txt",
    ]  # fmt: skip
    assert names(blobs, "a/") == ["a/1.txt", "a/2.txt", "a/sub/x.txt"]
    assert names(blobs, "a") == ["a-b.txt", "a/1.txt", "a/2.txt", "a/sub/x.txt"]
    assert names(blobs, "a/s") == ["a/sub/x.txt"]
    assert names(blobs, "zzz") == []
    sizes = {info.name: info.size for info in blobs.list(C)}
    assert sizes["a/sub/x.txt"] == len(b"a/sub/x.txt")


def _pass_time(blobs: BlobStore, clock: ManualClock, seconds: float) -> None:
    """The memory store keeps the test's clock; the others the real one (Azurite's
    last-modified has whole seconds)."""
    if isinstance(blobs, MemoryBlobStore):
        clock.advance(seconds)
    else:
        time.sleep(seconds)


def test_list_since_yields_what_changed_after_in_name_order(
    blobs: BlobStore, clock: ManualClock
) -> None:
    old = [blobs.put(C, n, b"old") for n in ["a/1.png", "a/deep/2.png", "b/3.png", "top.png"]]
    _pass_time(blobs, clock, 2.2)
    since = max(info.last_modified for info in old) + timedelta(seconds=1)
    for name in ["b/new.png", "a/deep/er/4.png", "c/5.png"]:
        blobs.put(C, name, b"new")
    blobs.put(C, "top.png", b"replaced")

    listed = [info.name for info in blobs.list_since(C, "", since)]

    new = ["a/deep/er/4.png", "b/new.png", "c/5.png", "top.png"]
    assert [n for n in listed if n in new] == new  # none left out, in name order
    assert listed == sorted(listed)
    assert "a/1.png" not in listed and "a/deep/2.png" not in listed  # unchanged folders
    assert [i.name for i in blobs.list_since(C, "b/", since)] == ["b/new.png"]
    assert [i.name for i in blobs.list_since("unused", "", since)] == []
    whole = {info.name: info for info in blobs.list(C)}
    assert all(info == whole[info.name] for info in blobs.list_since(C, "", since))


def test_list_since_an_idle_moment_finds_nothing_new(blobs: BlobStore, clock: ManualClock) -> None:
    for name in ["a/1.png", "a/b/2.png", "c.png"]:
        blobs.put(C, name, b"x")
    _pass_time(blobs, clock, 2.2)
    since = datetime.now(UTC) if not isinstance(blobs, MemoryBlobStore) else clock.now()
    since -= timedelta(seconds=1)

    assert list(blobs.list_since(C, "", since)) == []
    assert list(blobs.list_since(C, "", since)) == []  # twice: a folder store remembers
    blobs.put(C, "a/b/new/3.png", b"y")  # a new folder under unchanged ones
    assert [i.name for i in blobs.list_since(C, "", since)] == ["a/b/new/3.png"]


def test_list_of_an_unused_container_is_empty(blobs: BlobStore) -> None:
    assert names(blobs, container="unused") == []


def test_containers_are_isolated(blobs: BlobStore) -> None:
    blobs.put(C, "same.txt", b"in data")
    blobs.put("other", "same.txt", b"in other")

    assert blobs.get(C, "same.txt") == b"in data"
    assert blobs.get("other", "same.txt") == b"in other"
    blobs.delete("other", "same.txt")
    assert blobs.exists(C, "same.txt")
    assert names(blobs, container="other") == []


def test_delete_is_idempotent(blobs: BlobStore) -> None:
    blobs.put(C, "dir/a.txt", b"x")

    blobs.delete(C, "dir/a.txt")
    blobs.delete(C, "dir/a.txt")
    blobs.delete(C, "never-was.txt")

    assert not blobs.exists(C, "dir/a.txt")
    assert names(blobs) == []


def test_url_is_the_stores_own_link_or_none(blobs: BlobStore) -> None:
    blobs.put(C, "dir/a b.txt", b"x")

    url = blobs.url(C, "dir/a b.txt", expires_in_s=60)

    # Blob Storage signs its own (a SAS); a folder or memory has none and the API serves it.
    assert url is None or url.startswith(("http://", "https://"))
    assert (url is None) == (not isinstance(blobs, AzureBlobStore))


def test_write_url_puts_exactly_its_blob(blobs: BlobStore) -> None:
    """A write link of the store's own (a SAS on Azure): an HTTP PUT of the bytes with
    `x-ms-blob-type: BlockBlob`, as the CLI and the web UI send it, creates that blob; it
    cannot read it, nor write another."""
    url = blobs.write_url(C, "up/a b.png", expires_in_s=60)
    if not isinstance(blobs, AzureBlobStore):
        assert url is None  # the API takes the upload on a write link of its own
        return
    assert url is not None
    block = {"x-ms-blob-type": "BlockBlob"}
    put = httpx.put(url, content=b"\x89PNG bytes", headers=block)
    assert put.status_code == 201, put.text
    assert blobs.get(C, "up/a b.png") == b"\x89PNG bytes"
    assert httpx.get(url).status_code == 403  # no read permission
    other = url.replace("a%20b.png", "b.png")
    assert other != url and httpx.put(other, content=b"x", headers=block).status_code == 403
    assert not blobs.exists(C, "up/b.png")
    again = httpx.put(url, content=b"second", headers=block)  # the same file sent again
    assert again.status_code == 201 and blobs.get(C, "up/a b.png") == b"second"


@pytest.mark.parametrize("name", ["", "../x", "a/../b", "a\\b", "/abs", "a//b", "x\n", "a/"])
def test_invalid_names_are_refused(blobs: BlobStore, name: str) -> None:
    with pytest.raises(InvalidInput):
        blobs.put(C, name, b"x")


@pytest.mark.parametrize("container", ["UPPER", "a", "with_underscore", "-x-"])
def test_invalid_containers_are_refused(blobs: BlobStore, container: str) -> None:
    with pytest.raises(InvalidInput):
        blobs.put(container, "x.txt", b"x")
