"""Upload size and request rate limits: refused with 413 / 429 problem+json that name the limit
and the setting that moves it, before anything is stored."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from core.domain.datasets import upload_prefix
from core.http.app import create_app
from core.http.limits import MAX_JSON_BYTES, RateLimiter
from core.local.upload import upload
from core.ports import Deps, Query
from core.settings import Settings, SettingsError
from core.store.collections import ITEMS, scan
from tests.support.deps import memory_deps
from tests.support.labeling import running_project, users
from tests.support.reliability import Row
from tests.support.servers import free_port

PROBLEM = "application/problem+json"


def client(deps: Deps, **settings: Any) -> TestClient:
    app = create_app(lambda: deps, Settings(webui_dir=None, secret="s", **settings))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def world() -> tuple[Deps, dict[str, str], str]:
    deps = memory_deps()
    tokens = users(deps, "olive", "sam")
    project = running_project(deps, owner="olive", task_type="text_multiclass")
    return deps, tokens, project.id


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def chunks(size: int) -> Iterator[bytes]:
    """A body without Content-Length (chunked), as a client streaming a file sends it."""
    for start in range(0, size, 1000):
        yield b"x" * min(1000, size - start)


def nothing_stored(deps: Deps, project_id: str) -> bool:
    blobs = list(deps.blobs.list("data", upload_prefix(project_id)))
    items = list(scan(deps.documents.container(ITEMS), project_id, Query()))
    return not blobs and not items


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_an_upload_over_the_limit_is_refused_and_nothing_is_kept(
    world: tuple[Deps, dict[str, str], str], streamed: bool, reliability: Any
) -> None:
    deps, tokens, project_id = world
    http = client(deps, max_upload_bytes=5000)
    url = f"/api/projects/{project_id}/files/big.txt"
    body: Any = chunks(5001) if streamed else b"x" * 5001
    response = http.put(url, content=body, headers=auth(tokens["olive"]))
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["title"] == "Content too large"
    assert "5,000 bytes" in problem["detail"] and "LOUPE_MAX_UPLOAD_BYTES" in problem["detail"]
    assert nothing_stored(deps, project_id)

    at_limit = http.put(url, content=b"x" * 5000, headers=auth(tokens["olive"]))
    assert at_limit.status_code == 201, at_limit.text
    imported = http.post(
        f"/api/projects/{project_id}/imports", content=chunks(6000), headers=auth(tokens["olive"])
    )
    assert imported.status_code == 413 and imported.headers["content-type"] == PROBLEM
    reliability.record(
        Row(
            suite="Abuse: limits",
            test=f"upload over LOUPE_MAX_UPLOAD_BYTES ({'chunked' if streamed else 'sized'})",
            inputs="5,001 and 6,000 bytes against a 5,000-byte limit; 5,000 bytes",
            result={"refused with 413": 2, "stored": 0, "accepted at the limit": 1},
        )
    )


def test_a_huge_json_body_is_refused(world: tuple[Deps, dict[str, str], str]) -> None:
    deps, tokens, project_id = world
    http = client(deps)
    huge = json.dumps({"markdown": "x" * MAX_JSON_BYTES}).encode()
    for body in (huge, chunks(MAX_JSON_BYTES + 1)):
        response = http.put(
            f"/api/projects/{project_id}/instructions",
            content=body,
            headers=auth(tokens["olive"]) | {"If-Match": "*", "Content-Type": "application/json"},
        )
        assert response.status_code == 413, response.text[:300]
        assert response.headers["content-type"] == PROBLEM
        assert f"{MAX_JSON_BYTES:,} bytes" in response.json()["detail"]


def test_a_caller_over_the_rate_limit_gets_429_with_retry_after(
    world: tuple[Deps, dict[str, str], str], reliability: Any
) -> None:
    deps, tokens, _ = world
    http = client(deps, rate_limit=0.5, rate_burst=3)
    codes = [http.get("/api/me", headers=auth(tokens["olive"])).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    refused = http.get("/api/me", headers=auth(tokens["olive"]))
    assert refused.headers["content-type"] == PROBLEM
    assert refused.headers["Retry-After"] == "2"
    assert "LOUPE_RATE_LIMIT" in refused.json()["detail"]
    # Buckets are per caller: another token, and anonymous callers, are not held back.
    assert http.get("/api/me", headers=auth(tokens["sam"])).status_code == 200
    assert http.get("/api/health").status_code == 200
    reliability.record(
        Row(
            suite="Abuse: limits",
            test="request rate over LOUPE_RATE_LIMIT",
            load="6 requests at once from one token, 0.5/s with a burst of 3",
            result={"accepted": 3, "refused with 429": 3, "other callers refused": 0},
        )
    )


def test_the_default_limits_leave_room_for_the_ui() -> None:
    settings = Settings()
    assert settings.rate_limit >= 50 and settings.rate_burst >= 200
    assert settings.max_upload_bytes == 2 << 30


def test_a_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2, burst=2, clock=lambda: now[0])
    assert [limiter.take("a"), limiter.take("a")] == [0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)
    now[0] = 0.5
    assert limiter.take("a") == 0.0
    now[0] = 100.0  # refilled to the burst, never beyond
    assert [limiter.take("a") for _ in range(3)][-1] > 0


def test_limits_are_read_from_the_environment() -> None:
    env = {"LOUPE_MAX_UPLOAD_BYTES": "1000", "LOUPE_RATE_LIMIT": "2.5", "LOUPE_RATE_BURST": "9"}
    settings = Settings.from_env(env)
    assert (settings.max_upload_bytes, settings.rate_limit, settings.rate_burst) == (1000, 2.5, 9)
    assert Settings.from_env({"LOUPE_RATE_LIMIT": "0"}).rate_limit == 0  # off
    for name, value in [
        ("LOUPE_MAX_UPLOAD_BYTES", "2GB"),
        ("LOUPE_MAX_UPLOAD_BYTES", "0"),
        ("LOUPE_RATE_LIMIT", "fast"),
        ("LOUPE_RATE_LIMIT", "-1"),
        ("LOUPE_RATE_LIMIT", "nan"),
        ("LOUPE_RATE_BURST", "²"),
    ]:
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: value})


def test_no_limit_when_the_rate_is_zero(world: tuple[Deps, dict[str, str], str]) -> None:
    deps, tokens, _ = world
    http = client(deps, rate_limit=0, rate_burst=1)
    assert {http.get("/api/me", headers=auth(tokens["olive"])).status_code for _ in range(5)} == {
        200
    }


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Deps, dict[str, str], str]]:
    """The app under uvicorn on 127.0.0.1 with a tight rate limit: 2 a second, bursts of 2."""
    deps = memory_deps()
    tokens = users(deps, "olive")
    project = running_project(deps, owner="olive", task_type="text_multiclass")
    app = create_app(lambda: deps, Settings(webui_dir=None, rate_limit=2, rate_burst=2))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", deps, tokens, project.id
    finally:
        server.should_exit = True
        thread.join(10)


def test_loupe_upload_waits_out_the_rate_limit(
    served: tuple[str, Deps, dict[str, str], str], tmp_path: Path, reliability: Any
) -> None:
    url, deps, tokens, project_id = served
    folder = tmp_path / "texts"
    folder.mkdir()
    for n in range(6):
        (folder / f"{n}.txt").write_text(f"note {n}")
    report = upload(
        server=url, token=tokens["olive"], project_id=project_id, sources=[folder], progress=False
    )
    assert (report.uploaded, report.errors) == (6, [])
    items = list(scan(deps.documents.container(ITEMS), project_id, Query()))
    assert len(items) == 6
    reliability.record(
        Row(
            suite="Abuse: limits",
            test="`loupe upload` under a tight rate limit (uvicorn)",
            load="19 requests (a link, a PUT, a completion a file), 8 threads, 2/s, burst 2",
            result={"files uploaded": 6, "errors": 0, "items": len(items)},
        )
    )
