"""The cyclic collector is paused over an import's phases and always left as it was found,
however the imports running on a server's threads overlap and whatever they raise."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from core.services.cyclic_gc import cyclic_gc_paused


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()
    else:
        gc.disable()


def _fail_half_way() -> None:
    with cyclic_gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("an import that fails half way")


def test_paused_inside_and_resumed_after_even_on_error() -> None:
    gc.enable()
    with pytest.raises(RuntimeError, match="half way"):
        _fail_half_way()
    assert gc.isenabled()


def test_overlapping_holders_resume_it_only_when_the_last_leaves() -> None:
    gc.enable()
    first, second = cyclic_gc_paused(), cyclic_gc_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # one import ends while another still runs
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_collector_paused_by_the_caller_stays_paused() -> None:
    gc.disable()
    with cyclic_gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()
