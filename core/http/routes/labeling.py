"""Labeling over HTTP: next task, renew/release leases, submit (one item or a page), skip,
correct the last submission. A labeler sees only what labeling shows: the item, its
suggestion, and their own answer."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import Field

from core.domain.annotation_json import StoredValue, SubmittedValue
from core.domain.items import Item, Prediction
from core.domain.model import DomainModel, JsonInt
from core.domain.tasks import PAGE_SIZES, Task
from core.http.context import AppDeps, AppSettings, SignedIn
from core.http.openapi import conflict
from core.http.store_work import store_work
from core.services import labeling, tasks
from core.services.links import frame_count, frames_url, media_url, pixels_url

router = APIRouter(prefix="/projects/{project_id}", tags=["labeling"])


class DicomView(DomainModel):
    """What window/level in the browser needs: the values (zlib'd little-endian uint16,
    value = stored * scale + offset) and the file's window."""

    pixels_url: str
    offset: float
    scale: float
    window_center: float | None = None
    window_width: float | None = None
    invert: bool = Field(default=False, description="MONOCHROME1: high values are dark")
    modality: str | None = None


class TaskComment(DomainModel):
    """A reviewer's comment on the item (a rejection's reason comes back with it)."""

    user: str
    at: datetime
    text: str


class TaskItem(DomainModel):
    id: str
    path: str
    kind: str
    url: str | None = None
    text: str | None = None
    width: int | None = None
    height: int | None = None
    prefill: StoredValue | None = None
    prediction: Prediction | None = None
    mine: StoredValue | None = Field(default=None, description="Your answer, if you gave one")
    state: str
    dicom: DicomView | None = Field(default=None, description="Greyscale DICOM: window/level")
    frames: int = Field(default=1, ge=1, description="How many frames it shows (DICOM)")
    frames_url: str | None = Field(
        default=None,
        description="A multi-frame item's frames: `{framesUrl}/{n}/display` and, with "
        "`dicom`, `{framesUrl}/{n}/pixels`, n from 0",
    )
    comments: list[TaskComment] = Field(default_factory=list)


class TaskProgress(DomainModel):
    today: int = Field(description="Your submissions today (UTC)")
    left: int = Field(description="Items still to label in the project, in hand included")


class TaskView(DomainModel):
    items: list[TaskItem]
    lease_until: datetime | None = None
    lease_seconds: float | None = Field(
        default=None,
        description="Seconds the lease has left as the server answers (`leaseUntil` by the "
        "server's clock): renew before they run out, whatever the client's clock says",
    )
    progress: TaskProgress | None = None


class NextTask(DomainModel):
    size: JsonInt = Field(
        default=1,
        description="Items per task: more than one only where the task type shows a grid",
        json_schema_extra={"enum": list(PAGE_SIZES)},
    )
    holding: list[str] = Field(
        default_factory=list,
        max_length=tasks.MAX_HOLDING,
        description="Items leased to you and still in hand (shown, fetched ahead, being "
        "submitted): not handed out again, so you can keep tasks ahead",
    )


class ItemIds(DomainModel):
    item_ids: list[str] = Field(min_length=1, max_length=100)


class AnswerIn(DomainModel):
    value: SubmittedValue


class PageAnswer(DomainModel):
    item_id: str
    value: SubmittedValue


class PageAnswers(DomainModel):
    answers: list[PageAnswer] = Field(min_length=1, max_length=100)


class SkipIn(DomainModel):
    reason: str | None = Field(default=None, max_length=1000)


class Released(DomainModel):
    released: int


class LastSubmission(DomainModel):
    item_id: str | None


def task_item(item: Item, user: str) -> TaskItem:
    mine = next((a.value for a in item.annotations if a.user == user), None)
    return TaskItem(
        id=item.id,
        path=item.path,
        kind=item.kind.value,
        url=media_url(item),
        text=item.text,
        width=item.derivatives.width
        if item.derivatives
        else (item.media.width if item.media else None),
        height=item.derivatives.height
        if item.derivatives
        else (item.media.height if item.media else None),
        prefill=item.prefill,
        prediction=item.prediction,
        mine=mine,
        state=item.state.value,
        dicom=dicom_view(item),
        frames=frame_count(item),
        frames_url=frames_url(item),
        comments=[TaskComment(user=c.user, at=c.at, text=c.text) for c in item.comments],
    )


def dicom_view(item: Item) -> DicomView | None:
    url = pixels_url(item)
    if url is None or item.derivatives is None or item.derivatives.pixels is None:
        return None
    pixels, tags = item.derivatives.pixels, item.dicom
    return DicomView(
        pixels_url=url,
        offset=pixels.offset,
        scale=pixels.scale,
        window_center=tags.window_center if tags else None,
        window_width=tags.window_width if tags else None,
        invert=bool(tags and tags.photometric == "MONOCHROME1"),
        modality=tags.modality if tags else None,
    )


def _view(items: list[Item], user: str) -> list[TaskItem]:
    return [task_item(item, user) for item in items]


def _task(task: Task, user: str, now: datetime) -> TaskView:
    left = None if task.lease_until is None else (task.lease_until - now).total_seconds()
    return TaskView(items=_view(task.items, user), lease_until=task.lease_until, lease_seconds=left)


_NOT_LABELING = "the project is paused, or not running yet"
_NOT_YOURS = "an item is not leased to you (any more), or it kept changing: ask for the next task"


def _json(view: DomainModel) -> Response:
    """`view` as the route's response model sends it (by alias, nulls left out), made once:
    FastAPI would validate the view it was handed again before serializing it."""
    return Response(view.model_dump_json(by_alias=True, exclude_none=True), media_type=_JSON)


_JSON = "application/json"


@router.post(
    "/tasks/next",
    response_model=TaskView,
    response_model_exclude_none=True,
    responses=conflict(_NOT_LABELING),
)
async def next_task(
    project_id: str, body: NextTask, deps: AppDeps, settings: AppSettings, user: SignedIn
) -> Response:
    """Lease the next item (or a page); `items` is empty when nothing is left for you."""

    def work() -> tuple[Task, tasks.Progress]:
        found = tasks.next_task(
            deps, project_id=project_id, actor=user.id, size=body.size, holding=body.holding
        )
        return found, tasks.labeling_progress(deps, project_id=project_id, actor=user.id)

    found, done = await store_work(deps, settings, work, inline=body.size == 1)
    view = _task(found, user.id, deps.clock.now())
    progress = TaskProgress(today=done.today, left=done.left)
    return _json(view.model_copy(update={"progress": progress}))


@router.post(
    "/tasks/renew",
    response_model_exclude_none=True,
    responses=conflict(f"{_NOT_LABELING}; {_NOT_YOURS}"),
)
def renew(project_id: str, body: ItemIds, deps: AppDeps, user: SignedIn) -> TaskView:
    found = tasks.renew_leases(deps, project_id=project_id, actor=user.id, item_ids=body.item_ids)
    return _task(found, user.id, deps.clock.now())


@router.post("/tasks/release", responses=conflict("an item changed as it was released: send again"))
def release(project_id: str, body: ItemIds, deps: AppDeps, user: SignedIn) -> Released:
    count = tasks.release_leases(deps, project_id=project_id, actor=user.id, item_ids=body.item_ids)
    return Released(released=count)


@router.get("/tasks/last")
def last_submission(project_id: str, deps: AppDeps, user: SignedIn) -> LastSubmission:
    """The item you answered last: the one you may still correct."""
    found = labeling.last_submission(deps, project_id=project_id, actor=user.id)
    return LastSubmission(item_id=found)


@router.post(
    "/items/{item_id}/annotation",
    response_model=TaskItem,
    response_model_exclude_none=True,
    responses=conflict(f"{_NOT_LABELING}; {_NOT_YOURS}"),
)
async def submit(
    project_id: str,
    item_id: str,
    body: AnswerIn,
    deps: AppDeps,
    settings: AppSettings,
    user: SignedIn,
) -> Response:
    def work() -> Item:
        return labeling.submit_annotation(
            deps, project_id=project_id, actor=user.id, item_id=item_id, value=body.value
        )

    item = await store_work(deps, settings, work)
    return _json(_view([item], user.id)[0])


@router.put(
    "/items/{item_id}/annotation",
    response_model_exclude_none=True,
    responses=conflict(
        f"{_NOT_LABELING}; the item is not your last submission, was reviewed already, no "
        "longer holds your answer, or kept changing"
    ),
)
def correct(
    project_id: str, item_id: str, body: AnswerIn, deps: AppDeps, user: SignedIn
) -> TaskItem:
    """Correct your last submission while it is not reviewed."""
    item = labeling.correct_annotation(
        deps, project_id=project_id, actor=user.id, item_id=item_id, value=body.value
    )
    return _view([item], user.id)[0]


@router.post(
    "/annotations",
    response_model_exclude_none=True,
    responses=conflict(f"{_NOT_LABELING}; {_NOT_YOURS} (every such item is listed)"),
)
def submit_page(
    project_id: str, body: PageAnswers, deps: AppDeps, user: SignedIn
) -> list[TaskItem]:
    """Answer a page of leased items at once."""
    answers = [labeling.Answer(a.item_id, a.value) for a in body.answers]
    items = labeling.submit_annotations(deps, project_id=project_id, actor=user.id, answers=answers)
    return _view(items, user.id)


@router.post(
    "/items/{item_id}/skip",
    response_model_exclude_none=True,
    responses=conflict(f"{_NOT_LABELING}; {_NOT_YOURS}"),
)
def skip(project_id: str, item_id: str, body: SkipIn, deps: AppDeps, user: SignedIn) -> TaskItem:
    item = labeling.skip_item(
        deps, project_id=project_id, actor=user.id, item_id=item_id, reason=body.reason
    )
    return _view([item], user.id)[0]
