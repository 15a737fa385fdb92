"""Failed background work in a real browser: an export whose requester was removed before it
ran keeps failing on the server's own stage workers and is dead-lettered; its owner sees it in
the Details tab (which said "Nothing failed" until then, and picks it up by itself), fixes the
cause, clicks Retry, and the export then completes. A reviewer and a labeler see no such
section."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from core.adapters.memory import MemoryWorkQueue
from core.bootstrap import build
from core.domain.exports import ExportFormat
from core.domain.messages import EXPORT_RUN
from core.services.exports import ExportOptions, request_export
from core.services.stages import QUEUE_SPECS
from core.settings import Settings
from tests.support.ui import Ui, png

pytestmark = pytest.mark.slow


def eventually(check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "the API never reached the expected state"
        time.sleep(0.2)
    return found


def switch_user(ui: Ui, page: Page, token: str, at: str) -> None:
    """Sign in as someone else with a fresh load of the app (it keeps who is signed in)."""
    page.goto("about:blank")
    ui.sign_in(page, token, at=at)


def test_owner_sees_failed_export_and_retries_it(ui: Ui, page: Page) -> None:
    project_id = ui.project("Failing export", "image_multiclass", ["cat", "dog"])
    ui.upload(project_id, {"f.png": png(11)})
    ui.wait_running(project_id, 1)
    base = f"/projects/{project_id}"
    dora = ui.token_of("dora")  # a reviewer who asks for an export
    lenny = ui.token_of("lenny")  # a labeler
    ui.api("PUT", f"{base}/members/dora", json={"role": "reviewer"})
    ui.api("PUT", f"{base}/members/lenny", json={"role": "labeler"})

    ui.sign_in(page, at=f"/p/{project_id}/details")
    expect(page.locator("#failures h2")).to_have_text("Failed background work")
    expect(page.locator("#dead-letters-empty")).to_have_text("Nothing failed")
    expect(page.locator("#dead-letters")).to_be_hidden()

    # The cause: dora asks for the export (the service's own request, against the server's
    # store), and is removed before the job runs: every delivery is then refused, since a job
    # runs with its requester's rights. Its message is held back until she is removed, then
    # put on the server's own queue, so the server's workers cannot run it first.
    deps = build(Settings(data_dir=ui.data_dir))
    held = MemoryWorkQueue(deps.clock, QUEUE_SPECS)
    job = request_export(
        replace(deps, queue=held),
        project_id=project_id,
        actor="dora",
        format=ExportFormat.CSV,
        options=ExportOptions(),
    )
    ui.api("DELETE", f"{base}/members/dora")
    (message,) = held.receive(EXPORT_RUN, max_messages=10)
    deps.queue.send(EXPORT_RUN, message.body)
    deps.close()

    def dead_letters() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = ui.api("GET", f"{base}/dead-letters")["deadLetters"]
        return found

    dead = eventually(lambda: [d for d in dead_letters() if d["queue"] == EXPORT_RUN])
    assert len(dead) == 1 and dead[0]["reason"] == "Forbidden"
    message_id = dead[0]["messageId"]
    assert ui.api("GET", f"{base}/exports/{job.id}")["status"] == "failed"

    # The open tab shows it by itself, no reload: queue in words, reason and description.
    row = page.locator(f'#dead-letters tr[data-message-id="{message_id}"]')
    expect(row).to_be_visible(timeout=15_000)
    expect(page.locator("#dead-letters-empty")).to_be_hidden()
    expect(row.locator("td.queue")).to_have_text("export")
    expect(row.locator("td.reason")).to_have_text("Forbidden")
    expect(row.locator("td.description")).to_contain_text("not a member")
    expect(row.locator("td.num")).to_have_text(str(QUEUE_SPECS[EXPORT_RUN].max_delivery_count))
    expect(row.locator("td.when")).not_to_have_text("—")

    # Fixed, then retried from the tab: it leaves the dead letters and the export completes.
    ui.api("PUT", f"{base}/members/dora", json={"role": "reviewer"})
    row.get_by_role("button", name="Retry").click()
    expect(row).to_have_count(0)
    expect(page.locator("#dead-letters-empty")).to_have_text("Nothing failed")
    assert all(d["messageId"] != message_id for d in dead_letters())
    done = eventually(
        lambda: (e := ui.api("GET", f"{base}/exports/{job.id}"))["status"] == "succeeded" and e
    )
    assert done["url"]
    assert not [d for d in dead_letters() if d["queue"] == EXPORT_RUN]

    # Owners only: a reviewer's Details tab and a labeler's screens have no such section.
    switch_user(ui, page, dora, at=f"/p/{project_id}/details")
    expect(page.locator("#details-status")).to_be_visible()
    expect(page.locator("#failures")).to_have_count(0)
    switch_user(ui, page, lenny, at=f"/p/{project_id}/details")
    expect(page.locator("#tab-label.active")).to_be_visible()
    expect(page.locator("#tab-details")).to_have_count(0)
    expect(page.locator("#failures")).to_have_count(0)
