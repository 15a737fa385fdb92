"""Project and review screens in a real browser: a project made in the wizard from a blob
container path, the review grid loading its next page as it scrolls, and a reviewer settling
an item the labelers disagreed on with a label of their own in the viewer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.ui import Ui, eventually, png

pytestmark = pytest.mark.slow


def test_wizard_with_a_container_path(ui: Ui, page: Page) -> None:
    folder = ui.data_dir / "blobs" / "lake" / "wizard" / "cats"
    folder.mkdir(parents=True)
    for i in range(3):
        (folder / f"cat{i}.png").write_bytes(png(i))
    (folder.parent / "notes.txt").write_text("not an image")  # outside the glob's file types

    ui.sign_in(page)
    page.click("#new-project")
    page.fill("#w-name", "From the lake")
    page.select_option("#w-type", "image_multiclass")
    page.click("#w-next")
    page.select_option("#w-source", "blob")
    expect(page.locator("#w-files")).to_be_hidden()
    page.fill("#w-container", "lake")
    page.fill("#w-path", "wizard/**")
    page.click("#w-next")
    page.fill("#w-classes", "cat\ndog")
    page.click("#w-next")
    page.click("#w-next")
    page.click("#w-next")
    expect(page.locator("#w-review")).to_contain_text("lake/wizard/**")
    page.click("#w-create")
    expect(page.locator("#tab-dashboard.active")).to_be_visible(timeout=20_000)
    project = next(p for p in ui.api("GET", "/projects") if p["name"] == "From the lake")
    assert project["dataset"] == {"source": "blob", "container": "lake", "path": "wizard/**"}
    ui.wait_running(project["id"], 3)
    expect(page.locator("#project-status")).to_have_text("running", timeout=10_000)
    expect(page.locator('#state-counts tr[data-state="unlabeled"] td.num')).to_have_text("3")
    page.click("#tab-details")
    expect(page.locator(".card dl")).to_contain_text("lake/wizard/**")
    page.click("#tab-label")
    expect(page.locator("#stage img.photo")).to_be_visible()
    assert sorted(i["path"] for i in ui.items(project["id"])) == [
        f"wizard/cats/cat{i}.png" for i in range(3)
    ]


def test_data_tab_loads_the_next_page_on_scroll(ui: Ui, page: Page) -> None:
    project_id = ui.project("Many items", "image_multiclass", ["a", "b"])
    ui.upload(project_id, {f"many{i:02}.png": png(i, (64, 48)) for i in range(67)})
    ui.wait_running(project_id, 67)
    ui.sign_in(page, at=f"/p/{project_id}/data")
    cards = page.locator("#items article")
    expect(cards).to_have_count(60)  # the first page of 60; the rest waits below the fold
    expect(page.locator("#match-count")).to_have_text("67 items match")
    page.wait_for_timeout(500)
    expect(cards).to_have_count(60)
    page.locator(".sentinel").scroll_into_view_if_needed()
    expect(cards).to_have_count(67)
    expect(page.locator(".sentinel")).to_have_text("")
    ids = [cards.nth(i).get_attribute("data-item-id") for i in range(67)]
    assert len(set(ids)) == 67  # no item twice across the pages
    page.select_option("#filter-state", "labeled")  # a new filter starts from the first page
    expect(cards).to_have_count(0)
    expect(page.locator(".sentinel")).to_have_text("No items.")


def test_settle_a_needs_review_item_with_a_new_label(ui: Ui, page: Page) -> None:
    project_id = ui.project(
        "Disagreement",
        "image_multiclass",
        ["cat", "dog", "fox"],
        consensus={"minLabelers": 2, "maxLabelers": 2},
    )
    ui.upload(project_id, {"odd.png": png(4)})
    ui.wait_running(project_id, 1)
    rex = ui.token_of("rex")
    ui.api("PUT", f"/projects/{project_id}/members/rex", json={"role": "labeler"})
    for token, label in ((ui.token, "cat"), (rex, "dog")):
        item = ui.api("POST", f"/projects/{project_id}/tasks/next", token=token, json={"size": 1})
        ui.api(
            "POST",
            f"/projects/{project_id}/items/{item['items'][0]['id']}/annotation",
            token=token,
            json={"value": {"label": label}},
        )
    item_id = eventually(lambda: ui.items(project_id, "needs_review"))[0]["id"]

    ui.sign_in(page, at=f"/p/{project_id}/data")
    page.check("#filter-disputed")
    card = page.locator(f'article[data-item-id="{item_id}"]')
    expect(card).to_contain_text("disputed")
    card.click()  # the viewer: both answers, and the class list to decide with
    viewer = page.locator("#viewer")
    expect(viewer.locator("#viewer-answers li")).to_have_count(2)
    expect(viewer.locator(".use-answer")).to_have_count(2)
    viewer.locator('#labels li[data-label="fox"]').click()
    expect(viewer.locator("#viewer-answer")).to_have_text("fox")
    expect(viewer.locator("#viewer-approve")).to_have_text("Approve with my fix (A)")
    page.keyboard.press("a")
    expect(viewer.locator("#viewer-state")).to_have_text("labeled")
    page.keyboard.press("Escape")
    expect(viewer).to_have_count(0)
    card = page.locator(f'article[data-item-id="{item_id}"]')
    expect(card).to_have_attribute("data-state", "labeled")
    expect(card).to_contain_text("fox")
    expect(card).to_contain_text("approved by olive")
    found = ui.api("GET", f"/projects/{project_id}/items/{item_id}")
    assert (found["state"], found["final"]) == ("labeled", {"label": "fox"})


def test_moving_a_project_from_azure_ml(ui: Ui, page: Page, tmp_path: Any) -> None:
    folder = ui.data_dir / "blobs" / "lake" / "azureml" / "pets"
    folder.mkdir(parents=True)
    for i in range(3):
        (folder / f"pet{i}.png").write_bytes(png(i))
    store = "azureml://subscriptions/s/resourcegroups/r/workspaces/w/datastores/labeling/paths/"
    rows = [
        {"image_url": f"{store}azureml/pets/pet0.png", "label": "cat"},
        {"image_url": f"{store}azureml/pets/pet1.png", "label": "dog"},
        {"image_url": f"{store}azureml/pets/pet2.png", "label": None},  # not labeled in Azure ML
        {"image_url": f"{store}azureml/pets/gone.png", "label": "cat"},
    ]
    export = tmp_path / "labeledDatapoints.jsonl"
    export.write_text("".join(json.dumps(r) + "\n" for r in rows))

    ui.sign_in(page)
    page.click("#migrate")
    page.fill("#m-name", "From Azure ML")
    page.set_input_files("#m-file", str(export))
    page.fill("#m-container", "lake")
    page.fill("#m-path", "azureml/**")
    page.click("#m-go")
    expect(page.locator("#m-labeled")).to_have_text("2", timeout=20_000)
    expect(page.locator("#m-items")).to_have_text("3")
    expect(page.locator("#m-missing")).to_have_text("1")
    page.click("#m-open")
    expect(page.locator("#tab-dashboard.active")).to_be_visible()
    project = next(p for p in ui.api("GET", "/projects") if p["name"] == "From Azure ML")
    labeled = {i["path"]: i.get("final") for i in ui.items(project["id"], "labeled")}
    assert labeled == {
        "azureml/pets/pet0.png": {"label": "cat"},
        "azureml/pets/pet1.png": {"label": "dog"},
    }
    # A file with a problem creates nothing and says where the problem is.
    export.write_text(
        '{"image_url": "x.png", "label": "cat"}\n{"image_url": "y.png", "label": 7}\n'
    )
    page.goto(f"{ui.url}/#/migrate")
    page.fill("#m-name", "Broken")
    page.set_input_files("#m-file", str(export))
    page.fill("#m-container", "lake")
    page.click("#m-go")
    expect(page.locator("#error")).to_contain_text("line 2")
    assert "Broken" not in [p["name"] for p in ui.api("GET", "/projects")]
