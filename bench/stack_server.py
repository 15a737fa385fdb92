"""The API exactly as `loupe serve` runs it (the same app, middleware, uvicorn settings and the
foreground note), plus two no-op routes, for benchmarks that compare a route with the floor of
the stack it runs on:

- `POST /api/noop`: the whole middleware stack, nothing else (no sign-in);
- `POST /api/projects/{project_id}/noop`: the same with the sign-in every labeling route takes
  (the token looked up), reading a JSON body like next-task does.

No workers or scheduler: the labeling routes do not need them, and the figures are the API's.

    python bench/stack_server.py DATA_DIR PORT [CODE_DIR]
"""

from __future__ import annotations

import gc
import multiprocessing
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import uvicorn
from fastapi import Body, Depends, FastAPI

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if len(sys.argv) > 3:  # another tree's `core` (a folder holding it), for a before/after
    sys.path.insert(0, str(Path(sys.argv[3]).resolve()))

from core import telemetry  # noqa: E402
from core.bootstrap import build  # noqa: E402
from core.http.app import API, create_app  # noqa: E402
from core.http.context import current_user  # noqa: E402
from core.local.runtime import connection_cap  # noqa: E402
from core.settings import Settings  # noqa: E402


def add_noops(app: FastAPI) -> None:
    """The two no-op routes (see above) added to `app`."""

    @app.post(f"{API}/noop")
    async def noop() -> dict[str, bool]:
        return {"ok": True}

    @app.post(f"{API}/projects/{{project_id}}/noop", dependencies=[Depends(current_user)])
    async def signed_in_noop(
        project_id: str, body: Annotated[dict[str, Any], Body()]
    ) -> dict[str, bool]:
        return {"ok": True}


def main() -> None:
    data_dir, port = Path(sys.argv[1]), int(sys.argv[2])
    settings = replace(Settings.from_env(), data_dir=data_dir, port=port, webui_dir=None)
    deps = build(settings)
    app = create_app(lambda: deps, settings)
    add_noops(app)
    served: Any = telemetry.instrument_http(app)
    try:
        from core.local.foreground import NoteForeground, shared_stamp

        served = NoteForeground(served, shared_stamp(multiprocessing.get_context("spawn")))
    except ImportError:  # an older tree (--code) without the foreground note
        pass
    config = uvicorn.Config(
        served,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        limit_concurrency=connection_cap(),
    )
    gc.freeze()  # as `loupe serve` does once loaded
    try:
        uvicorn.Server(config).run()
    finally:
        deps.close()


if __name__ == "__main__":
    main()
