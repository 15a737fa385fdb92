"""A blob as a seekable local file, for decoders that read a file in parts: in memory while
small, on local disk beyond, so that a large file never sits in memory whole."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, cast

from core.ports import BlobStore

SPOOL_MEMORY_BYTES = 8 << 20
"""Files up to this size stay in memory; larger ones go to a temporary file."""


@contextmanager
def spooled(blobs: BlobStore, container: str, name: str) -> Iterator[BinaryIO]:
    """The blob's bytes as a file at its start; `NotFound` if there is no such blob."""
    chunks = blobs.stream(container, name)
    try:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as file:
            for chunk in chunks:
                file.write(chunk)
            file.seek(0)
            yield cast(BinaryIO, file)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:  # a download cut short gives its connection or file back now
            close()
