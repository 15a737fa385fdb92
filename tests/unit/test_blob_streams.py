"""Reading a folder blob holds no descriptor between chunks: a download whose client went away
midway leaves nothing open, however many there are. A blob replaced or deleted while being read
fails the read (as Azure's ETag-checked ranges do) rather than mixing two versions."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.domain.errors import Conflict, NotFound
from core.ports import BlobStore
from tests.support.deps import local_deps

C = "data"
CHUNK = 1 << 10


def open_on(folder: Path) -> int:
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            found += os.readlink(f"/proc/self/fd/{fd}").startswith(str(folder))
        except OSError:
            continue
    return found


@pytest.fixture
def store(tmp_path: Path) -> Iterator[BlobStore]:
    deps = local_deps(tmp_path)
    deps.blobs.put(C, "big.bin", bytes(range(256)) * 64)  # 16 chunks
    yield deps.blobs
    deps.close()


def test_readers_that_stop_midway_hold_no_descriptor(store: BlobStore, tmp_path: Path) -> None:
    abandoned = []
    for _ in range(200):
        chunks = store.stream(C, "big.bin", chunk_size=CHUNK)
        assert len(next(chunks)) == CHUNK
        abandoned.append(chunks)  # never finished, never closed: a client gone midway
    assert open_on(tmp_path / "blobs") == 0
    whole = store.stream(C, "big.bin", chunk_size=CHUNK)
    assert b"".join(whole) == bytes(range(256)) * 64


def test_a_blob_replaced_while_being_read_fails_the_read(store: BlobStore) -> None:
    chunks = store.stream(C, "big.bin", chunk_size=CHUNK)
    first = next(chunks)
    store.put(C, "big.bin", b"x" * (64 * 256))
    with pytest.raises(Conflict, match="changed while being read"):
        next(chunks)
    assert first == bytes(range(256)) * 4


def test_a_blob_deleted_while_being_read_fails_the_read(store: BlobStore) -> None:
    chunks = store.stream(C, "big.bin", chunk_size=CHUNK)
    next(chunks)
    store.delete(C, "big.bin")
    with pytest.raises(Conflict):
        list(chunks)


def test_reads_cut_short_by_the_file_system_still_give_the_whole_blob(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A network file system may answer a read with fewer bytes than asked before the end.
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, size: real_read(fd, min(size, 100)))
    chunks = list(store.stream(C, "big.bin", chunk_size=CHUNK))
    assert [len(chunk) for chunk in chunks] == [CHUNK] * 16
    assert b"".join(chunks) == bytes(range(256)) * 64
    head = next(store.stream(C, "big.bin", chunk_size=1 << 20))  # a header probe's one read
    assert head == bytes(range(256)) * 64


def test_a_folder_of_blobs_is_no_blob_to_read(store: BlobStore) -> None:
    store.put(C, "folder/inner.bin", b"x")
    with pytest.raises(NotFound):
        store.stream(C, "folder")
