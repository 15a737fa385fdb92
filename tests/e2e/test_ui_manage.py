"""Owner screens in a real browser: reject an item in the Data tab and get it back in the queue;
add label classes with each of the three choices and rename one (Details tab); members and a
labeler who sees only labeling; and user text (names, labels, instructions) never runs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.ui import Ui, png

pytestmark = pytest.mark.slow


def label_all(ui: Ui, project_id: str, value: dict[str, Any]) -> int:
    count = 0
    while items := ui.api("POST", f"/projects/{project_id}/tasks/next", json={"size": 1})["items"]:
        ui.api(
            "POST",
            f"/projects/{project_id}/items/{items[0]['id']}/annotation",
            json={"value": value},
        )
        count += 1
    return count


def eventually(check: Any, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the API never reached the expected state"
        time.sleep(0.2)


def test_reject_in_data_tab_puts_the_item_back_in_the_queue(ui: Ui, page: Page) -> None:
    project_id = ui.project("Review me", "image_bounding_box", ["car"])
    ui.upload(project_id, {"only.png": png(5)})
    ui.wait_running(project_id, 1)
    box = {"label": "car", "x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4}
    assert label_all(ui, project_id, {"boxes": [box]}) == 1
    item_id = ui.items(project_id, "labeled")[0]["id"]
    eventually(lambda: ui.items(project_id)[0].get("thumbnailUrl"))

    ui.sign_in(page, at=f"/p/{project_id}/data")
    page.select_option("#filter-state", "labeled")
    card = page.locator(f'article[data-item-id="{item_id}"]')
    expect(card).to_contain_text("1 box(es): car")
    expect(card.locator(".thumb img")).to_be_visible()
    expect(card.locator(".thumb rect")).to_have_count(1)  # the box drawn on the thumbnail
    card.locator(".pick").check()
    page.click("#bulk-reject")
    expect(page.locator("#confirm-dialog")).to_contain_text("1 answer(s) come off")
    page.fill("#confirm-note", "the box misses the bumper")
    page.click("#confirm-ok")
    expect(page.locator(f'article[data-item-id="{item_id}"]')).to_have_attribute(
        "data-state", "unlabeled"
    )
    assert ui.api("GET", f"/projects/{project_id}/items/{item_id}")["state"] == "unlabeled"

    page.click("#tab-label")
    expect(page.locator("#stage")).to_have_attribute("data-item-id", item_id)
    expect(page.locator("#item-comments")).to_contain_text("the box misses the bumper")


def test_add_classes_with_each_choice_and_rename(ui: Ui, page: Page) -> None:
    project_id = ui.project("Growing classes", "image_multiclass", ["cat", "dog"])
    ui.upload(project_id, {f"c{i}.png": png(i) for i in range(3)})
    ui.wait_running(project_id, 3)
    assert label_all(ui, project_id, {"label": "cat"}) == 3
    ui.sign_in(page, at=f"/p/{project_id}/details")
    classes = page.locator("#class-list li")
    expect(page.locator("#add-classes-button")).to_be_disabled()  # only while paused
    page.click("#pause")
    expect(page.locator("#details-status")).to_contain_text("paused")

    def add(name: str, choice: str) -> None:
        page.fill("#add-classes", name)
        page.check(f'input[name="existing"][value="{choice}"]')
        page.click("#add-classes-button")
        if choice != "keep":  # labels change: it asks first, naming how many items
            expect(page.locator("#confirm-dialog")).to_contain_text("item(s)")
            page.click("#confirm-ok")
        expect(classes.filter(has_text=name)).to_have_count(1)

    def states() -> list[tuple[str, Any]]:
        return sorted((i["state"], i.get("prefill")) for i in ui.items(project_id))

    add("bird", "keep")
    assert states() == [("labeled", None)] * 3
    add("fish", "keep_as_defaults")
    eventually(lambda: states() == [("unlabeled", {"label": "cat"})] * 3)

    page.click("#resume")
    expect(page.locator("#details-status")).to_contain_text("running")
    assert label_all(ui, project_id, {"label": "dog"}) == 3
    page.click("#pause")
    expect(page.locator("#details-status")).to_contain_text("paused")
    add("owl", "start_over")
    eventually(
        lambda: (
            [(i["state"], i.get("final")) for i in ui.items(project_id)]
            == [("unlabeled", None)] * 3
        )
    )
    assert all(i.get("prefill") != {"label": "dog"} for i in ui.items(project_id))

    page.select_option("#rename-from", "dog")
    page.fill("#rename-to", "puppy")
    page.click("#rename-button")
    expect(classes.filter(has_text="puppy")).to_have_count(1)
    names = [c["name"] for c in ui.api("GET", f"/projects/{project_id}/label-classes")]
    assert names == ["cat", "puppy", "bird", "fish", "owl"]


def test_members_and_a_labeler_sees_only_labeling(ui: Ui, page: Page, browser: Browser) -> None:
    project_id = ui.project("Team work", "image_multiclass", ["cat", "dog"])
    ui.upload(project_id, {"t.png": png(7)})
    ui.wait_running(project_id, 1)
    lara = ui.token_of("lara")
    ui.sign_in(page, at=f"/p/{project_id}/details")
    page.fill("#member-user", "lara")
    page.select_option("#member-role", "labeler")
    page.click("#add-member")
    expect(page.locator('#members tr[data-user="lara"]')).to_be_visible()
    assert ui.api("GET", f"/projects/{project_id}/members")["lara"] == "labeler"

    context = browser.new_context()
    try:
        other = context.new_page()
        ui.sign_in(other, token=lara)
        row = other.locator("tr", has_text="Team work")
        expect(row).to_contain_text("labeler")
        row.locator("a").click()
        expect(other.locator(".tabs a")).to_have_count(1)
        expect(other.locator("#tab-label")).to_be_visible()
        expect(other.locator("#stage img.photo")).to_be_visible()
        other.goto(f"{ui.url}/#/p/{project_id}/details")  # not hers: she lands on labeling
        expect(other.locator("#tab-details")).to_have_count(0)
        expect(other.locator("#tab-label.active")).to_be_visible()
    finally:
        context.close()


HOSTILE = "<img src=x onerror=\"window.__xss='name'\">"
LABEL = "<script>window.__xss='label'</script>"
LABEL2 = "<img src=x onerror=\"window.__xss='label2'\">"
INSTRUCTIONS = (
    "# Rules\n\nHi <script>window.__xss='md'</script> "
    "<img src=x onerror=\"window.__xss='md2'\">\n\n"
    "[bad](javascript:window.__xss='js') and [good](https://example.com)"
)


def test_user_text_never_runs_as_markup(ui: Ui, page: Page) -> None:
    project_id = ui.project(
        HOSTILE, "image_multiclass", [LABEL, LABEL2], instructions={"markdown": INSTRUCTIONS}
    )
    ui.upload(project_id, {"x.png": png(9)})
    ui.wait_running(project_id, 1)
    assert label_all(ui, project_id, {"label": LABEL}) == 1
    ui.api(
        "POST",
        f"/projects/{project_id}/items/{ui.items(project_id)[0]['id']}/review",
        json={"decision": "reject"},
    )
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    ui.sign_in(page)
    expect(page.locator("#projects")).to_contain_text(HOSTILE)
    for tab in ("label", "dashboard", "data", "details"):
        page.goto(f"{ui.url}/#/p/{project_id}/{tab}")
        expect(page.locator(f"#tab-{tab}.active")).to_be_visible()
        page.wait_for_timeout(300)
    page.goto(f"{ui.url}/#/p/{project_id}/label")
    # LABEL holds a "/", so the list shows it as the hierarchy it names, as text.
    classes = page.locator("#labels li[data-label]")
    expect(classes.nth(0)).to_have_attribute("data-label", LABEL)
    expect(classes.nth(0)).to_contain_text("script>")
    expect(page.locator("#labels")).to_contain_text("<script>window.__xss='label'<")
    expect(page.locator("#labels")).to_contain_text(LABEL2)
    expect(page.locator("#project-name")).to_have_text(HOSTILE)
    rules = page.locator("#instructions .markdown")
    expect(rules.locator("h1")).to_have_text("Rules")
    assert rules.locator("script").count() == 0
    assert rules.locator("[onerror]").count() == 0
    good = rules.locator("a", has_text="good")
    expect(good).to_have_attribute("target", "_blank")
    expect(good).to_have_attribute("rel", "noopener noreferrer")
    assert (rules.locator("a", has_text="bad").get_attribute("href") or "").find("javascript") < 0
    expect(page.locator("#stage img.photo")).to_be_visible()
    page.keyboard.press("1")
    expect(page.locator("#stage .chosen")).to_contain_text(LABEL)
    page.keyboard.press("Enter")
    eventually(lambda: len(ui.items(project_id, "labeled")) == 1)
    assert ui.items(project_id, "labeled")[0]["final"] == {"label": LABEL}
    assert page.evaluate("() => window.__xss") is None
    assert dialogs == []


def test_export_coco_from_the_dialog(ui: Ui, page: Page) -> None:
    project_id = ui.project("Export me", "image_bounding_box", ["car"])
    ui.upload(project_id, {"e.png": png(11, (200, 100))})
    ui.wait_running(project_id, 1)
    box = {"label": "car", "x": 0.25, "y": 0.5, "w": 0.5, "h": 0.25}
    assert label_all(ui, project_id, {"boxes": [box]}) == 1
    ui.sign_in(page, at=f"/p/{project_id}/dashboard")
    expect(page.locator('#state-counts tr[data-state="labeled"] td.num')).to_have_text("1")
    expect(page.locator("#labelers")).to_contain_text("olive")
    # Submitted, skipped, today, answers held: olive's one box, counted and held.
    cells = page.locator("#labelers tr", has_text="olive").locator("td")
    expect(cells.nth(1)).to_have_text("1")
    expect(cells.nth(4)).to_have_text("1")
    page.click("#tab-details")
    page.click("#export-open")
    page.select_option("#export-format", "coco")
    page.click("#export-start")
    link = page.locator("#export-download")
    expect(link).to_be_visible(timeout=20_000)
    with page.expect_download() as download:
        link.click()
    coco = json.loads(Path(download.value.path()).read_text())
    assert [c["name"] for c in coco["categories"]] == ["car"]
    assert len(coco["images"]) == 1
    assert coco["annotations"][0]["bbox"] == pytest.approx([50, 50, 100, 25], abs=0.5)
    jobs = ui.api("GET", f"/projects/{project_id}/exports")["exports"]
    assert [(j["format"], j["status"]) for j in jobs] == [("coco", "succeeded")]


def test_the_session_hides_the_token_and_stored_files_never_run(ui: Ui, page: Page) -> None:
    project_id = ui.project("Inert files", "image_multiclass", ["a"])
    page_bytes = b"<!doctype html><script>alert('ran')</script><p>page</p>"
    for path, data in (("real.png", png(1)), ("page.png", page_bytes)):
        ui.api(
            "PUT",
            f"/projects/{project_id}/files/{path}",
            content=data,
            headers={"Content-Type": "text/html"},
        )
    ui.wait_running(project_id, 2)
    items = {i["path"]: i["id"] for i in ui.items(project_id)}
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    ui.sign_in(page)
    expect(page.locator("#projects")).to_contain_text("Inert files")
    # The token went into an HttpOnly cookie: nothing a script can read holds it.
    assert ui.token not in page.evaluate("() => JSON.stringify(localStorage) + document.cookie")
    media = f"{ui.url}/api/projects/{project_id}/items/{{}}/media/display"
    page.goto(media.format(items["real.png"]))  # the browser shows a picture, whatever was said
    assert page.evaluate("() => document.contentType") == "image/png"
    page.goto(f"{ui.url}/")
    with page.expect_download() as download:  # a page dressed as a picture only downloads
        page.evaluate("(url) => { location.href = url; }", media.format(items["page.png"]))
    assert download.value.suggested_filename == "page.png"
    page.wait_for_timeout(300)
    assert dialogs == []
    # Signing out ends the browser's session.
    page.goto(f"{ui.url}/")
    page.locator("#sign-out").click()
    expect(page.locator("#signin")).to_be_visible()
    assert page.request.get(f"{ui.url}/api/me").status == 401


def test_someone_outside_a_project_is_told_why(ui: Ui, page: Page) -> None:
    project_id = ui.project("Members only", "image_multiclass", ["a"])
    outsider = ui.token_of("outsider")
    ui.sign_in(page, outsider)
    page.goto(f"{ui.url}/#/p/{project_id}/label")
    expect(page.locator("#not-member h1")).to_have_text("You are not a member of this project")
    page.goto(f"{ui.url}/#/p/no-such-project/label")
    expect(page.locator("#not-member h1")).to_have_text("No such project")
    # The list gets every project's progress in one request: the outsider's is empty.
    assert ui.api("GET", "/projects", token=outsider) == []
    listed = {p["name"]: p["progress"] for p in ui.api("GET", "/projects")}
    assert listed["Members only"] == {"items": 0, "labeled": 0}
