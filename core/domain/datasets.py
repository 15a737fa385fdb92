"""Where a project's files come from, and which blob names belong to it.

A path is a folder (its files, not its subfolders), a folder with `/**` (everything below it),
`**/.` or an empty path (the whole container), and may use `*` and `?` inside one level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from pydantic import model_validator

from core.domain.errors import Forbidden
from core.domain.model import DomainModel

WHOLE_CONTAINER = "**/."
RESERVED_CONTAINERS = frozenset({"derivatives", "exports", "imports", "models"})
"""Loupe's own containers (renditions and embeddings, exports, import files, ML backbones):
never a dataset."""
UPLOADS = "uploads/"
"""Where upload projects keep their files in the data container, one folder per project."""
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
    def scope_prefix(self) -> str:
        """A prefix every name the dataset matches starts with."""
        prefix = self.listing_prefix
        if prefix and not prefix.endswith("/") and not _WILDCARD.search(self.path):
            return prefix + "/"  # a plain folder: its files
        return prefix

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
    return f"{UPLOADS}{project_id}/"


@dataclass(frozen=True)
class DatasetRoot:
    """A place the deployment lets blob datasets read: a whole container, or one folder of it
    (`LOUPE_DATASETS`, e.g. `lake` or `lake/images`)."""

    container: str
    prefix: str = ""
    """Empty, or a folder path ending with '/'."""

    @classmethod
    def parse(cls, text: str, *, data_container: str) -> DatasetRoot:
        container, _, folder = text.strip().strip("/").partition("/")
        if not _CONTAINER.fullmatch(container):
            raise ValueError(f"{text!r}: {container!r} is not an Azure container name")
        if _WILDCARD.search(folder):
            raise ValueError(f"{text!r}: a dataset root is a folder, without wildcards")
        check_path(folder)
        root = cls(container, folder + "/" if folder else "")
        if (reason := root._reserved(data_container)) is not None:
            raise ValueError(f"{text!r}: {reason}")
        return root

    def _reserved(self, data_container: str) -> str | None:
        if self.container in RESERVED_CONTAINERS:
            return f"container {self.container!r} holds Loupe's own files, never a dataset"
        if self.container == data_container and _overlap(self.prefix, UPLOADS):
            return f"{data_container}/{UPLOADS} holds the projects' uploads, never a dataset"
        return None

    def __str__(self) -> str:
        return f"{self.container}/{self.prefix}"


def check_dataset_allowed(
    dataset: Dataset, *, roots: tuple[DatasetRoot, ...], data_container: str
) -> None:
    """A blob dataset must lie inside a root the deployment allows, and never in Loupe's own
    containers or another project's uploads (`Forbidden` says which)."""
    if dataset.source is DataSource.UPLOAD:
        return
    assert dataset.container is not None  # checked by the model
    scope = DatasetRoot(dataset.container, dataset.scope_prefix)
    if (reason := scope._reserved(data_container)) is not None:
        raise Forbidden(f"dataset {scope}: {reason}")
    if not any(r.container == scope.container and scope.prefix.startswith(r.prefix) for r in roots):
        allowed = ", ".join(str(r) for r in roots) or "none: only uploads"
        raise Forbidden(
            f"dataset {scope} is outside the places this deployment lets projects read "
            f"(allowed: {allowed}); an admin lists them in LOUPE_DATASETS, or upload the files"
        )


def _overlap(a: str, b: str) -> bool:
    """Whether names under prefix `a` and names under prefix `b` can meet."""
    return a.startswith(b) or b.startswith(a)


def dataset_root(dataset: Dataset, *, project_id: str, upload_container: str) -> tuple[str, str]:
    """(container, name prefix) that item paths are relative to."""
    if dataset.source is DataSource.UPLOAD:
        return upload_container, upload_prefix(project_id)
    assert dataset.container is not None  # checked by the model
    return dataset.container, ""
