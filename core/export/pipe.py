"""A writer run in a thread, its bytes handed to a reader as chunks: how a file-writing export
becomes a streamed HTTP body with a bounded buffer (the writer waits while the client reads)."""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any

CHUNK = 1 << 16
DEPTH = 16


class _Sink(io.RawIOBase):
    """A write-only, non-seekable binary stream (zipfile handles that by data descriptors)."""

    def __init__(self, chunks: queue.Queue[bytes | BaseException | None]) -> None:
        super().__init__()
        self._chunks = chunks
        self.stopped = threading.Event()
        self._buffer = bytearray()
        self._written = 0

    def write(self, data: Any) -> int:
        self._buffer += data
        self._written += len(data)
        if len(self._buffer) >= CHUNK:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self._buffer:
            self.put(bytes(self._buffer))
            self._buffer.clear()

    def put(self, item: bytes | BaseException | None) -> None:
        # A reader that went away (the client disconnected) must not leave the writer blocked.
        while not self.stopped.is_set():
            try:
                self._chunks.put(item, timeout=0.5)
                return
            except queue.Full:
                continue
        raise BrokenPipeError("the export's reader stopped")

    def tell(self) -> int:
        return self._written

    def seekable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True


def stream(write: Callable[[IO[bytes]], None]) -> Iterator[bytes]:
    """The bytes `write` writes, chunk by chunk; its exception is raised in the reader."""
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(DEPTH)
    sink = _Sink(chunks)

    def run() -> None:
        try:
            write(sink)  # type: ignore[arg-type]  # a raw binary stream
            sink.flush()
            sink.put(None)
        except BaseException as error:  # handed to the reader to raise
            if not sink.stopped.is_set():
                sink.put(error)

    threading.Thread(target=run, daemon=True, name="export-writer").start()
    try:
        while (chunk := chunks.get()) is not None:
            if isinstance(chunk, BaseException):
                raise chunk
            yield chunk
    finally:
        sink.stopped.set()
