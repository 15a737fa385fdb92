"""`loupe migrate-azureml`'s request against the API: an Azure ML export in, a project with its
labels out, and a refused file reported line by line with nothing created."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.local.transfer import ImportRefused, migrate_file, migration_lines
from tests.api.conftest import Api
from tests.support.media import image_bytes
from tests.support.stages import running

STORE = "azureml://subscriptions/s/resourcegroups/r/workspaces/w/datastores/labeling/paths/"


def test_the_cli_request_migrates_and_reports(api: Api, tmp_path: Path) -> None:
    api.deps.blobs.put("images", "pets/1.jpg", image_bytes("JPEG", (64, 48)))
    lines = [
        {
            "image_url": STORE + "pets/1.jpg",
            "label": [
                {
                    "label": "cat",
                    "topX": 0.1,
                    "topY": 0.1,
                    "bottomX": 0.5,
                    "bottomY": 0.5,
                    "isCrowd": 0,
                }
            ],
        },
        {"image_url": STORE + "pets/2.jpg", "label": []},
    ]
    file = tmp_path / "labels.jsonl"
    file.write_text("".join(json.dumps(x) + "\n" for x in lines))
    api.client.headers.update(api.auth())  # ann: the deployment's first user, its admin
    api.client.headers["X-Loupe-Token"] = api.token  # the CLI calls /api/programs/... with it
    report = migrate_file(
        server="",
        token="",
        path=file,
        name="Pets from Azure",
        container="images",
        folder="pets/**",
        progress=False,
        client=running(api.client, api.deps),
    )
    assert (report["taskType"], report["classes"], report["labeled"]) == (
        "image_bounding_box",
        ["cat"],
        1,
    )
    assert report["missingUrls"] == [STORE + "pets/2.jpg"]
    assert "1 image(s) not in the container" in "\n".join(migration_lines(report))
    file.write_text('{"image_url": "x.jpg", "label": "cat"}\n{"image_url": "y.jpg", "label": 7}\n')
    with pytest.raises(ImportRefused) as refused:
        migrate_file(
            server="",
            token="",
            path=file,
            name="Bad",
            container="images",
            progress=False,
            client=running(api.client, api.deps),
        )
    assert refused.value.lines() == [
        '  line 2: "label" must be a class name (a string), not a number'
    ]
    listed = api.client.get("/api/projects").json()
    assert [p["name"] for p in listed] == ["Pets from Azure"]
