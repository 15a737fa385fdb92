from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.domain.datasets import Dataset, DataSource, dataset_root


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
