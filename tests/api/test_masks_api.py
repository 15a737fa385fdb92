"""Mask projects over HTTP: a labeler's masks are checked against the displayed image's size and
stored as COCO's compressed RLE; a broken answer is a 422 naming each problem; ML assist
suggests masks (tests/assist/test_shapes.py runs its cycles) and trains on an owner's demand;
imports take COCO and Loupe's JSONL."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pycocotools import mask as coco_mask  # type: ignore[import-untyped]

from core.domain.errors import InvalidInput
from core.domain.items import Derivatives, MediaFacts
from core.domain.projects import Project, Role
from core.ports import Deps
from core.services import imports
from core.services.assist import assist_status, read_state
from core.services.imports import ImportFormat
from tests.api.test_labeling_api import client_for
from tests.support.deps import memory_deps
from tests.support.labeling import add_items, running_project, users

H, W = 30, 40  # the display rendition's size: what the labeler paints on
SHOWN = Derivatives(display="r/display.png", thumbnail="r/thumb.jpg", width=W, height=H)


def rle(grid: np.ndarray) -> dict[str, object]:
    found = coco_mask.encode(np.asfortranarray(grid.astype(np.uint8)))
    return {"size": [int(n) for n in found["size"]], "counts": found["counts"].decode()}


@pytest.fixture
def masks_project() -> Iterator[tuple[TestClient, dict[str, dict[str, str]], str, Deps, Project]]:
    deps = memory_deps()
    tokens = users(deps, "olive", "lee")
    project = running_project(
        deps,
        task_type="image_semantic_segmentation",
        classes=("road", "car"),
        members={"lee": Role.LABELER},
    )
    media = MediaFacts(format="jpeg", bytes=1000, width=4 * W, height=4 * H)
    add_items(deps, project, 2, media=media, derivatives=SHOWN)
    with client_for(deps, behind_swa=False) as client:
        yield (
            client,
            {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()},
            f"/api/projects/{project.id}",
            deps,
            project,
        )


def test_masks_are_checked_and_stored_as_coco_rle(
    masks_project: tuple[TestClient, dict[str, dict[str, str]], str, Deps, Project],
) -> None:
    client, auths, base, _, _ = masks_project
    auth = auths["lee"]
    (item,) = client.post(f"{base}/tasks/next", json={}, headers=auth).json()["items"]
    assert (item["width"], item["height"]) == (W, H)
    road = np.zeros((H, W), dtype=bool)
    road[20:, :] = True
    big = np.ones((4 * H, 4 * W), dtype=bool)
    bad = client.post(
        f"{base}/items/{item['id']}/annotation",
        json={
            "value": {
                "masks": [
                    {"label": "road", **rle(big)},  # painted on the source, not the display
                    {"label": "bus", **rle(road)},
                    {"label": "car", "size": [H, W], "counts": [5, 5]},
                ]
            }
        },
        headers=auth,
    )
    assert bad.status_code == 422
    errors = {e["field"]: e["rule"] for e in bad.json()["errors"]}
    assert errors["value.masks[0].size"].startswith("must be [30, 40], the displayed image's")
    assert errors["value.masks[1].label"].startswith("'bus' is not a label class")
    assert errors["value.masks[2].counts"].startswith("runs add up to 10 pixels; a 40 x 30 mask")

    saved = client.post(
        f"{base}/items/{item['id']}/annotation",
        json={"value": {"masks": [{"label": "road", **rle(road)}]}},
        headers=auth,
    )
    assert saved.status_code == 200, saved.text
    stored = client.get(f"{base}/items/{item['id']}", headers=auths["olive"]).json()
    (mask,) = stored["final"]["masks"]
    assert mask == {"label": "road", **rle(road)}
    back = coco_mask.decode({"size": mask["size"], "counts": mask["counts"].encode()})
    assert (back == road).all()
    assert stored["labels"] == ["road"]


def test_assist_suggests_masks_and_trains_on_demand(
    masks_project: tuple[TestClient, dict[str, dict[str, str]], str, Deps, Project],
) -> None:
    client, auths, base, deps, project = masks_project
    status = assist_status(deps, project_id=project.id, actor="olive")
    assert status.supported and status.reason is None
    started = client.post(f"{base}/assist/train", headers=auths["olive"])
    assert started.status_code in (200, 202), started.text
    assert read_state(deps, project.id).pending is not None
    assert client.post(f"{base}/assist/train", headers=auths["lee"]).status_code == 403


def test_mask_projects_import_coco_and_loupe_jsonl(
    masks_project: tuple[TestClient, dict[str, dict[str, str]], str, Deps, Project],
) -> None:
    *_, project = masks_project
    with pytest.raises(InvalidInput, match="mask projects import coco or loupe_jsonl"):
        imports.check_fits(project, ImportFormat.AZUREML_JSONL)
    imports.check_fits(project, ImportFormat.COCO)
    imports.check_fits(project, ImportFormat.LOUPE_JSONL)
