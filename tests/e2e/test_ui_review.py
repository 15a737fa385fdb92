"""The review workspace in a real browser: the grid with boxes drawn on, filters, keyboard
navigation and selection, bulk approve of a selection and bulk reject of a filter (with the
confirmation naming how many items), the full-size viewer fixing a box in place and a span in
a text, a comment the labeler then sees, and the item's history."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.ui import Ui, png

pytestmark = pytest.mark.slow

BOX = {"label": "car", "x": 0.1, "y": 0.1, "w": 0.4, "h": 0.4}


def label_as(ui: Ui, project_id: str, token: str, value: dict[str, Any], count: int) -> list[str]:
    done = []
    for _ in range(count):
        items = ui.api("POST", f"/projects/{project_id}/tasks/next", token=token, json={"size": 1})[
            "items"
        ]
        ui.api(
            "POST",
            f"/projects/{project_id}/items/{items[0]['id']}/annotation",
            token=token,
            json={"value": value},
        )
        done.append(items[0]["id"])
    return done


def test_review_grid_filters_keys_bulk_viewer_fix_comment_history(ui: Ui, page: Page) -> None:
    project_id = ui.project("QA boxes", "image_bounding_box", ["car", "person"])
    ui.upload(project_id, {f"q{i}.png": png(i, (400, 300)) for i in range(6)})
    ui.wait_running(project_id, 6)
    rosa = ui.token_of("rosa")
    ui.api("PUT", f"/projects/{project_id}/members/rosa", json={"role": "labeler"})
    mine = label_as(ui, project_id, ui.token, {"boxes": [BOX]}, 3)
    hers = label_as(ui, project_id, rosa, {"boxes": [BOX | {"label": "person"}]}, 2)

    ui.sign_in(page, at=f"/p/{project_id}/data")
    tiles = page.locator("#items article")
    expect(tiles).to_have_count(6)
    expect(page.locator("#match-count")).to_have_text("6 items match")
    expect(tiles.first.locator(".thumb rect")).to_have_count(1)  # shapes drawn on the tiles
    page.fill("#filter-labeler", "rosa")
    page.keyboard.press("Enter")
    page.locator("#filter-labeler").blur()
    expect(tiles).to_have_count(2)
    expect(page.locator("#match-count")).to_have_text("2 items match")
    page.fill("#filter-labeler", "")
    page.select_option("#filter-state", "labeled")
    expect(tiles).to_have_count(5)

    # Keys: the first tile, right, select two, approve the selection.
    tiles.first.focus()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    expect(page.locator("#selected-count")).to_have_text("2 selected")
    picked = [tiles.nth(i).get_attribute("data-item-id") for i in range(2)]
    page.keyboard.press("a")
    for item_id in picked:
        expect(page.locator(f'article[data-item-id="{item_id}"]')).to_contain_text("approved")
    approved = {i["id"] for i in ui.items(project_id, "labeled") if i.get("review")}
    assert approved == set(picked)

    # The viewer: fix a box in place, approve the fix; the history says who did what.
    target = next(i for i in mine if i not in picked)
    page.locator(f'article[data-item-id="{target}"]').click()
    viewer = page.locator("#viewer")
    expect(viewer.locator("#canvas g.shape")).to_have_count(1)
    canvas = viewer.locator("#canvas").bounding_box()
    assert canvas is not None

    def at(x: float, y: float) -> tuple[float, float]:
        return canvas["x"] + x * canvas["width"], canvas["y"] + y * canvas["height"]

    page.mouse.click(*at(0.3, 0.2))  # pick the box, then drag its lower-right corner
    page.mouse.move(*at(0.5, 0.5))
    page.mouse.down()
    page.mouse.move(*at(0.8, 0.7), steps=4)
    page.mouse.up()
    expect(viewer.locator("#viewer-approve")).to_have_text("Approve with my fix (A)")
    page.keyboard.press("2")  # the picked box becomes a person
    expect(viewer.locator("#canvas g.shape text")).to_have_text("person")
    viewer.locator("#viewer-approve").click()
    # The next item is in the viewer, with an editor of its own: until then Esc would only
    # unpick the fixed box on the last one. (A wait on the position text alone passed at once.)
    expect(viewer.locator("#viewer-approve")).to_have_text("Approve (A)", timeout=5000)
    fixed = ui.api("GET", f"/projects/{project_id}/items/{target}")
    assert fixed["review"]["decision"] == "approved"
    (box,) = fixed["final"]["boxes"]
    assert box["label"] == "person"
    assert box["w"] == pytest.approx(0.7, abs=0.02) and box["h"] == pytest.approx(0.6, abs=0.02)
    assert fixed["annotations"][0]["value"] == {"boxes": [BOX]}  # the labeler's answer kept

    # A comment to rosa on one of hers, then the history of that item.
    page.keyboard.press("Escape")
    expect(viewer).to_have_count(0)
    page.locator(f'article[data-item-id="{hers[0]}"]').click()
    page.fill("#comment-text", "Include the shadow next time")
    page.click("#comment-send")
    expect(viewer.locator("#viewer-comments")).to_contain_text("Include the shadow next time")
    viewer.locator("#history summary").click()
    history = viewer.locator("#history li")
    expect(history.last).to_contain_text("olive commented — “Include the shadow next time”")
    expect(history.first).to_contain_text("rosa labeled: 1 box(es): person")
    if hers[0] in picked:  # approved with the keys above (the newest tiles come first)
        expect(history).to_have_count(3)
        expect(history.nth(1)).to_contain_text("olive approved")
    page.keyboard.press("Escape")
    feedback = ui.api("GET", f"/projects/{project_id}/feedback", token=rosa)["entries"]
    assert [c["text"] for c in feedback[0]["comments"]] == ["Include the shadow next time"]

    # Everything of rosa's not yet reviewed, rejected in bulk by filter, with the reason.
    page.select_option("#filter-state", "")
    page.fill("#filter-labeler", "rosa")
    page.locator("#filter-labeler").blur()
    expect(tiles).to_have_count(2)
    page.click("#reject-matching")
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text("labeler rosa")
    expect(page.locator("#confirm-ok")).to_have_text("Reject up to 2 item(s)")
    page.fill("#confirm-note", "People, not cars: see the instructions")
    page.click("#confirm-ok")
    expect(page.locator("#filter-labeler")).to_have_value("rosa")
    expect(tiles).to_have_count(0)
    for item_id in hers:
        item = ui.api("GET", f"/projects/{project_id}/items/{item_id}")
        assert item["state"] == "unlabeled" and item["comments"][-1]["text"].startswith("People")


def test_fix_a_span_in_place_in_the_viewer(ui: Ui, page: Page) -> None:
    project_id = ui.project("QA spans", "text_ner", ["PER", "LOC"])
    ui.upload(project_id, {"t.txt": b"Ada Lovelace lived in London."})
    ui.wait_running(project_id, 1)
    (item_id,) = label_as(
        ui, project_id, ui.token, {"spans": [{"label": "PER", "start": 0, "end": 3}]}, 1
    )
    ui.sign_in(page, at=f"/p/{project_id}/data")
    tile = page.locator(f'article[data-item-id="{item_id}"]')
    expect(tile.locator("mark")).to_have_text("Ada")
    tile.click()
    text = page.locator("#viewer #text")
    expect(text.locator("mark")).to_have_count(1)
    text.locator("mark").click()
    page.keyboard.press("Delete")
    page.evaluate(
        """() => { const node = document.querySelector('#viewer #text').firstChild;
        const range = document.createRange(); range.setStart(node, 0); range.setEnd(node, 12);
        getSelection().removeAllRanges(); getSelection().addRange(range); }"""
    )
    page.keyboard.press("1")
    page.evaluate(
        """() => { const box = document.querySelector('#viewer #text');
        const node = box.lastChild; const at = node.textContent.indexOf('London');
        const range = document.createRange(); range.setStart(node, at); range.setEnd(node, at + 6);
        getSelection().removeAllRanges(); getSelection().addRange(range); }"""
    )
    page.keyboard.press("2")
    expect(text.locator("mark")).to_have_count(2)
    page.click("#viewer-approve")
    expect(page.locator("#viewer-state")).to_have_text("labeled")
    found = ui.api("GET", f"/projects/{project_id}/items/{item_id}")
    assert found["final"]["spans"] == [
        {"label": "PER", "start": 0, "end": 12},
        {"label": "LOC", "start": 22, "end": 28},
    ]
