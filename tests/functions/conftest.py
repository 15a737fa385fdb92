"""The Function App as the Functions host loads it, on a fresh local data folder per test."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest

from functions import context


@pytest.fixture
def function_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ModuleType]:
    monkeypatch.setenv("LOUPE_DATA_DIR", str(tmp_path))
    context.settings.cache_clear()
    context.deps.cache_clear()
    import function_app as module

    module = importlib.reload(module)
    yield module
    app = module.app
    if app.startup_task_done:
        # Shut the ASGI app down now, on a thread of its own: left to the garbage collector,
        # its __del__ would call asyncio.run() inside whatever test runs an event loop then.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, app.middleware.notify_shutdown()).result()
        app.startup_task_done = False
    context.deps().close()
    context.settings.cache_clear()
    context.deps.cache_clear()
