"""Blob trigger with an Event Grid source: a new blob in the data container is registered in
every project that takes it. Other containers are caught by the refresh timer's sweep."""

from __future__ import annotations

import azure.functions as func

from core.services.refresh import register_blob
from functions import context

bp = func.Blueprint()  # type: ignore[no-untyped-call]  # the SDK leaves it untyped


def split_blob_path(path: str) -> tuple[str, str]:
    """The host names the blob `container/name`."""
    container, _, name = path.partition("/")
    if not container or not name:
        raise ValueError(f"blob path {path!r} is not 'container/name'")
    return container, name


@bp.function_name("ingest_blob")
@bp.blob_trigger(
    arg_name="blob",
    path="%LOUPE_DATA_CONTAINER%/{name}",
    connection="STORAGE",
    source=func.BlobSource.EVENT_GRID,
)
def ingest_blob(blob: func.InputStream) -> None:
    container, name = split_blob_path(blob.name or "")
    register_blob(context.deps(), container=container, name=name)
