from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from core.domain.datasets import (
    Dataset,
    DatasetRoot,
    DataSource,
    check_dataset_allowed,
    dataset_root,
)
from core.domain.errors import Forbidden


def blob(path: str) -> Dataset:
    return Dataset(source=DataSource.BLOB, container="images", path=path)


@pytest.mark.parametrize(
    ("path", "name", "expected"),
    [
        ("cats", "cats/a.jpg", True),
        ("cats", "cats/sub/a.jpg", False),  # a plain folder: its own files only
        ("cats", "catsup/a.jpg", False),
        ("cats/**", "cats/sub/deeper/a.jpg", True),
        ("cats/**", "cats/a.jpg", True),
        ("cats/**", "dogs/a.jpg", False),
        ("**/.", "anything/at/all.png", True),
        ("", "x.png", True),
        ("*/raw/*.png", "2024/raw/a.png", True),
        ("*/raw/*.png", "2024/raw/a.jpg", False),
        ("*/raw/*.png", "2024/x/raw/a.png", False),
        ("**/raw/*.png", "2024/x/raw/a.png", True),
        ("**/raw/*.png", "raw/a.png", True),
        ("day?/**", "day1/a/b.png", True),
    ],
)
def test_glob_semantics(path: str, name: str, expected: bool) -> None:
    assert blob(path).matches(name) is expected


@pytest.mark.parametrize(
    ("path", "prefix"),
    [("cats/**", "cats/"), ("**/.", ""), ("a/b/*.png", "a/b/"), ("cats", "cats")],
)
def test_listing_prefix_is_the_literal_part(path: str, prefix: str) -> None:
    assert blob(path).listing_prefix == prefix


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"source": "blob", "container": "Bad_Name"}, "Azure container name"),
        ({"source": "blob", "container": "ok-name", "path": "/abs"}, "relative"),
        ({"source": "blob", "container": "ok-name", "path": "a/../b"}, "'..'"),
        ({"source": "blob", "container": "ok-name", "path": "a/b**"}, "stands alone"),
        ({"source": "upload", "container": "x"}, "upload dataset takes no container"),
    ],
)
def test_invalid_datasets_are_explained(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Dataset.model_validate(fields)


def test_uploads_live_under_the_project() -> None:
    assert dataset_root(Dataset(), project_id="p1", upload_container="data") == (
        "data",
        "uploads/p1/",
    )
    assert dataset_root(blob("x/**"), project_id="p1", upload_container="data") == ("images", "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lake", DatasetRoot("lake")),
        ("lake/scans", DatasetRoot("lake", "scans/")),
        (" lake/a/b/ ", DatasetRoot("lake", "a/b/")),
        ("data/samples", DatasetRoot("data", "samples/")),
    ],
)
def test_dataset_roots_parse(text: str, expected: DatasetRoot) -> None:
    assert DatasetRoot.parse(text, data_container="data") == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("derivatives", "Loupe's own files"),
        ("exports/x", "Loupe's own files"),
        ("models", "Loupe's own files"),
        ("data", "projects' uploads"),
        ("data/uploads", "projects' uploads"),
        ("data/uploads/p1", "projects' uploads"),
        ("Lake", "not an Azure container name"),
        ("lake/*.png", "without wildcards"),
        ("lake/../x", "'..'"),
    ],
)
def test_dataset_roots_never_name_loupes_own_places(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        DatasetRoot.parse(text, data_container="data")


ROOTS = (DatasetRoot("lake", "scans/"), DatasetRoot("archive"))


@pytest.mark.parametrize(
    ("container", "path", "allowed"),
    [
        ("lake", "scans/**", True),
        ("lake", "scans", True),  # the folder's files
        ("lake", "scans/2024/*.png", True),
        ("lake", "scans2/**", False),
        ("lake", "sc*/**", False),  # a wildcard may reach past the root
        ("lake", "", False),
        ("lake", "**/.", False),
        ("archive", "**/.", True),
        ("elsewhere", "scans/**", False),
    ],
)
def test_a_blob_dataset_must_lie_in_an_allowed_root(
    container: str, path: str, allowed: bool
) -> None:
    dataset = Dataset(source=DataSource.BLOB, container=container, path=path)
    if allowed:
        check_dataset_allowed(dataset, roots=ROOTS, data_container="data")
    else:
        with pytest.raises(Forbidden, match="outside the places this deployment lets"):
            check_dataset_allowed(dataset, roots=ROOTS, data_container="data")


@pytest.mark.parametrize(
    ("container", "path"),
    [("derivatives", "**/."), ("exports", "p1/**"), ("data", "uploads/p2/**"), ("data", "u*/**")],
)
def test_loupes_own_places_are_never_a_dataset_whatever_is_allowed(
    container: str, path: str
) -> None:
    everywhere = (DatasetRoot(container),)  # as if a setting had slipped through
    dataset = Dataset(source=DataSource.BLOB, container=container, path=path)
    with pytest.raises(Forbidden, match="never a dataset"):
        check_dataset_allowed(dataset, roots=everywhere, data_container="data")


def test_uploads_are_always_allowed() -> None:
    check_dataset_allowed(Dataset(), roots=(), data_container="data")
