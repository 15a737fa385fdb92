"""Keypoints in a real browser: the wizard gives a class its point template (and Details a class
added later its own); a labeler places an instance's points in template order by clicking (the
hint names the next point), marks one absent, drags one, steps to another and marks it occluded;
a second item is labeled with the keyboard alone; the review grid draws the points, and the
viewer moves a point and approves the fix. What is submitted is what the API holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_ui_shapes import Canvas
from tests.support.ui import Ui, png

pytestmark = pytest.mark.slow

FACE = {
    "name": "face",
    "keypoints": {"points": ["nose", "left_eye", "right_eye"], "edges": [[0, 1], [0, 2]]},
}
HAND = {"name": "hand", "keypoints": {"points": ["wrist", "thumb"], "edges": [[0, 1]]}}


def labeled(ui: Ui, project_id: str) -> dict[str, dict[str, Any]]:
    return {i["path"]: i["final"] for i in ui.items(project_id, "labeled")}


def xy(point: dict[str, Any]) -> tuple[float, float]:
    return point["x"], point["y"]


def test_the_wizard_gives_each_class_its_point_template(ui: Ui, page: Page, tmp_path: Path) -> None:
    (tmp_path / "pose.png").write_bytes(png(7))
    ui.sign_in(page)
    page.click("#new-project")
    page.fill("#w-name", "Poses from the wizard")
    page.select_option("#w-type", "image_keypoints")
    page.click("#w-next")
    page.set_input_files("#w-files", [str(tmp_path / "pose.png")])
    page.click("#w-next")
    expect(page.locator("#w-classes-note")).to_contain_text("pairs of point numbers")
    page.fill("#w-classes", "face = f: nose, left_eye, right_eye | 0-1, 0-9")
    for _ in range(3):
        page.click("#w-next")
    page.click("#w-create")  # edge 0-9 names no point: the API says so, nothing is made
    expect(page.locator("#error")).to_contain_text("edge 0-9 names a point that does not exist")
    page.click('button:text-is("Back")')
    page.click('button:text-is("Back")')
    page.click('button:text-is("Back")')
    page.fill("#w-classes", "face = f: nose, left_eye, right_eye | 0-1, 0-2")
    for _ in range(3):
        page.click("#w-next")
    expect(page.locator("#w-review-classes")).to_contain_text(
        "face (points: nose, left_eye, right_eye; 2 edges)"
    )
    page.click("#w-create")
    expect(page.locator("#tab-dashboard.active")).to_be_visible()  # made, its file uploaded
    project = next(p for p in ui.api("GET", "/projects") if p["name"] == "Poses from the wizard")
    assert project["labelClasses"] == [
        {"name": "face", "key": "f", "keypoints": FACE["keypoints"]},
    ]

    # Details: a class added mid-project brings its own template.
    page.click("#tab-details")
    page.click("#pause")
    expect(page.locator("#details-status")).to_contain_text("paused")
    classes = page.locator("#class-list li")
    expect(classes.first).to_contain_text("face — nose, left_eye, right_eye | 0-1, 0-2")
    page.fill("#add-classes", "hand")  # no template: said before anything is sent
    page.click("#add-classes-button")
    expect(page.locator("#error")).to_contain_text("“hand” has no point template")
    page.fill("#add-classes", "hand: wrist, thumb | 0-1")
    page.click("#add-classes-button")
    expect(classes.filter(has_text="hand — wrist, thumb | 0-1")).to_have_count(1)
    hand = ui.api("GET", f"/projects/{project['id']}/label-classes")[1]
    assert {k: v for k, v in hand["keypoints"].items() if v is not None} == HAND["keypoints"]


def test_place_edit_by_mouse_and_keyboard_submit_and_review(ui: Ui, page: Page) -> None:
    project_id = ui.project("Faces", "image_keypoints", [], labelClasses=[FACE, HAND])
    ui.upload(project_id, {"a.png": png(1, (400, 400)), "b.png": png(2, (400, 400))})
    ui.wait_running(project_id, 2)
    ui.sign_in(page, at=f"/p/{project_id}/label")
    expect(page.locator("#canvas")).to_be_visible()
    canvas = Canvas(page)
    hint = page.locator("#keypoint-hint")
    points = page.locator("#canvas circle.point")
    first = page.locator("#stage").get_attribute("data-item-id") or ""
    first_path = page.locator("#task-info").inner_text()

    # The mouse: click the points in order, the hint naming the next one.
    expect(hint).to_contain_text("Click to start a face at its first point (nose)")
    canvas.click(0.5, 0.5)
    expect(hint).to_contain_text("point 2 of 3: “left_eye” — click to place it")
    canvas.click(0.4, 0.4)
    expect(hint).to_contain_text("point 3 of 3: “right_eye”")
    page.keyboard.press("x")  # not in the image: absent, and placing ends
    expect(hint).to_contain_text("“right_eye” is absent")
    expect(points).to_have_count(2)
    expect(page.locator("#canvas line.bone")).to_have_count(1)  # nose–left_eye only
    canvas.drag((0.4, 0.4), (0.42, 0.36))  # drag the left eye
    expect(hint).to_contain_text("“left_eye” is visible")
    page.keyboard.press("Tab")  # on to the right eye, placed from the keys as occluded
    page.keyboard.press("o")
    expect(hint).to_contain_text("“right_eye” is occluded")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#canvas circle.point.occluded")).to_have_count(1)
    expect(page.locator("#canvas line.bone")).to_have_count(2)
    page.keyboard.press("Escape")
    page.keyboard.press("2")  # the next instance is a hand
    expect(hint).to_contain_text("Click to start a hand at its first point (wrist)")
    canvas.click(0.1, 0.8)
    canvas.click(0.2, 0.8)
    expect(page.locator("#canvas g.instance")).to_have_count(2)
    page.keyboard.press("Enter")
    expect(page.locator("#stage")).not_to_have_attribute("data-item-id", first)

    # The keyboard alone: N starts a face, V places its nose, arrows move it, Tab, V, Tab, X.
    page.keyboard.press("1")
    page.keyboard.press("n")
    expect(hint).to_contain_text("point 1 of 3: “nose” — click to place it")
    page.keyboard.press("v")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Tab")
    page.keyboard.press("v")
    page.keyboard.press("Tab")
    page.keyboard.press("x")
    expect(points).to_have_count(2)
    page.keyboard.press("Enter")
    expect(page.locator("#no-tasks")).to_be_visible()

    values = labeled(ui, project_id)
    mouse, keys = values[first_path], values[next(p for p in values if p != first_path)]
    face, hand = mouse["keypoints"]
    assert face["label"] == "face" and hand["label"] == "hand"
    nose, left, right = face["points"]
    assert nose["v"] == 2 and xy(nose) == pytest.approx((0.5, 0.5), abs=0.01)
    assert left["v"] == 2 and xy(left) == pytest.approx((0.42, 0.36), abs=0.01)
    assert right["v"] == 1 and xy(right) == pytest.approx((0.47, 0.37), abs=0.01)
    wrist, thumb = hand["points"]
    assert xy(wrist) == pytest.approx((0.1, 0.8), abs=0.01)
    assert xy(thumb) == pytest.approx((0.2, 0.8), abs=0.01)
    (typed,) = keys["keypoints"]
    assert [p["v"] for p in typed["points"]] == [2, 2, 0]
    assert xy(typed["points"][0]) == pytest.approx((0.55, 0.5), abs=1e-6)
    assert xy(typed["points"][1]) == pytest.approx((0.6, 0.5), abs=1e-6)

    # Review: the grid draws the points; the viewer moves one and approves the fix.
    page.goto(f"{ui.url}/#/p/{project_id}/data")
    tile = page.locator(f'#items article:has-text("{first_path}")')
    expect(tile.locator(".thumb circle.keypoint")).to_have_count(5)
    expect(tile.locator(".thumb line")).to_have_count(3)
    tile.click()
    viewer = page.locator("#viewer")
    expect(viewer.locator("#canvas g.instance")).to_have_count(2)
    shown = Canvas(page)
    shown.click(0.5, 0.5)  # pick the nose; the arrows now move it, not to the next item
    page.keyboard.press("Shift+ArrowUp")
    expect(viewer.locator("#viewer-approve")).to_have_text("Approve with my fix (A)")
    viewer.locator("#viewer-approve").click()
    expect(viewer.locator("#viewer-position")).to_have_text("2 of 2")
    fixed = labeled(ui, project_id)[first_path]["keypoints"][0]["points"][0]
    assert xy(fixed) == pytest.approx((0.5, 0.45), abs=0.01)
