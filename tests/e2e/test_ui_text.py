"""Text in a real browser: NER spans chosen by selecting text and pressing a label key, removed
with Delete; text classification with keys. The API then holds the offsets and labels."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.ui import Ui

pytestmark = pytest.mark.slow

TEXT = "Ada Lovelace met Charles Babbage in London."

SELECT = """([start, end]) => {
  const box = document.getElementById('text');
  const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
  let at = 0, range = document.createRange(), node;
  while ((node = walker.nextNode())) {
    const n = node.textContent.length;
    if (start >= at && start <= at + n) range.setStart(node, start - at);
    if (end >= at && end <= at + n) { range.setEnd(node, end - at); break; }
    at += n;
  }
  getSelection().removeAllRanges();
  getSelection().addRange(range);
}"""


def select(page: Page, start: int, end: int) -> None:
    page.evaluate(SELECT, [start, end])


def test_ner_spans_by_selection_and_keys(ui: Ui, page: Page) -> None:
    project_id = ui.project("People and places", "text_ner", ["PER", "LOC"])
    ui.upload(project_id, {"a.txt": TEXT.encode(), "b.txt": b"Nothing to see here."})
    ui.wait_running(project_id, 2)
    ui.sign_in(page, at=f"/p/{project_id}/label")
    text = page.locator("#text")
    expect(text).to_be_visible()
    while "Ada" not in text.inner_text():  # the other text came first: skip it
        page.keyboard.press("s")
        expect(text).to_contain_text("Ada")
    spans = text.locator("mark.span")
    item_id = page.locator("#stage").get_attribute("data-item-id") or ""
    select(page, 0, 13)  # "Ada Lovelace " (the trailing space is trimmed)
    page.keyboard.press("1")
    expect(spans).to_have_count(1)
    expect(spans.nth(0)).to_have_text("Ada Lovelace")
    start = TEXT.index("Charles")
    select(page, start, start + len("Charles Babbage"))
    page.keyboard.press("1")
    start = TEXT.index("London")
    select(page, start, start + len("London"))
    page.keyboard.press("2")
    expect(spans).to_have_count(3)
    select(page, TEXT.index("met"), TEXT.index("met") + 3)
    page.keyboard.press("2")
    expect(spans).to_have_count(4)
    spans.filter(has_text="met").click()
    page.keyboard.press("Delete")
    expect(spans).to_have_count(3)
    page.keyboard.press("Enter")
    expect(page.locator("#stage")).not_to_have_attribute("data-item-id", item_id)

    labeled = ui.items(project_id, "labeled")
    assert len(labeled) == 1
    found = sorted((s["start"], s["end"], s["label"]) for s in labeled[0]["final"]["spans"])
    assert [(TEXT[a:b], label) for a, b, label in found] == [
        ("Ada Lovelace", "PER"),
        ("Charles Babbage", "PER"),
        ("London", "LOC"),
    ]


def test_text_classification_with_keys_and_previous(ui: Ui, page: Page) -> None:
    project_id = ui.project("Moods", "text_multiclass", ["happy", "sad"])
    ui.upload(project_id, {f"m{i}.txt": f"mood number {i}".encode() for i in range(3)})
    ui.wait_running(project_id, 3)
    ui.sign_in(page, at=f"/p/{project_id}/label")
    stage = page.locator("#stage")
    expect(page.locator("#text")).to_be_visible()
    first = stage.get_attribute("data-item-id") or ""
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(stage).not_to_have_attribute("data-item-id", first)
    page.keyboard.press("p")  # back to the previous one, corrected to happy
    expect(stage).to_have_attribute("data-item-id", first)
    expect(page.locator("#task-info")).to_contain_text("Correcting")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(stage).not_to_have_attribute("data-item-id", first)
    expect(page.locator("#task-info")).not_to_contain_text("Correcting")
    labeled = ui.items(project_id, "labeled")
    assert [(i["id"], i["final"]) for i in labeled] == [(first, {"label": "happy"})]
