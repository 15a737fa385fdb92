"""The demo a fresh `loupe serve` starts with: an owner, a token, a small labeled-shapes project.

The owner's token is kept in the data folder (readable by its owner only) so each start can
print a working link; that convenience is for the embedded runtime alone."""

from __future__ import annotations

import os
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from core.domain.datasets import Dataset, DataSource
from core.domain.errors import Conflict
from core.domain.labels import LabelClass
from core.domain.projects import Instructions, ProjectSettings
from core.domain.task_types import TaskType
from core.ports import Deps
from core.services.projects import create_project
from core.services.users import create_user, issue_token

OWNER = "owner"
PROJECT_NAME = "Demo: shapes"
SAMPLES = Path(__file__).parent / "demo"
SAMPLE_PREFIX = "samples/shapes/"
INSTRUCTIONS = """\
# Label the shape

Pick the one shape you see: **circle**, **square** or **triangle**.
Press its number key, then Enter to submit.
"""


@dataclass(frozen=True)
class Demo:
    owner: str
    token: str


def ensure_demo(deps: Deps, data_dir: Path) -> Demo:
    """Create what is missing, leave what exists: safe on every start."""
    token = _owner_token(deps, data_dir / "owner-token")
    for sample in sorted(SAMPLES.glob("*.png")):
        name = SAMPLE_PREFIX + sample.name
        if not deps.blobs.exists(deps.data_container, name):
            with sample.open("rb") as data:
                deps.blobs.put(deps.data_container, name, data, content_type="image/png")
    settings = ProjectSettings(
        name=PROJECT_NAME,
        task_type=TaskType.IMAGE_MULTICLASS,
        label_classes=[LabelClass(name=n) for n in ("circle", "square", "triangle")],
        instructions=Instructions(markdown=INSTRUCTIONS),
        dataset=Dataset(
            source=DataSource.BLOB, container=deps.data_container, path=SAMPLE_PREFIX + "**"
        ),
    )
    with suppress(Conflict):  # made on an earlier start (names are never reused)
        create_project(deps, settings=settings, actor=OWNER)
    return Demo(owner=OWNER, token=token)


def _owner_token(deps: Deps, path: Path) -> str:
    try:
        _, token = create_user(deps, name=OWNER)
    except Conflict:
        if path.exists():
            return path.read_text().strip()
        token = issue_token(deps, name=OWNER)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(token)
    return token
