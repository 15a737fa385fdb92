"""Attributes in a real browser: the owner declares them on a class in the Details tab; the
labeler sets them on a box by keyboard (Shift+1 flips a boolean, Shift+2 steps a one-of) and by
mouse, and on a classification answer; what is submitted is what the API holds; the reviewer
sees them in the viewer and filters the grid by one."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_ui_shapes import Canvas
from tests.support.ui import Ui, png

pytestmark = pytest.mark.slow


def test_declare_set_by_keys_and_mouse_submit_review_and_filter(ui: Ui, page: Page) -> None:
    project_id = ui.project("Parking lot", "image_bounding_box", ["car", "tree"])
    ui.upload(project_id, {f"lot{i}.png": png(i, (400, 300)) for i in range(3)})
    ui.wait_running(project_id, 3)

    # The owner declares car's attributes in the class editor.
    ui.sign_in(page, at=f"/p/{project_id}/details")
    page.select_option("#attr-class", "car")
    page.fill("#attr-text", "occluded: boolean\ncolor: one of red, blue\ndoors: number 2..5")
    page.click("#save-attributes")
    expect(page.locator("#details-note")).to_have_text("Attributes of car saved.")
    expect(page.locator("#class-list")).to_contain_text("occluded, color, doors")
    classes = ui.api("GET", f"/projects/{project_id}/label-classes")
    color = {k: v for k, v in classes[0]["attributes"][1].items() if v is not None}
    assert color == {
        "name": "color",
        "type": "one_of",
        "options": ["red", "blue"],
    }

    # The labeler: a car box; keys set occluded and color, the mouse the doors.
    page.goto(f"{ui.url}/#/p/{project_id}/label")
    expect(page.locator("#canvas")).to_be_visible()
    canvas = Canvas(page)
    panel = page.locator("#attributes")
    expect(panel).to_be_hidden()  # nothing selected yet
    canvas.drag((0.1, 0.1), (0.5, 0.6))
    expect(panel).to_be_visible()  # the new box is selected: its class's attributes show
    expect(panel.locator("kbd").first).to_have_text("⇧1")
    page.keyboard.press("Shift+Digit1")
    expect(panel.locator('input[data-attribute="occluded"]')).to_be_checked()
    page.keyboard.press("Shift+Digit2")
    page.keyboard.press("Shift+Digit2")
    expect(panel.locator('select[data-attribute="color"]')).to_have_value("blue")
    page.fill('input[data-attribute="doors"]', "4")
    page.keyboard.press("Enter")  # hands the keys back to the screen…
    expect(panel.locator('input[data-attribute="doors"]')).to_have_value("4")
    panel.locator('input[data-attribute="occluded"]').click()  # …and the mouse flips it back
    page.keyboard.press("Shift+Digit1")  # on again, by key
    first = page.locator("#stage").get_attribute("data-item-id") or ""
    page.keyboard.press("Enter")  # submits
    expect(page.locator("#stage")).not_to_have_attribute("data-item-id", first)
    saved = ui.api("GET", f"/projects/{project_id}/items/{first}")
    assert saved["final"]["boxes"][0]["attributes"] == {
        "color": "blue",
        "doors": 4,
        "occluded": True,
    }

    # A second item: a car left with no attributes, so the filter tells them apart.
    canvas.drag((0.2, 0.2), (0.6, 0.7))
    second = page.locator("#stage").get_attribute("data-item-id") or ""
    page.keyboard.press("Enter")
    expect(page.locator("#stage")).not_to_have_attribute("data-item-id", second)

    # The reviewer filters by the attribute and sees it on the box in the viewer.
    page.goto(f"{ui.url}/#/p/{project_id}/data")
    tiles = page.locator("#items article")
    expect(tiles).to_have_count(3)
    page.fill("#filter-attribute", "color=blue")
    page.locator("#filter-attribute").blur()
    expect(tiles).to_have_count(1)
    expect(tiles.first).to_have_attribute("data-item-id", first)
    tiles.first.click()
    viewer = page.locator("#viewer")
    expect(viewer.locator("#canvas g.shape")).to_have_count(1)
    box = viewer.locator("#canvas").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 0.3 * box["width"], box["y"] + 0.3 * box["height"])
    shown = viewer.locator("#attributes")
    expect(shown.locator('input[data-attribute="occluded"]')).to_be_checked()
    expect(shown.locator('select[data-attribute="color"]')).to_have_value("blue")
    page.keyboard.press("Shift+Digit1")  # the reviewer's fix: not occluded after all
    expect(viewer.locator("#viewer-approve")).to_have_text("Approve with my fix (A)")
    viewer.locator("#viewer-approve").click()
    page.keyboard.press("Escape")
    fixed = ui.api("GET", f"/projects/{project_id}/items/{first}")
    assert fixed["final"]["boxes"][0]["attributes"] == {
        "color": "blue",
        "doors": 4,
        "occluded": False,
    }
    page.fill("#filter-attribute", "occluded=true")
    page.locator("#filter-attribute").blur()
    expect(tiles).to_have_count(0)


def test_a_classification_answer_carries_its_class_attributes(ui: Ui, page: Page) -> None:
    classes = [
        {"name": "sunny", "attributes": [{"name": "hazy", "type": "boolean"}]},
        {"name": "rainy"},
    ]
    created = ui.api(
        "POST",
        "/projects",
        json={"name": "Weather", "taskType": "image_multiclass", "labelClasses": classes},
    )
    project_id = created["id"]
    ui.upload(project_id, {f"sky{i}.png": png(i, (300, 200)) for i in range(2)})
    ui.wait_running(project_id, 2)
    ui.sign_in(page, at=f"/p/{project_id}/label")
    stage = page.locator("#stage")
    expect(stage).to_have_attribute("data-item-id", re.compile(".+"))  # the first item is shown
    panel = page.locator("#attributes")
    page.keyboard.press("2")  # rainy declares nothing: no panel
    expect(panel).to_be_hidden()
    page.keyboard.press("1")
    expect(panel).to_be_visible()
    page.keyboard.press("Shift+Digit1")
    expect(panel.locator('input[data-attribute="hazy"]')).to_be_checked()
    first = stage.get_attribute("data-item-id") or ""
    page.keyboard.press("Enter")
    expect(stage).not_to_have_attribute("data-item-id", first)
    saved = ui.api("GET", f"/projects/{project_id}/items/{first}")
    assert saved["final"] == {"label": "sunny", "attributes": {"hazy": True}}
