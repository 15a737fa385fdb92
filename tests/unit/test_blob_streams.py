"""Reading a folder blob holds no descriptor between chunks: a download whose client went away
midway leaves nothing open, however many there are. A blob replaced or deleted while being read
fails the read (as Azure's ETag-checked ranges do) rather than mixing two versions."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.domain.errors import Conflict
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
