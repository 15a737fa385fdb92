"""Creation that cannot dead-end, in a real browser: a taken name is refused on the first step,
stray files (.DS_Store, Thumbs.db, an .exe) are left out and listed instead of breaking the
upload, files are added from Details later, "start over" and deleting the project ask first,
naming what goes, and past exports are listed with their links."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.ui import Ui, png

pytestmark = pytest.mark.slow


def test_wizard_skips_stray_files_and_details_adds_confirms_deletes(
    ui: Ui, page: Page, tmp_path: Path
) -> None:
    ui.project("Taken name", "image_multiclass", ["a"])
    files = []
    for name, data in [
        ("cat0.png", png(0)),
        ("cat1.png", png(1)),
        (".DS_Store", b"\0\0\0\1Bud1"),
        ("Thumbs.db", b"\xd0\xcf\x11\xe0"),
        ("setup.exe", b"MZ\x90\0"),
    ]:
        (tmp_path / name).write_bytes(data)
        files.append(str(tmp_path / name))
    ui.sign_in(page)
    page.click("#new-project")
    page.fill("#w-name", "taken  NAME")
    page.click("#w-next")
    expect(page.locator("#error")).to_contain_text("is taken")
    expect(page.locator("#w-name")).to_be_visible()  # still on the first step
    page.fill("#w-name", "Strays left out")
    page.click("#w-next")
    page.set_input_files("#w-files", files)
    expect(page.locator("#w-chosen")).to_contain_text("2 file(s) to upload; 3 left out")
    expect(page.locator("#w-skipped")).to_contain_text("setup.exe")
    page.click("#w-next")
    page.fill("#w-classes", "cat\ndog")
    for _ in range(3):
        page.click("#w-next")
    expect(page.locator("#w-review")).to_contain_text("2 file(s) to upload (3 left out)")
    page.click("#w-create")
    expect(page.locator("#w-left-out")).to_contain_text("Thumbs.db")
    expect(page.locator("#w-status")).to_contain_text("Uploaded 2 of 2 files")
    page.click("#w-open")
    expect(page.locator("#tab-dashboard.active")).to_be_visible()
    project = next(p for p in ui.api("GET", "/projects") if p["name"] == "Strays left out")
    ui.wait_running(project["id"], 2)

    # Details: more files later (a stray among them), start over asks first, exports listed.
    (tmp_path / "cat2.png").write_bytes(png(2))
    page.click("#tab-details")
    page.set_input_files("#add-files", [str(tmp_path / "cat2.png"), str(tmp_path / "setup.exe")])
    page.click("#add-upload")
    expect(page.locator("#add-status")).to_contain_text("Uploaded 1 of 1 files")
    expect(page.locator("#add-skipped")).to_contain_text("setup.exe")
    ui.wait_running(project["id"], 3)
    item = ui.api("POST", f"/projects/{project['id']}/tasks/next", json={"size": 1})["items"][0]
    ui.api(
        "POST",
        f"/projects/{project['id']}/items/{item['id']}/annotation",
        json={"value": {"label": "cat"}},
    )
    page.click("#pause")
    expect(page.locator("#details-status")).to_contain_text("paused")
    page.fill("#add-classes", "owl")
    page.check('input[name="existing"][value="start_over"]')
    page.click("#add-classes-button")
    expect(page.locator("#confirm-dialog")).to_contain_text("1 labeled item(s)")
    page.click("#confirm-cancel")  # nothing happens
    expect(page.locator("#confirm-dialog")).to_have_count(0)
    assert [c["name"] for c in ui.api("GET", f"/projects/{project['id']}/label-classes")] == [
        "cat",
        "dog",
    ]
    assert len(ui.items(project["id"], "labeled")) == 1
    page.click("#export-open")
    page.click("#export-start")
    expect(page.locator("#export-download")).to_be_visible(timeout=20_000)
    page.click("#export-dialog button:has-text('Close')")
    expect(page.locator("#past-exports tbody tr")).to_have_count(1)
    expect(page.locator("#past-exports a.download")).to_have_text("Download")

    page.click("#delete-project")
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text("3 item(s), 1 of them labeled")
    expect(dialog).to_contain_text("The name stays reserved")
    expect(page.locator("#confirm-ok")).to_be_disabled()
    page.fill("#confirm-typed", "Strays left out")
    page.click("#confirm-ok")
    expect(page.locator("#projects")).to_be_visible()
    expect(page.locator("#projects")).not_to_contain_text("Strays left out")
    names = ui.api("GET", "/project-names/strays%20left%20out")
    assert names["available"] is False


def test_the_wizard_declares_attributes_and_relation_classes(ui: Ui, page: Page) -> None:
    ui.sign_in(page)
    page.click("#new-project")
    page.fill("#w-name", "Who lived where")
    page.select_option("#w-type", "text_ner")
    page.click("#w-next")
    page.click("#w-next")
    page.fill("#w-classes", "PER\nLOC = l")
    # The attributes editor Details has: a class at a time, each kept while another is shown.
    expect(page.locator("#w-attr-class option")).to_have_text(["PER", "LOC"])
    page.fill("#w-attr-text", "role: one of author, subject\nfamous: boolean")
    page.select_option("#w-attr-class", "LOC")
    page.fill("#w-attr-text", "population: number oops")
    page.click("#w-next")  # a wrong row keeps the wizard on this step, naming the class
    expect(page.locator("#error")).to_contain_text("Attributes of LOC: Row 1")
    expect(page.locator("#w-classes")).to_be_visible()
    page.fill("#w-attr-text", "population: number 0..")
    page.select_option("#w-attr-class", "PER")
    expect(page.locator("#w-attr-text")).to_have_value(
        "role: one of author, subject\nfamous: boolean"
    )

    # Relation classes, as in Details; one added by mistake is removed before creating.
    card = page.locator("#w-relations #relation-classes")
    card.locator("#relation-name").fill("born_in")
    card.locator("#relation-heads").select_option(["PER"])
    card.locator("#relation-tails").select_option(["LOC"])
    card.locator("#add-relation-class").click()
    card = page.locator("#w-relations #relation-classes")
    card.locator("#relation-name").fill("BORN_IN")
    card.locator("#add-relation-class").click()
    expect(page.locator("#error")).to_contain_text("is there already")
    card.locator("#relation-name").fill("oops")
    card.locator("#add-relation-class").click()
    expect(page.locator("#relation-class-list li")).to_have_count(2)
    page.locator('#relation-class-list li[data-name="oops"] button').click()
    expect(page.locator("#relation-class-list li")).to_have_count(1)
    for _ in range(3):
        page.click("#w-next")
    expect(page.locator("#w-review-classes")).to_have_text("PER [role, famous]; LOC [population]")
    expect(page.locator("#w-review-relations")).to_have_text("born_in (PER → LOC)")
    page.click("#w-create")
    expect(page.locator("#tab-dashboard.active")).to_be_visible()

    project = next(p for p in ui.api("GET", "/projects") if p["name"] == "Who lived where")
    found = ui.api("GET", f"/projects/{project['id']}")
    declared = {
        c["name"]: [
            {k: v for k, v in a.items() if v is not None} for a in c.get("attributes") or []
        ]
        for c in found["labelClasses"]
    }
    assert declared == {
        "PER": [
            {"name": "role", "type": "one_of", "options": ["author", "subject"]},
            {"name": "famous", "type": "boolean"},
        ],
        "LOC": [{"name": "population", "type": "number", "min": 0}],
    }
    assert found["relationClasses"] == [
        {"name": "born_in", "directed": True, "heads": ["PER"], "tails": ["LOC"]}
    ]
