"""A labeler who keeps working never loses the items in hand, however short the deployment sets
the lease: the web UI renews at half the lease the server states (here LOUPE_TASK_LEASE_S=10,
swept every 2.5 s), where a fixed four-minute beat would let every lease lapse."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.ui import Ui, eventually, png, serve_ui

pytestmark = pytest.mark.slow
LEASE_S = 10


@pytest.fixture(scope="module")
def short_lease(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ui]:
    yield from serve_ui(tmp_path_factory, env={"LOUPE_TASK_LEASE_S": str(LEASE_S)})


def test_items_in_hand_outlive_a_short_lease(short_lease: Ui, page: Page) -> None:
    ui = short_lease
    project_id = ui.project("Short leases", "image_multiclass", ["cat", "dog"])
    ui.upload(project_id, {f"l{i}.png": png(i) for i in range(3)})
    ui.wait_running(project_id, 3)
    ui.sign_in(page, at=f"/p/{project_id}/label")
    stage = page.locator("#stage")
    expect(stage.locator("img.photo")).to_be_visible(timeout=15_000)

    def leased_to_olive() -> list[dict[str, Any]]:
        return [i for i in ui.items(project_id) if (i.get("lease") or {}).get("user")]

    assert len(eventually(lambda: len(leased_to_olive()) == 3 and leased_to_olive())) == 3
    page.wait_for_timeout(LEASE_S * 2_250)  # over two leases and a sweep: a slow labeler
    assert len(leased_to_olive()) == 3  # the one on screen and the two fetched ahead
    given = set()
    for _ in range(3):
        expect(stage.locator("img.photo")).to_be_visible()
        item_id = stage.get_attribute("data-item-id") or ""
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        expect(stage).not_to_have_attribute("data-item-id", item_id)
        given.add(item_id)
    labeled = eventually(lambda: len(ui.items(project_id, "labeled")) == 3 and True)
    assert labeled and {i["id"] for i in ui.items(project_id, "labeled")} == given
