"""Relations between spans in a real browser: drawn with the mouse (pick a span, Link, pick the
other, choose the class) and with the keyboard alone (↓/↑, L, ↓, Enter), deleted from the
list, submitted; then a reviewer sees them in the viewer, deletes one and approves the fix."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_ui_text import select
from tests.support.ui import Ui

pytestmark = pytest.mark.slow

TEXT = "Ada Lovelace met Charles Babbage in London ."
ADA, CHARLES, LONDON = 0, TEXT.index("Charles"), TEXT.index("London")
RELATIONS = [
    {"name": "born_in", "heads": ["PER"], "tails": ["LOC"]},
    {"name": "met", "directed": False},
]


def test_relations_by_mouse_and_keyboard_then_fixed_in_review(ui: Ui, page: Page) -> None:
    project_id = ui.project("Who met whom", "text_ner", ["PER", "LOC"], relationClasses=RELATIONS)
    ui.upload(project_id, {"a.txt": TEXT.encode()})
    ui.wait_running(project_id, 1)
    ui.sign_in(page, at=f"/p/{project_id}/label")
    text = page.locator("#text")
    expect(text).to_contain_text("Ada")
    for start, end, key in (
        (ADA, 12, "1"),
        (CHARLES, CHARLES + 15, "1"),
        (LONDON, LONDON + 6, "2"),
    ):
        select(page, start, end)
        page.keyboard.press(key)
    spans = text.locator("mark.span")
    expect(spans).to_have_count(3)
    rows = page.locator("#relation-list li[data-label]")

    # Keyboard only: ↓ picks Ada, ↓ Charles; L links from Charles; ↓ moves to Ada, Enter takes
    # it: only `met` fits two people, so it is made at once.
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(text.locator("mark.selected")).to_have_text("Charles Babbage")
    page.keyboard.press("l")
    expect(text.locator("mark.link-from")).to_have_text("Charles Babbage")
    page.keyboard.press("ArrowDown")
    expect(text.locator("mark.link-to")).to_have_text("Ada Lovelace")
    page.keyboard.press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text("met")

    # The mouse: Ada, Link, London, then the class (both fit a person and a place).
    spans.filter(has_text="Ada").click()
    page.click("#relation-link")
    spans.filter(has_text="London").click()
    choices = page.locator("#relation-choices button")
    expect(choices).to_have_count(2)
    page.locator('#relation-choices button[data-name="born_in"]').click()
    expect(rows).to_have_count(2)
    # One more, by keys, and deleted from the list.
    page.keyboard.press("l")
    spans.filter(has_text="London").click()
    page.keyboard.press("2")  # the second choice: met
    expect(rows).to_have_count(3)
    rows.filter(has_text="London").filter(has_text="met").locator("button").click()
    expect(rows).to_have_count(2)
    item_id = page.locator("#stage").get_attribute("data-item-id") or ""
    page.locator("#text").click(position={"x": 1, "y": 1})  # focus off the buttons
    page.keyboard.press("Enter")
    expect(page.locator("#stage")).not_to_have_attribute("data-item-id", item_id)

    (labeled,) = ui.items(project_id, "labeled")
    assert labeled["final"]["relations"] == [
        {"label": "met", "from": ADA, "to": CHARLES},
        {"label": "born_in", "from": ADA, "to": LONDON},
    ]

    # Review: the viewer lists the relations; the reviewer deletes one and approves the fix.
    ui.sign_in(page, at=f"/p/{project_id}/data")
    tile = page.locator(f'article[data-item-id="{labeled["id"]}"]')
    expect(tile.locator(".relations-badge")).to_have_text("2 relations")
    tile.click()
    listed = page.locator("#viewer #relation-list li[data-label]")
    expect(listed).to_have_count(2)
    expect(page.locator("#viewer-answers")).to_contain_text("2 relation(s)")
    listed.filter(has_text="met").locator("button").click()
    expect(listed).to_have_count(1)
    expect(page.locator("#viewer-approve")).to_have_text("Approve with my fix (A)")
    page.click("#viewer-approve")
    expect(page.locator("#viewer-state")).to_have_text("labeled")
    found = ui.api("GET", f"/projects/{project_id}/items/{labeled['id']}")
    assert found["final"]["relations"] == [{"label": "born_in", "from": ADA, "to": LONDON}]


def test_an_owner_adds_relation_classes_in_details(ui: Ui, page: Page) -> None:
    project_id = ui.project("Kinship", "text_ner", ["PER", "LOC"])
    ui.sign_in(page, at=f"/p/{project_id}/details")
    card = page.locator("#relation-classes")
    expect(card.locator("#relation-class-list")).to_contain_text("None.")
    card.locator("#relation-name").fill("born_in")
    card.locator("#relation-heads").select_option(["PER"])
    card.locator("#relation-tails").select_option(["LOC"])
    card.locator("#add-relation-class").click()
    expect(page.locator("#details-note")).to_have_text("Relation classes saved.")
    expect(page.locator('#relation-class-list li[data-name="born_in"]')).to_have_count(1)
    card = page.locator("#relation-classes")
    card.locator("#relation-name").fill("sibling_of")
    card.locator("#relation-directed").uncheck()
    card.locator("#add-relation-class").click()
    expect(page.locator("#relation-class-list li")).to_have_count(2)
    expect(page.locator('#relation-class-list li[data-name="born_in"]')).to_contain_text(
        "PER → LOC"
    )
    assert ui.api("GET", f"/projects/{project_id}")["relationClasses"] == [
        {"name": "born_in", "directed": True, "heads": ["PER"], "tails": ["LOC"]},
        {"name": "sibling_of", "directed": False},
    ]
    # A broken one is refused with the API's reason, and nothing changes.
    expect(page.locator('#relation-class-list li[data-name="sibling_of"]')).to_have_count(1)
    page.locator("#relation-name").fill("Born_In")
    page.locator("#add-relation-class").click()
    expect(page.locator("#error")).to_contain_text("names are unique")
    assert len(ui.api("GET", f"/projects/{project_id}")["relationClasses"]) == 2
