from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from core.http.app import create_app
from core.ports import Deps
from core.services.users import create_user
from core.settings import Settings
from tests.support.deps import memory_deps


@dataclass
class Api:
    client: TestClient
    deps: Deps
    token: str

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}


@pytest.fixture
def api() -> Iterator[Api]:
    deps = memory_deps()
    _, token = create_user(deps, name="ann")
    app = create_app(lambda: deps, Settings(webui_dir=None))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, deps, token)
