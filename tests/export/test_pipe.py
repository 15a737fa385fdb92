"""The pipe that turns a file-writing export into a streamed HTTP body."""

from __future__ import annotations

import threading
from typing import IO

import pytest

from core.export import pipe


def test_chunks_arrive_in_order_and_errors_reach_the_reader() -> None:
    def write(out: IO[bytes]) -> None:
        for n in range(1000):
            out.write(b"%05d\n" % n)

    assert b"".join(pipe.stream(write)) == b"".join(b"%05d\n" % n for n in range(1000))

    def fail(out: IO[bytes]) -> None:
        out.write(b"x" * (pipe.CHUNK + 1))
        raise ValueError("broken record")

    chunks = pipe.stream(fail)
    assert len(next(chunks)) == pipe.CHUNK + 1
    with pytest.raises(ValueError, match="broken record"):
        next(chunks)


def test_a_reader_that_goes_away_stops_the_writer() -> None:
    stopped = threading.Event()

    def endless(out: IO[bytes]) -> None:
        try:
            while True:
                out.write(b"y" * 4096)
        finally:
            stopped.set()

    chunks = pipe.stream(endless)
    next(chunks)
    chunks.close()  # what Starlette does when the client disconnects
    assert stopped.wait(5)
