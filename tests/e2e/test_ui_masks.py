"""Masks in a real browser, keyboard first: fill a region that stops at the image's edge (F),
paint with the brush (B) and a bigger size (]), erase (E), undo and redo; the answer the API
holds decodes (pycocotools) to exactly the pixels the canvas shows, and review shows the same
pixels on the thumbnail and in the viewer. Instance masks: N starts the next object, and a
polygon (L, Enter) fills what it encloses. Attributes: a class's mask (semantic) or each object
(instance, ↓/↑ pick one) carries its own, set by Shift+1…9 and kept while repainted. A
pre-label's masks open in the editor, to erase in part or accept."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from pycocotools import mask as coco_mask  # type: ignore[import-untyped]

from tests.support.ui import Ui

pytestmark = pytest.mark.slow

W, H = 200, 100
CLASS_COLOURS = {"road": (0xE6, 0x19, 0x4B), "sky": (0x3C, 0xB4, 0x4B)}  # the UI's palette


def halves() -> bytes:
    """Red on the left, blue on the right: the fill must stop where they meet."""
    image = Image.new("RGB", (W, H), (40, 40, 220))
    image.paste((220, 40, 40), (0, 0, W // 2, H))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


class Painter:
    def __init__(self, page: Page, canvas: str = "#mask-canvas") -> None:
        self.page = page
        box = page.locator(canvas).bounding_box()
        assert box is not None
        self.box = box
        self.canvas = canvas

    def at(self, x: float, y: float) -> tuple[float, float]:
        return self.box["x"] + x * self.box["width"], self.box["y"] + y * self.box["height"]

    def stroke(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        mouse = self.page.mouse
        mouse.move(*self.at(*start))
        mouse.down()
        mouse.move(*self.at(*end), steps=8)
        mouse.up()

    def shown(self) -> dict[str, np.ndarray]:
        """Each class's pixels as the canvas shows them (the overlay's colour per pixel)."""
        data = self.page.evaluate(
            """(sel) => {
                const c = document.querySelector(sel);
                return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);
            }""",
            self.canvas,
        )
        rgba = np.array(data, dtype=np.int16).reshape(H, W, 4)
        # A canvas keeps colours premultiplied by alpha: read back, they are a step or two off.
        return {
            name: (rgba[..., 3] > 0) & (abs(rgba[..., :3] - colour) <= 4).all(axis=-1)
            for name, colour in CLASS_COLOURS.items()
        }


def rle(grid: np.ndarray) -> dict[str, Any]:
    found = coco_mask.encode(np.asfortranarray(grid.astype(np.uint8)))
    return {"size": [int(n) for n in found["size"]], "counts": found["counts"].decode()}


def decoded(value: dict[str, Any]) -> dict[str, np.ndarray]:
    out = {name: np.zeros((H, W), dtype=bool) for name in CLASS_COLOURS}
    for mask in value["masks"]:
        assert mask["size"] == [H, W]
        rle = {"size": mask["size"], "counts": mask["counts"].encode()}
        out[mask["label"]] |= coco_mask.decode(rle).astype(bool)
    return out


def test_fill_paint_erase_undo_submit_and_review(ui: Ui, page: Page) -> None:
    project_id = ui.project("Street masks", "image_semantic_segmentation", ["road", "sky"])
    ui.upload(project_id, {"halves.png": halves()})
    ui.wait_running(project_id, 1)
    ui.sign_in(page, at=f"/p/{project_id}/label")
    expect(page.locator("#mask-canvas")).to_be_visible()
    paint = Painter(page)
    tool = page.locator("#mask-tool")

    page.keyboard.press("f")
    expect(tool).to_contain_text("fill")
    page.mouse.click(*paint.at(0.2, 0.5))  # the red half, and nothing of the blue
    left = np.zeros((H, W), dtype=bool)
    left[:, : W // 2] = True
    assert (paint.shown()["road"] == left).all()

    page.keyboard.press("2")  # sky
    page.keyboard.press("b")
    page.keyboard.press("]")
    expect(tool).to_contain_text("brush")
    paint.stroke((0.6, 0.5), (0.9, 0.5))
    sky = paint.shown()["sky"]
    assert sky[50, 130] and sky[50, 170] and not sky[:, : W // 2].any()

    page.keyboard.press("e")
    paint.stroke((0.1, 0.2), (0.3, 0.2))
    erased = paint.shown()["road"]
    assert not erased[20, 40] and erased[80, 40]
    page.keyboard.press("Control+z")  # the eraser's stroke is one step
    assert (paint.shown()["road"] == left).all()
    page.keyboard.press("Control+Shift+z")
    expected = paint.shown()
    assert (expected["road"] == erased).all()

    page.keyboard.press("Enter")
    expect(page.locator("#no-tasks")).to_be_visible()
    (item,) = ui.items(project_id, "labeled")
    stored = decoded(item["final"])
    assert [m["label"] for m in item["final"]["masks"]] == ["road", "sky"]
    for name in CLASS_COLOURS:
        assert (stored[name] == expected[name]).all(), name

    ui.sign_in(page, at=f"/p/{project_id}/data")
    tile = page.locator(f'article[data-item-id="{item["id"]}"]')
    expect(tile.locator("canvas.overlay-masks")).to_have_attribute("data-masks", "2")
    tile.click()
    viewer = page.locator("#viewer")
    expect(viewer.locator("#mask-canvas")).to_be_visible()
    expect(viewer.locator("#viewer-answer")).to_have_text("2 mask(s): road, sky")
    page.wait_for_function("() => document.querySelector('#mask-tool')?.textContent")
    review = Painter(page)
    shown = review.shown()
    for name in CLASS_COLOURS:
        assert (shown[name] == expected[name]).all(), name

    # The reviewer erases the sky in place and approves the fix; the labeler's answer stays.
    page.keyboard.press("e")
    page.keyboard.press("]")
    page.keyboard.press("]")
    review.stroke((0.55, 0.5), (0.95, 0.5))
    expect(viewer.locator("#viewer-approve")).to_have_text("Approve with my fix (A)")
    fixed = review.shown()
    page.keyboard.press("a")
    expect(viewer).to_contain_text("approved by olive")
    reviewed = ui.api("GET", f"/projects/{project_id}/items/{item['id']}")
    assert reviewed["review"]["decision"] == "approved"
    assert reviewed["annotations"][0]["value"] == item["final"]
    now = decoded(reviewed["final"])
    for name in CLASS_COLOURS:
        assert (now[name] == fixed[name]).all(), name
    assert now["sky"].sum() < stored["sky"].sum()


def test_instance_masks_are_one_per_object(ui: Ui, page: Page) -> None:
    project_id = ui.project("Cars", "image_instance_segmentation", ["road", "sky"])
    ui.upload(project_id, {"cars.png": halves()})
    ui.wait_running(project_id, 1)
    ui.sign_in(page, at=f"/p/{project_id}/label")
    expect(page.locator("#mask-canvas")).to_be_visible()
    paint = Painter(page)
    paint.stroke((0.1, 0.3), (0.3, 0.3))
    page.keyboard.press("n")  # the next stroke is another object of the same class
    expect(page.locator("#mask-tool")).to_contain_text("object 2")
    paint.stroke((0.6, 0.7), (0.8, 0.7))
    paint.stroke((0.6, 0.8), (0.8, 0.8))  # still object 2
    page.keyboard.press("n")
    page.keyboard.press("2")
    page.keyboard.press("l")  # a polygon: its corners, then Enter fills it as object 3
    assert page.locator("#mask-canvas").bounding_box() == paint.box  # the picture stays put
    for corner in ((0.1, 0.6), (0.3, 0.6), (0.3, 0.9), (0.1, 0.9)):
        page.mouse.click(*paint.at(*corner))
    expect(page.locator("#mask-draft")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#mask-draft")).to_have_count(0)
    expect(page.locator("#mask-tool")).to_contain_text("object 3")
    page.keyboard.press("Enter")
    expect(page.locator("#no-tasks")).to_be_visible()
    (item,) = ui.items(project_id, "labeled")
    masks = item["final"]["masks"]
    assert [m["label"] for m in masks] == ["road", "road", "sky"]
    first, second, third = (
        coco_mask.decode({"size": m["size"], "counts": m["counts"].encode()}) for m in masks
    )
    assert first[30, 40] and not first[70, 140]
    assert second[70, 140] and second[80, 140] and not second[30, 40]
    assert third[62:88, 22:58].all() and not third[50, 40] and not third[75, 70]


ROAD = {
    "name": "road",
    "attributes": [
        {"name": "wet", "type": "boolean"},
        {"name": "lanes", "type": "one_of", "options": ["1", "2"]},
    ],
}


def test_a_class_mask_carries_attributes_set_by_keys_and_fixed_in_review(
    ui: Ui, page: Page
) -> None:
    classes = [ROAD, {"name": "sky"}]
    project_id = ui.project("Wet roads", "image_semantic_segmentation", [], labelClasses=classes)
    ui.upload(project_id, {"halves.png": halves()})
    ui.wait_running(project_id, 1)
    ui.sign_in(page, at=f"/p/{project_id}/label")
    expect(page.locator("#mask-canvas")).to_be_visible()
    paint = Painter(page)
    panel = page.locator("#attributes")
    expect(panel).to_be_hidden()  # road has no mask yet
    page.keyboard.press("f")
    page.mouse.click(*paint.at(0.2, 0.5))
    expect(panel).to_be_visible()  # road's mask, the class painted with
    page.keyboard.press("Shift+Digit1")
    page.keyboard.press("Shift+Digit2")
    expect(panel.locator('input[data-attribute="wet"]')).to_be_checked()
    expect(panel.locator('select[data-attribute="lanes"]')).to_have_value("1")
    page.keyboard.press("b")
    paint.stroke((0.6, 0.2), (0.8, 0.2))  # repainting road keeps its attributes
    expect(panel.locator('input[data-attribute="wet"]')).to_be_checked()
    page.keyboard.press("2")  # sky: painted with next, declares nothing
    expect(panel).to_be_hidden()
    paint.stroke((0.6, 0.8), (0.8, 0.8))
    page.keyboard.press("1")
    expect(panel.locator('select[data-attribute="lanes"]')).to_have_value("1")
    page.keyboard.press("Control+z")  # undo the sky stroke: road's attributes stay
    expect(panel.locator('input[data-attribute="wet"]')).to_be_checked()
    page.keyboard.press("Enter")
    expect(page.locator("#no-tasks")).to_be_visible()
    (item,) = ui.items(project_id, "labeled")
    (road,) = item["final"]["masks"]
    assert road["label"] == "road"
    assert road["attributes"] == {"wet": True, "lanes": "1"}

    # The reviewer sees them on road's mask and fixes one by key.
    ui.sign_in(page, at=f"/p/{project_id}/data")
    page.locator(f'article[data-item-id="{item["id"]}"]').click()
    viewer = page.locator("#viewer")
    expect(viewer.locator("#mask-canvas")).to_be_visible()
    shown = viewer.locator("#attributes")
    expect(shown.locator('input[data-attribute="wet"]')).to_be_checked()
    page.keyboard.press("Shift+Digit1")
    expect(viewer.locator("#viewer-approve")).to_have_text("Approve with my fix (A)")
    page.keyboard.press("a")
    expect(viewer).to_contain_text("approved by")
    fixed = ui.api("GET", f"/projects/{project_id}/items/{item['id']}")
    assert fixed["final"]["masks"][0]["attributes"] == {"wet": False, "lanes": "1"}


def test_each_object_mask_has_its_own_attributes(ui: Ui, page: Page) -> None:
    project_id = ui.project("Lanes", "image_instance_segmentation", [], labelClasses=[ROAD])
    ui.upload(project_id, {"lanes.png": halves()})
    ui.wait_running(project_id, 1)
    ui.sign_in(page, at=f"/p/{project_id}/label")
    expect(page.locator("#mask-canvas")).to_be_visible()
    paint = Painter(page)
    panel = page.locator("#attributes")
    wet = panel.locator('input[data-attribute="wet"]')
    paint.stroke((0.1, 0.3), (0.3, 0.3))
    page.keyboard.press("Shift+Digit1")  # object 1 is wet
    expect(wet).to_be_checked()
    page.keyboard.press("n")
    expect(panel).to_be_hidden()  # the next object is not painted yet
    paint.stroke((0.6, 0.7), (0.8, 0.7))
    expect(page.locator("#mask-tool")).to_contain_text("object 2")
    expect(wet).not_to_be_checked()
    page.keyboard.press("Shift+Digit2")
    page.keyboard.press("Shift+Digit2")  # object 2: two lanes
    page.keyboard.press("ArrowUp")  # back to object 1, by keyboard
    expect(page.locator("#mask-tool")).to_contain_text("object 1")
    expect(wet).to_be_checked()
    expect(panel.locator('select[data-attribute="lanes"]')).to_have_value("")
    page.keyboard.press("Enter")
    expect(page.locator("#no-tasks")).to_be_visible()
    (item,) = ui.items(project_id, "labeled")
    assert [m.get("attributes") for m in item["final"]["masks"]] == [
        {"wet": True},
        {"lanes": "2"},
    ]


def test_a_pre_labeled_mask_opens_in_the_editor_to_erase_or_accept(ui: Ui, page: Page) -> None:
    """A pre-label's masks (here set by a Loupe JSONL import, as a cycle's would be written) are
    what the editor starts from: erased in part on one item, accepted as they are on the other."""
    project_id = ui.project("Assisted masks", "image_instance_segmentation", ["road", "sky"])
    ui.upload(project_id, {"one.png": halves(), "two.png": halves()})
    ui.wait_running(project_id, 2)
    road, sky = np.zeros((H, W), dtype=bool), np.zeros((H, W), dtype=bool)
    road[:, : W // 2] = True
    sky[: H // 2, W // 2 :] = True
    suggested = {"masks": [{"label": "road", **rle(road)}, {"label": "sky", **rle(sky)}]}
    records = [
        {"path": path, "prediction": {"value": suggested, "confidence": 0.87}}
        for path in ("one.png", "two.png")
    ]
    body = "".join(json.dumps(r) + "\n" for r in records)
    ui.api("POST", f"/projects/{project_id}/imports?format=loupe_jsonl&mode=prelabel", content=body)

    ui.sign_in(page, at=f"/p/{project_id}/label")
    expect(page.locator("#mask-canvas")).to_be_visible()
    expect(page.locator(".suggestion")).to_have_text("suggested (87%)")
    paint = Painter(page)
    page.wait_for_function(
        "() => document.querySelector('#mask-canvas').getContext('2d')"
        ".getImageData(10, 10, 1, 1).data[3] > 0"
    )
    shown = paint.shown()
    assert (shown["road"] == road).all() and (shown["sky"] == sky).all()
    erased_id = page.locator("#stage").get_attribute("data-item-id")
    page.keyboard.press("e")
    page.keyboard.press("]")
    paint.stroke((0.05, 0.5), (0.45, 0.5))  # a strip across the suggested road
    corrected = paint.shown()
    assert corrected["road"].sum() < road.sum() and not corrected["road"][50, 50]
    page.keyboard.press("Enter")

    expect(page.locator("#stage")).not_to_have_attribute("data-item-id", erased_id or "")
    expect(page.locator(".suggestion")).to_have_text("suggested (87%)")
    page.wait_for_function(
        "() => document.querySelector('#mask-canvas').getContext('2d')"
        ".getImageData(10, 10, 1, 1).data[3] > 0"
    )
    page.keyboard.press("Enter")  # accepted as suggested
    expect(page.locator("#no-tasks")).to_be_visible()
    expect(page.locator("#done-today")).to_have_text("2")  # both answers landed

    finals = {i["id"]: i["final"] for i in ui.items(project_id, "labeled")}
    assert len(finals) == 2 and erased_id in finals
    accepted = next(value for key, value in finals.items() if key != erased_id)
    assert accepted == suggested
    fixed = decoded(finals[erased_id])
    assert (fixed["road"] == corrected["road"]).all() and (fixed["sky"] == sky).all()
