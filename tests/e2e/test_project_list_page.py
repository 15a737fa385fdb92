"""The root page in a real browser: signed in by the printed link, it lists the user's projects
and keeps itself current without a reload."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.support.servers import start_loupe


@pytest.mark.slow
def test_printed_link_signs_in_and_the_list_refreshes_itself(
    browser: Browser, tmp_path: Path
) -> None:
    server = start_loupe(tmp_path)
    try:
        link, token = server.wait_for(r"Loupe is running: (\S+#token=(\S+))").groups()
        page = browser.new_page()
        page.goto(link)
        demo = page.locator("tr", has_text="Demo: shapes")
        expect(demo).to_be_visible()
        expect(demo.locator(".status")).to_have_text("running", timeout=15_000)
        assert "token" not in page.url  # the token leaves the address bar at once

        body: dict[str, Any] = {
            "name": "<img src=x onerror=alert(1)>",
            "taskType": "text_ner",
            "labelClasses": [{"name": "PER"}],
        }
        created = httpx.post(
            f"{server.url}/api/projects",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert created.status_code == 201
        row = page.locator("tr", has_text=body["name"])  # shown as text, never as markup
        expect(row).to_be_visible(timeout=10_000)
        expect(row.locator(".status")).to_have_text(re.compile("initializing|running"))
        expect(row.locator(".status")).to_have_text("running", timeout=15_000)
        page.close()
    finally:
        assert server.stop() == 0
