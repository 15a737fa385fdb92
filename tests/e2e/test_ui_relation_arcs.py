"""Relations drawn as arcs over the text, in a real browser: an arc per relation from one span
to the other, named, with an arrow for a directed class; clicking an arc or its list row (or
reaching the row by Tab) selects both and the two spans, and Delete then removes it; the arcs
stay on their spans when the text wraps otherwise (a phone's width); and 200 spans with 100
relations draw in under 50 ms."""

from __future__ import annotations

import random
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_ui_text import select
from tests.support.ui import Ui

pytestmark = pytest.mark.slow

TEXT = (
    "Ada Lovelace met Charles Babbage in London , where Babbage showed her the Difference Engine"
    " ; later Ada wrote notes on the Analytical Engine that Babbage designed in Marylebone ."
)
RELATIONS = [
    {"name": "born_in", "heads": ["PER"], "tails": ["LOC"]},
    {"name": "met", "directed": False},
]

# How far (px) each drawn arc's ends are from the top centres of its two spans (an end that
# runs off a line's edge is the middle of a relation split across lines, not an end).
ARC_ENDS_OFF = """() => {
  const host = document.querySelector('.arc-host');
  const o = host.getBoundingClientRect();
  const anchor = (start) => {
    const r = host.querySelector(`mark.span[data-start="${start}"]`).getClientRects()[0];
    return [r.left + r.width / 2 - o.left, r.top - o.top];
  };
  let worst = 0;
  for (const row of document.querySelectorAll('#relation-list li[data-label]')) {
    const arc = host.querySelector(`g.arc[data-index="${row.dataset.index}"]`);
    const lines = arc ? [...arc.querySelectorAll('path.arc-line')] : [];
    if (!lines.length) return Infinity;
    const first = lines[0].getPointAtLength(0);
    const last = lines.at(-1).getPointAtLength(lines.at(-1).getTotalLength());
    const [fx, fy] = anchor(row.dataset.from), [tx, ty] = anchor(row.dataset.to);
    worst = Math.max(worst, Math.hypot(first.x - fx, first.y - fy));
    worst = Math.max(worst, Math.hypot(last.x - tx, last.y - ty));
  }
  return worst;
}"""
LINES = """() => {
  const range = document.createRange();
  range.selectNodeContents(document.querySelector('#text'));
  return new Set([...range.getClientRects()].map((r) => Math.round(r.bottom))).size;
}"""


def test_arcs_show_select_and_follow_the_wrap(ui: Ui, page: Page) -> None:
    project_id = ui.project("Arcs", "text_ner", ["PER", "LOC"], relationClasses=RELATIONS)
    ui.upload(project_id, {"a.txt": TEXT.encode()})
    ui.wait_running(project_id, 1)
    page.set_viewport_size({"width": 1280, "height": 800})
    ui.sign_in(page, at=f"/p/{project_id}/label")
    text = page.locator("#text")
    expect(text).to_contain_text("Ada")
    for word, key in (("Ada Lovelace", "1"), ("Charles Babbage", "1"), ("Marylebone", "2")):
        start = TEXT.index(word)
        select(page, start, start + len(word))
        page.keyboard.press(key)
    expect(text.locator("mark.span")).to_have_count(3)
    arcs = page.locator("svg.arcs g.arc")
    expect(arcs).to_have_count(0)
    # Keyboard only: Ada and Charles met (undirected); Ada was born in Marylebone (directed).
    page.keyboard.press("ArrowDown")
    page.keyboard.press("l")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.keyboard.press("l")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.keyboard.press("1")  # born_in, of the two that fit a person and a place
    rows = page.locator("#relation-list li[data-label]")
    expect(rows).to_have_count(2)
    expect(arcs).to_have_count(2)
    met, born = arcs.filter(has_text="met"), arcs.filter(has_text="born_in")
    expect(met.locator(".arc-label")).to_have_text("met")
    expect(met.locator("path.arc-line[marker-end]")).to_have_count(0)  # undirected: no arrow
    expect(born.locator("path.arc-line[marker-end]")).to_have_count(1)
    assert page.evaluate(ARC_ENDS_OFF) < 1.5

    # Clicking an arc selects it, its row and its two spans; Esc lets go.
    met.locator(".arc-label").click()
    expect(met).to_have_class("arc selected")
    expect(rows.filter(has_text="met")).to_have_class("selected")
    expect(text.locator("mark.related")).to_have_text(["Ada Lovelace", "Charles Babbage"])
    page.keyboard.press("Escape")
    expect(page.locator("svg.arcs g.arc.selected")).to_have_count(0)
    expect(text.locator("mark.related")).to_have_count(0)
    # The list is the keyboard's way: Tab reaches each row (past its delete button) and selects it.
    rows.nth(0).focus()
    expect(rows.nth(0)).to_have_class("selected")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(rows.nth(1)).to_be_focused()
    expect(rows.nth(1)).to_have_class("selected")
    expect(born).to_have_class("arc selected")
    expect(text.locator("mark.related")).to_have_text(["Ada Lovelace", "Marylebone"])

    # A phone's width: the text wraps onto more lines, and every arc moves with its spans.
    wide = page.evaluate(LINES)
    page.set_viewport_size({"width": 360, "height": 740})
    page.wait_for_function(f"() => ({LINES})() > {wide}")
    page.wait_for_function(f"() => ({ARC_ENDS_OFF})() < 1.5")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.wait_for_function(f"() => ({LINES})() === {wide}")
    page.wait_for_function(f"() => ({ARC_ENDS_OFF})() < 1.5")
    # Delete takes the selected relation, not a span (a relation or a span is selected, not both).
    expect(text.locator("mark.selected")).to_have_count(0)
    page.keyboard.press("Delete")
    expect(rows).to_have_count(1)
    expect(arcs).to_have_count(1)
    expect(text.locator("mark.span")).to_have_count(3)


def many(spans: int, relations: int) -> tuple[str, dict[str, Any]]:
    """A text of `spans` words, each a span, and `relations` relations: half between
    neighbours, half between spans far apart (stacked, and across lines)."""
    words = [f"w{n:03d}" for n in range(spans)]
    value: dict[str, Any] = {"spans": [], "relations": []}
    for n in range(spans):
        value["spans"].append(
            {"label": "PER" if n % 2 else "LOC", "start": 5 * n, "end": 5 * n + 4}
        )
    pairs = {(2 * n, 2 * n + 1) for n in range(relations // 2)}
    rng = random.Random(19)
    while len(pairs) < relations:
        a, b = sorted(rng.sample(range(spans), 2))
        pairs.add((a, b))
    value["relations"] = [{"label": "near", "from": 5 * a, "to": 5 * b} for a, b in sorted(pairs)]
    return " ".join(words), value


def test_200_spans_and_100_relations_draw_in_under_50_ms(ui: Ui, page: Page) -> None:
    project_id = ui.project(
        "Busy text", "text_ner", ["PER", "LOC"], relationClasses=[{"name": "near"}]
    )
    body, value = many(200, 100)
    ui.upload(project_id, {"busy.txt": body.encode()})
    ui.wait_running(project_id, 1)
    (item,) = ui.api("POST", f"/projects/{project_id}/tasks/next", json={"size": 1})["items"]
    ui.api("POST", f"/projects/{project_id}/items/{item['id']}/annotation", json={"value": value})
    page.set_viewport_size({"width": 1280, "height": 800})
    ui.sign_in(page, at=f"/p/{project_id}/data")
    page.locator(f'article[data-item-id="{item["id"]}"]').click()
    arcs = page.locator("#viewer svg.arcs g.arc")
    expect(arcs).to_have_count(100)
    assert page.evaluate(ARC_ENDS_OFF) < 1.5
    # Drawn again in full (the spans and the arcs, laid out): a span picked, then a phone's width.
    page.locator("#viewer mark.span").nth(150).click()
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function(f"() => ({ARC_ENDS_OFF})() < 1.5")
    took = page.evaluate(
        """() => ({
            text: performance.getEntriesByName('loupe:text-drawn').map((e) => e.duration),
            arcs: performance.getEntriesByName('loupe:arcs-drawn').map((e) => e.duration),
        })"""
    )
    print(f"\n200 spans, 100 relations (ms): spans and arcs {took['text']}, arcs {took['arcs']}")
    assert len(took["text"]) == len(took["arcs"]) == 1  # the last of each is kept
    assert took["text"][0] < 50 and took["arcs"][0] < 50, took
