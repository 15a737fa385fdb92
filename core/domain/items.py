"""Items: one image or one text to label, with what is known about its media and its labels."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, computed_field, model_validator

from core.domain.annotation_json import StoredValue
from core.domain.annotations import attributes_of, labels_of
from core.domain.attributes import attribute_keys
from core.domain.lanes import checked, lane_of
from core.domain.model import DomainModel, Stamp
from core.domain.series import DicomSeries
from core.domain.task_types import MediaKind


class ItemState(StrEnum):
    UNLABELED = "unlabeled"
    LABELED = "labeled"
    SKIPPED = "skipped"
    NEEDS_REVIEW = "needs_review"
    ERROR = "error"


class MediaFacts(DomainModel):
    format: str
    bytes: int = Field(ge=0)
    width: int | None = Field(default=None, ge=1)
    height: int | None = Field(default=None, ge=1)
    frames: int = Field(default=1, ge=1)
    etag: str | None = None
    orientation: int = Field(
        default=1,
        ge=1,
        le=8,
        description="EXIF orientation: other than 1, the file is stored turned",
    )

    def of_series(self, series: DicomSeries) -> MediaFacts:
        """A series' media facts, these being its first file's: its slices shown are its
        frames, their versions its etag."""
        shown = series.shown
        return self.model_copy(
            update={
                "frames": max(1, len(shown)),
                "bytes": sum(s.bytes for s in series.slices),
                "etag": series.version,
                **({"width": shown[0].width, "height": shown[0].height} if shown else {}),
            }
        )


class DicomTags(DomainModel):
    """What a labeler needs from a DICOM header; the window is the one the display uses."""

    modality: str | None = None
    window_center: float | None = None
    window_width: float | None = Field(default=None, gt=0)
    photometric: str | None = None
    bits_stored: int | None = None


class RawPixels(DomainModel):
    """Greyscale DICOM values (modality LUT applied) at the display size, for window/level in
    the browser: zlib-compressed little-endian uint16, value = stored * scale + offset."""

    path: str = Field(description="`container/name` of the compressed pixels")
    offset: float = 0.0
    scale: float = Field(default=1.0, gt=0)


class Derivatives(DomainModel):
    """Browser-ready renditions, each as `container/name`, made from the blob at `etag`. The
    display is the source blob itself when a browser shows it as it is (small JPEG or PNG)."""

    display: str
    thumbnail: str
    width: int = Field(ge=1, description="Pixel size of the display image")
    height: int = Field(ge=1)
    etag: str | None = None
    pixels: RawPixels | None = None


class Annotation(DomainModel):
    """One labeler's answer; the value's shape depends on the task type (see annotations)."""

    user: str
    at: Stamp
    value: StoredValue
    agreed: bool | None = Field(
        default=None, description="Whether it matched the consensus (set when one was taken)"
    )


class Lease(DomainModel):
    user: str
    until: Stamp


class Skip(DomainModel):
    user: str
    at: Stamp
    reason: str | None = Field(default=None, max_length=1000)


class Prediction(DomainModel):
    """ML assist's guess, shown for a labeler to confirm or correct."""

    value: StoredValue
    confidence: float = Field(ge=0, le=1)
    run: str | None = None


class ReviewMark(DomainModel):
    user: str
    at: Stamp
    decision: Literal["approved", "rejected"]
    note: str | None = Field(default=None, max_length=2000)


class Comment(DomainModel):
    """A reviewer's word on an item, for the labelers it names (`to`) and whoever labels the
    item next (a rejection's reason travels with the item back to the queue)."""

    id: str
    user: str
    at: Stamp
    text: str = Field(min_length=1, max_length=2000)
    to: list[str] = Field(default_factory=list, description="The labelers it is addressed to")


MAX_COMMENTS = 50


class RemovedLabels(DomainModel):
    """Labels taken off an item (a review rejection, a start-over), kept as its history."""

    at: Stamp
    by: str
    reason: str
    annotations: list[Annotation] = Field(default_factory=list)
    skips: list[Skip] = Field(default_factory=list)
    final: StoredValue | None = None


# Fields derived from the others on every write (for indexed queries); never read back.
DERIVED_FIELDS = frozenset({"lane", "labels", "labelers", "disputed", "notify", "attributeValues"})


class Item(DomainModel):
    id: str
    project_id: str
    path: str
    kind: MediaKind
    state: ItemState = ItemState.UNLABELED
    rank: float = Field(ge=0, le=1, description="Queue order: a random shuffle, lowest first")
    media: MediaFacts | None = None
    text: str | None = None
    error: str | None = None
    # Ingestion: where a row came from, text size, DICOM tags, renditions for the browser.
    row: int | None = Field(default=None, ge=1, description="1-based record of a .csv/.tsv/.jsonl")
    chars: int | None = Field(default=None, ge=0)
    text_ref: str | None = Field(default=None, description="container/blob of a text too large")
    dicom: DicomTags | None = None
    series: DicomSeries | None = Field(
        default=None, description="A DICOM series: its member files, one per slice, in order"
    )
    derivatives: Derivatives | None = None
    lease: Lease | None = None
    annotations: list[Annotation] = Field(default_factory=list)
    final: StoredValue | None = None
    # Labeling: reservation, suggestions, skips, review, and labels removed (history).
    assignee: str | None = None
    cluster: str | None = None
    prediction: Prediction | None = None
    audit: bool = Field(
        default=False,
        description="In ML assist's random sample: served among the pre-labels but without one, "
        "so its label measures the model's precision without bias",
    )
    prefill: StoredValue | None = Field(default=None, description="Kept label to confirm")
    skips: list[Skip] = Field(default_factory=list)
    review: ReviewMark | None = None
    comments: list[Comment] = Field(default_factory=list, max_length=MAX_COMMENTS)
    removed: list[RemovedLabels] = Field(default_factory=list)
    created_at: Stamp
    updated_at: Stamp

    @model_validator(mode="before")
    @classmethod
    def _drop_derived(cls, data: Any) -> Any:
        if isinstance(data, dict) and not DERIVED_FIELDS.isdisjoint(data):
            return {k: v for k, v in data.items() if k not in DERIVED_FIELDS}
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def lane(self) -> str | None:
        """The queue lane (see `core.domain.lanes`); None when no labeler should get it."""
        return lane_of(
            unlabeled=self.state is ItemState.UNLABELED,
            lease_user=self.lease.user if self.lease else None,
            assignee=self.assignee,
            annotators=self.labelers,
            suggested=self.prediction is not None or self.prefill is not None or self.audit,
            cluster=self.cluster,
            later=self.prediction is not None
            and self.prediction.run is not None  # not imported
            and self.prefill is None
            and not self.audit
            and not checked(self.id),
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def labels(self) -> list[str]:
        """The labels of the final value (an item may carry several)."""
        return list(labels_of(self.final))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def attribute_values(self) -> list[str] | None:
        """The final value's attributes as `name` and `name=value` (review filters on them);
        None without any, so documents without attributes stay as they were."""
        return attribute_keys(attributes_of(self.final))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def labelers(self) -> list[str]:
        return [annotation.user for annotation in self.annotations]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def disputed(self) -> bool:
        """The labelers did not all give the same answer (consensus failed, or one was outvoted)."""
        return self.state is ItemState.NEEDS_REVIEW or any(
            a.agreed is False for a in self.annotations
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def notify(self) -> list[str]:
        """Who the comments are addressed to (a labeler's feedback is a query on this)."""
        return sorted({user for comment in self.comments for user in comment.to})


def item_id(project_id: str, path: str) -> str:
    """Stable per (project, path), so registering the same file twice is idempotent."""
    digest = hashlib.sha256(f"{project_id}\n{path}".encode()).hexdigest()
    return digest[:32]


def rank(identity: str) -> float:
    """A stable pseudo-random position in the queue: the shuffle survives redelivery."""
    return int(hashlib.sha256(identity.encode()).hexdigest()[:13], 16) / float(1 << 52)
