"""ML assist over HTTP: its status and runs (reviewers and owners), training on demand
(owners), and the model registry's backbones."""

from __future__ import annotations

from fastapi import APIRouter, status

from core.domain.model import DomainModel
from core.http.context import AppDeps, SignedIn
from core.http.openapi import conflict
from core.services import assist, model_registry

router = APIRouter(tags=["ml assist"])


class CycleView(DomainModel):
    cycle: str


@router.get("/projects/{project_id}/assist", response_model_exclude_none=True)
def get_assist(project_id: str, deps: AppDeps, user: SignedIn) -> assist.AssistStatus:
    return assist.assist_status(deps, project_id=project_id, actor=user.id)


@router.post(
    "/projects/{project_id}/assist/train",
    status_code=status.HTTP_202_ACCEPTED,
    responses=conflict("the project is not running, or a cycle is already queued or running"),
)
def train_now(project_id: str, deps: AppDeps, user: SignedIn) -> CycleView:
    return CycleView(cycle=assist.request_training(deps, project_id=project_id, actor=user.id))


@router.get("/models")
def list_models(deps: AppDeps) -> list[model_registry.ModelEntry]:
    return model_registry.list_models(deps)
