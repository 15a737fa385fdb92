"""Where a project's files come from, and which blob names belong to it.

A path is a folder (its files, not its subfolders), a folder with `/**` (everything below it),
`**/.` or an empty path (the whole container), and may use `*` and `?` inside one level.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cached_property

from pydantic import model_validator

from core.domain.model import DomainModel

WHOLE_CONTAINER = "**/."
_CONTAINER = re.compile(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]")
_WILDCARD = re.compile(r"[*?]")


class DataSource(StrEnum):
    UPLOAD = "upload"
    BLOB = "blob"


class Dataset(DomainModel):
    source: DataSource = DataSource.UPLOAD
    container: str | None = None
    path: str = ""

    @model_validator(mode="after")
    def _check(self) -> Dataset:
        if self.source is DataSource.BLOB:
            if self.container is None or not _CONTAINER.fullmatch(self.container):
                raise ValueError(
                    "container must be an Azure container name: 3–63 lowercase letters, digits "
                    "and single hyphens, starting and ending with a letter or digit"
                )
        elif self.container is not None or self.path:
            raise ValueError(
                "an upload dataset takes no container or path: Loupe stores uploads itself"
            )
        check_path(self.path)
        return self

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        return glob_pattern(self.path)

    def matches(self, blob_name: str) -> bool:
        return self._pattern.fullmatch(blob_name) is not None

    @property
    def listing_prefix(self) -> str:
        """The literal folder prefix to list before matching (everything before a wildcard)."""
        if self.path in ("", WHOLE_CONTAINER):
            return ""
        literal = []
        for segment in self.path.split("/"):
            if _WILDCARD.search(segment):
                break
            literal.append(segment)
        prefix = "/".join(literal)
        return prefix + "/" if prefix and len(literal) < len(self.path.split("/")) else prefix


def check_path(path: str) -> None:
    if path in ("", WHOLE_CONTAINER):
        return
    if path.startswith("/") or "\\" in path:
        raise ValueError("path is relative to the container and uses '/' (e.g. 'images/**')")
    segments = path.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise ValueError("path has an empty, '.' or '..' level")
    if any("**" in segment and segment != "**" for segment in segments):
        raise ValueError("'**' stands alone as a whole level ('images/**')")


def glob_pattern(path: str) -> re.Pattern[str]:
    if path in ("", WHOLE_CONTAINER, "**"):
        return re.compile(r".+", re.DOTALL)
    if not _WILDCARD.search(path):
        # A plain folder means the files directly in it (or the one file of that name).
        return re.compile(re.escape(path) + r"(?:/[^/]+)?", re.DOTALL)
    parts = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            parts.append(".+" if last else "(?:[^/]+/)*")
            continue
        regex = "".join(
            "[^/]*" if ch == "*" else "[^/]" if ch == "?" else re.escape(ch) for ch in segment
        )
        parts.append(regex if last else regex + "/")
    return re.compile("".join(parts), re.DOTALL)


def upload_prefix(project_id: str) -> str:
    """Where an upload dataset's files live in the data container."""
    return f"uploads/{project_id}/"


def dataset_root(dataset: Dataset, *, project_id: str, upload_container: str) -> tuple[str, str]:
    """(container, name prefix) that item paths are relative to."""
    if dataset.source is DataSource.UPLOAD:
        return upload_container, upload_prefix(project_id)
    assert dataset.container is not None  # checked by the model
    return dataset.container, ""
