"""The demo a fresh `loupe serve` starts with: an owner, a token, a small labeled-shapes project.

The owner's token is kept in the data folder (readable by its owner only) so each start can
print a working link; that convenience is for the embedded runtime alone."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.domain.datasets import DataSource, upload_prefix
from core.domain.errors import Conflict
from core.domain.labels import LabelClass
from core.domain.projects import Instructions, Project, ProjectSettings, name_key
from core.domain.task_types import TaskType
from core.domain.users import UserRole
from core.ports import Deps
from core.services.projects import create_project, list_projects
from core.services.uploads import upload_file
from core.services.users import create_user, issue_token

OWNER = "owner"
PROJECT_NAME = "Demo: shapes"
SAMPLES = Path(__file__).parent / "demo"
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
    project = _demo_project(deps)
    samples = sorted(SAMPLES.glob("*.png")) if project.dataset.source is DataSource.UPLOAD else []
    for sample in samples:  # (a data folder from before demos were uploads keeps its own)
        if not deps.blobs.exists(deps.data_container, upload_prefix(project.id) + sample.name):
            with sample.open("rb") as data:
                upload_file(deps, project_id=project.id, path=sample.name, data=data, actor=OWNER)
    return Demo(owner=OWNER, token=token)


def _demo_project(deps: Deps) -> Project:
    """The demo project: made on the first start (names are never reused, so later starts
    find it among the owner's projects)."""
    settings = ProjectSettings(
        name=PROJECT_NAME,
        task_type=TaskType.IMAGE_MULTICLASS,
        label_classes=[LabelClass(name=n) for n in ("circle", "square", "triangle")],
        instructions=Instructions(markdown=INSTRUCTIONS),
    )
    try:
        return create_project(deps, settings=settings, actor=OWNER).value
    except Conflict:
        mine = list_projects(deps, actor=OWNER)
        return next(p for p in mine if name_key(p.name) == name_key(PROJECT_NAME))


def _owner_token(deps: Deps, path: Path) -> str:
    """The demo owner is the embedded runtime's first user, and so its admin."""
    try:
        _, token = create_user(deps, name=OWNER, roles=[UserRole.ADMIN])
    except Conflict:
        if path.exists():
            return path.read_text().strip()
        token = issue_token(deps, name=OWNER)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(token)
    return token
