"""A project's item cap on every adapter set: the deployment's (LOUPE_ITEM_CAP, kept below what
one Cosmos DB partition holds) or the owner's, whichever is smaller. Ingestion refuses files
beyond it, by initialization, blob event, sweep or upload, and says why on the ingestion
progress and the dashboard; past 80 % of it the dashboard warns first."""

from __future__ import annotations

import io

import pytest

from core.domain.capacity import DEFAULT_ITEM_CAP, PARTITION_ITEMS, WARN_FRACTION
from core.domain.datasets import Dataset, DataSource
from core.domain.errors import Conflict
from core.ports import Deps
from core.services import projects
from core.services.dashboard import dashboard
from core.services.ingestion import ingestion_progress
from core.services.refresh import reconcile, register_blob
from core.services.registration import OVER_CAP
from core.services.uploads import upload_file, upload_link
from core.settings import Settings, SettingsError
from tests.services.test_ingestion import drain, items_of, settings
from tests.support.labeling import creator
from tests.support.media import image_bytes


def test_the_default_cap_keeps_a_margin_below_the_partition_ceiling() -> None:
    assert 20_000_000 < PARTITION_ITEMS < 25_000_000  # 20 GB at 0.86 KB an item
    assert DEFAULT_ITEM_CAP == 11_000_000 <= PARTITION_ITEMS // 2
    assert Settings.from_env({}).item_cap == DEFAULT_ITEM_CAP
    assert Settings.from_env({"LOUPE_ITEM_CAP": "5000"}).item_cap == 5000
    with pytest.raises(SettingsError, match="from 1 to 23255813"):
        Settings.from_env({"LOUPE_ITEM_CAP": "30000000"})


def test_the_deployment_cap_refuses_files_beyond_it_and_says_why(deps: Deps) -> None:
    creator(deps, "ann")
    deps.item_cap = 5
    for n in range(7):
        deps.blobs.put("lake", f"in/{n}.png", image_bytes())
    project = projects.create_project(deps, settings=settings(), actor="ann").value
    drain(deps)
    assert len(items_of(deps, project.id)) == 5
    progress = ingestion_progress(deps, project_id=project.id, actor="ann")
    assert progress.registered == 5 and progress.item_cap == 5
    assert progress.skipped_reasons == {OVER_CAP: 2}
    assert progress.capacity_warning is not None
    assert "its cap of 5: new files are not ingested" in progress.capacity_warning
    assert "LOUPE_ITEM_CAP" in progress.capacity_warning  # what to do: split by folder

    # Later files, by event and by the sweep, are refused too, and counted.
    deps.blobs.put("lake", "in/late.png", image_bytes())
    assert register_blob(deps, container="lake", name="in/late.png") == []
    deps.blobs.put("lake", "in/missed.png", image_bytes())
    deps.clock.advance(30)  # type: ignore[attr-defined]
    assert reconcile(deps) == 0
    assert len(items_of(deps, project.id)) == 5
    progress = ingestion_progress(deps, project_id=project.id, actor="ann")
    assert progress.skipped_reasons[OVER_CAP] >= 4  # two at init, then late and missed
    board = dashboard(deps, project_id=project.id, actor="ann")
    assert board.capacity is not None and board.capacity.full
    assert board.capacity.refused >= 2
    assert "refused so far" in str(board.capacity.warning)


def test_an_owners_smaller_cap_warns_from_80_percent_and_names_its_setting(deps: Deps) -> None:
    creator(deps, "ann")
    for n in range(8):
        deps.blobs.put("lake", f"in/{n}.png", image_bytes())
    project = projects.create_project(
        deps, settings=settings(ingest={"itemCap": 10}), actor="ann"
    ).value
    drain(deps)
    board = dashboard(deps, project_id=project.id, actor="ann")
    assert board.capacity is not None
    assert (board.capacity.items, board.capacity.cap, board.capacity.set_by) == (8, 10, "project")
    assert board.capacity.fraction >= WARN_FRACTION and not board.capacity.full
    warning = str(board.capacity.warning)
    assert "80% of its cap of 10" in warning and "ingest.itemCap" in warning
    assert ingestion_progress(deps, project_id=project.id, actor="ann").capacity_warning == warning

    quiet = projects.create_project(
        deps, settings=settings(name="Quiet", ingest={"itemCap": 20}), actor="ann"
    ).value
    drain(deps)
    assert dashboard(deps, project_id=quiet.id, actor="ann").capacity.warning is None  # type: ignore[union-attr]


def test_uploads_to_a_full_project_are_refused_before_any_byte_moves(deps: Deps) -> None:
    creator(deps, "ann")
    deps.item_cap = 2
    upload = settings(dataset=Dataset(source=DataSource.UPLOAD))
    project = projects.create_project(deps, settings=upload, actor="ann").value
    drain(deps)
    for n in range(2):
        upload_file(
            deps,
            project_id=project.id,
            path=f"{n}.png",
            data=io.BytesIO(image_bytes()),
            actor="ann",
        )
    with pytest.raises(Conflict, match=r"uploads are refused: .*its cap of 2"):
        upload_link(
            deps, project_id=project.id, path="2.png", actor="ann", size=100, max_bytes=1 << 20
        )
    with pytest.raises(Conflict, match="its cap of 2"):
        upload_file(
            deps, project_id=project.id, path="3.png", data=io.BytesIO(image_bytes()), actor="ann"
        )
    assert sorted(items_of(deps, project.id)) == ["0.png", "1.png"]
