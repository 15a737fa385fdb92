"""ML assist in a real browser: its settings in the create wizard (backbone from the server's
models for the project's modality, target precision, train after/every, active learning) and
in the Details tab; the dashboard's panel counting down to the next training by itself, and
"Train now" that stays disabled while a cycle is pending and then lists the cycle's runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.ui import Ui, eventually, png

pytestmark = pytest.mark.slow


def test_assist_settings_dashboard_and_train_now(ui: Ui, page: Page, tmp_path: Path) -> None:
    files = []
    for i in range(6):
        path = tmp_path / f"a{i}.png"
        path.write_bytes(png(i))
        files.append(str(path))
    image_models = [m["name"] for m in ui.api("GET", "/models") if m["modality"] == "image"]
    text_models = [m["name"] for m in ui.api("GET", "/models") if m["modality"] == "text"]
    assert image_models and text_models

    ui.sign_in(page)
    page.click("#new-project")
    page.fill("#w-name", "Assisted")
    page.select_option("#w-type", "text_multiclass")
    page.click("#w-next")
    page.set_input_files("#w-files", files)
    page.click("#w-next")
    page.fill("#w-classes", "cat\ndog")
    page.click("#w-next")
    page.click("#w-next")
    expect(page.locator("#w-assist-backbone")).to_be_hidden()  # until ML assist is on
    page.check("#w-assist-enabled")
    backbone = page.locator("#w-assist-backbone option")
    expect(backbone.filter(has_text=text_models[0])).to_have_count(1)  # the modality's models
    for _ in range(4):  # back to the first step: the task type decides the modality
        page.get_by_role("button", name="Back").click()
    page.select_option("#w-type", "image_multiclass")
    for _ in range(4):
        page.click("#w-next")
    expect(backbone.filter(has_text=image_models[0])).to_have_count(1)
    expect(backbone.filter(has_text=text_models[0])).to_have_count(0)
    page.select_option("#w-assist-backbone", image_models[0])
    page.fill("#w-assist-target", "0.9")
    page.fill("#w-assist-train-after", "20")
    page.fill("#w-assist-train-every", "30")
    page.check("#w-assist-active-learning")
    page.click("#w-next")
    expect(page.locator("#w-review-assist")).to_contain_text(image_models[0])
    page.click("#w-create")
    expect(page.locator("#tab-dashboard.active")).to_be_visible(timeout=20_000)
    project = next(p for p in ui.api("GET", "/projects") if p["name"] == "Assisted")
    assert project["assist"] == {
        "enabled": True,
        "backbone": image_models[0],
        "targetPrecision": 0.9,
        "trainAfter": 20,
        "trainEvery": 30,
        "activeLearning": True,
    }
    project_id = project["id"]
    ui.wait_running(project_id, 6)

    panel = page.locator("#assist-panel")
    expect(panel.locator("#assist-state")).to_contain_text("On")
    expect(panel.locator("#assist-state")).to_contain_text(image_models[0])
    expect(panel.locator("#assist-next-text")).to_have_text("20 label(s)")
    expect(panel.locator("#assist-current")).to_contain_text("none yet")
    for _ in range(2):  # two human labels: the countdown follows by itself
        item = ui.api("POST", f"/projects/{project_id}/tasks/next", json={"size": 1})["items"][0]
        ui.api(
            "POST",
            f"/projects/{project_id}/items/{item['id']}/annotation",
            json={"value": {"label": "cat"}},
        )
    expect(panel.locator("#assist-next-text")).to_have_text("18 label(s)", timeout=10_000)
    expect(panel.locator("#assist-next")).to_have_attribute("value", "2")

    page.click("#tab-details")
    expect(page.locator("#details-assist")).to_contain_text("active learning")
    expect(page.locator("#assist-train-every")).to_have_value("30")
    expect(page.locator("#assist-backbone")).to_have_value(image_models[0])
    page.fill("#assist-train-every", "40")
    page.uncheck("#assist-active-learning")
    page.click("#save-assist")
    expect(page.locator("#details-note")).to_have_text("ML assist saved.")
    saved = ui.api("GET", f"/projects/{project_id}")["assist"]
    assert (saved["trainEvery"], saved["activeLearning"], saved["trainAfter"]) == (40, False, 20)

    page.click("#tab-dashboard")
    train = page.locator("#assist-train")
    expect(train).to_be_enabled()
    train.click()
    runs = page.locator("#assist-runs tbody tr[data-kind]")
    again = httpx.post(
        f"{ui.url}/api/projects/{project_id}/assist/train",
        headers={"Authorization": f"Bearer {ui.token}"},
    )
    status = ui.api("GET", f"/projects/{project_id}/assist")
    if status["pending"]:  # while the cycle is queued or running: no second one
        assert again.status_code == 409, again.text
        assert again.headers["content-type"].startswith("application/problem+json")
        expect(train).to_be_disabled()
    eventually(lambda: ui.api("GET", f"/projects/{project_id}/assist")["runs"], timeout=90)
    expect(runs.first).to_be_visible(timeout=10_000)  # the runs show up by themselves
    first = ui.api("GET", f"/projects/{project_id}/assist")["runs"][0]
    expect(runs.first).to_have_attribute("data-kind", first["kind"])
    expect(runs.first.locator("td").nth(0)).to_have_text(first["kind"])


def run(kind: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"{kind}-1",
        "projectId": "p",
        "kind": kind,
        "status": status,
        "cycle": "20261128T010000-abc123",
        "createdAt": "2026-11-28T01:00:00Z",
        "startedAt": "2026-11-28T01:00:00Z",
        "finishedAt": "2026-11-28T01:00:12.5Z" if status in ("succeeded", "failed") else None,
        "metrics": {},
        "perClass": {},
        "message": None,
        "error": None,
    } | extra


def test_the_panel_shows_runs_quality_and_pending_as_the_api_says(ui: Ui, page: Page) -> None:
    """The panel against fixed answers of the assist API (the cycle's own tests run it)."""
    project_id = ui.project("Panel", "image_multiclass", ["cat", "dog"], assist={"enabled": True})
    answer: dict[str, Any] = {
        "enabled": True,
        "supported": True,
        "backbone": "open-nsfw-resnet50",
        "targetPrecision": 0.95,
        "trainAfter": 100,
        "trainEvery": 50,
        "activeLearning": True,
        "humanLabels": 130,
        "nextTrainingIn": 20,
        "pending": False,
        "current": {
            "threshold": 0.8125,
            "coverage": 0.42,
            "prelabeled": 300,
            "confirmed": 47,
            "corrected": 3,
            "livePrecision": 0.94,
        },
        "runs": [
            run("infer", "failed", error="the model file is missing"),
            run("validate", "succeeded", metrics={"precision": 0.961, "coverage": 0.42}),
            run("train", "succeeded", metrics={"accuracy": 0.9, "labels": 130}),
        ],
    }
    trains: list[str] = []

    def assist(route: Any) -> None:
        if route.request.method == "POST":
            trains.append(route.request.url)
            answer["pending"] = True
            answer["runs"].insert(0, run("featurize", "running"))
            route.fulfill(status=202, json={"cycle": "20261128T011000-def456"})
        else:
            route.fulfill(json=answer)

    page.route(f"**/api/projects/{project_id}/assist**", assist)
    ui.sign_in(page, at=f"/p/{project_id}/dashboard")
    panel = page.locator("#assist-panel")
    expect(panel.locator("#assist-next-text")).to_have_text("20 label(s)")
    expect(panel.locator("#assist-next")).to_have_attribute("max", "50")  # after a training
    expect(panel.locator("#assist-next")).to_have_attribute("value", "30")
    current = panel.locator("#assist-current")
    expect(current.locator('[data-key="Threshold"]')).to_have_text("0.813")
    expect(current.locator('[data-key="Coverage"]')).to_have_text("42.0%")
    expect(current.locator('[data-key="Live precision"]')).to_have_text("94.0% of 50")
    rows = panel.locator("#assist-runs tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("failed")
    expect(rows.nth(0)).to_contain_text("the model file is missing")
    expect(rows.nth(0).locator("td").nth(3)).to_have_text("12.5 s")
    expect(rows.nth(1)).to_contain_text("precision 96.1% · coverage 42.0%")
    expect(rows.nth(2)).to_contain_text("labels 130")
    expect(panel.locator("#assist-state")).to_contain_text("active learning")

    train = page.locator("#assist-train")
    expect(train).to_be_enabled()
    train.click()
    expect(train).to_be_disabled()
    expect(panel.locator("#assist-next-text")).to_have_text("pending…")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_have_attribute("data-status", "running")
    expect(rows.nth(0).locator("td").nth(3)).to_contain_text("…")  # still running
    assert len(trains) == 1

    answer["pending"] = False  # the cycle ended: the next refresh allows another
    answer["runs"][0] = run("featurize", "succeeded", message="embedded 130 items")
    expect(train).to_be_enabled(timeout=10_000)
    expect(rows.nth(0)).to_contain_text("embedded 130 items")


def test_the_panel_shows_each_class_at_its_own_threshold(ui: Ui, page: Page) -> None:
    """Per class, from the last cycle's infer and validate runs: its threshold (or none yet),
    pre-labels and coverage, held-out precision with its bound, audit band, live answers."""
    project_id = ui.project("Classes", "image_multiclass", ["cat", "dog"], assist={"enabled": True})
    infer = {
        "cat": {"threshold": 0.91, "guessed": 200, "prelabeled": 150, "coverage": 0.75,
                "auditBand": 3, "liveAnswered": 40, "liveConfirmed": 39},
        "dog": {"threshold": -1, "guessed": 120, "prelabeled": 0, "coverage": 0.0,
                "auditBand": 3, "liveAnswered": 0, "liveConfirmed": 0},
    }  # fmt: skip
    validate = {
        "cat": {"threshold": 0.91, "heldOutPrecision": 0.99, "lowerBound": 0.962},
        "dog": {"threshold": -1, "heldOutPrecision": 0.8, "lowerBound": 0.71},
    }
    answer = {
        "enabled": True, "supported": True, "backbone": "open-nsfw-resnet50",
        "targetPrecision": 0.95, "trainAfter": 100, "trainEvery": 100, "activeLearning": False,
        "humanLabels": 200, "nextTrainingIn": 100, "pending": False,
        "runs": [run("infer", "succeeded", perClass=infer),
                 run("validate", "succeeded", perClass=validate)],
    }  # fmt: skip
    page.route(f"**/api/projects/{project_id}/assist**", lambda route: route.fulfill(json=answer))
    ui.sign_in(page, at=f"/p/{project_id}/dashboard")
    table = page.locator("#assist-classes")
    expect(table).to_be_visible()
    cat, dog = table.locator('tr[data-class="cat"]'), table.locator('tr[data-class="dog"]')
    expect(cat.locator("td").nth(1)).to_have_text("0.910")
    expect(cat.locator("td").nth(3)).to_have_text("75.0% of 200")
    expect(cat.locator("td").nth(4)).to_have_text("99.0% (96.2%)")
    expect(cat.locator("td").nth(6)).to_have_text("39 of 40")
    expect(dog.locator("td").nth(1)).to_have_text("none yet")
    expect(dog.locator("td").nth(2)).to_have_text("0")
    expect(dog.locator("td").nth(6)).to_have_text("—")
