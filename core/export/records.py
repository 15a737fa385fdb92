"""What a writer reads: one item's exportable facts, taken from its stored document, and the
options that shape an export."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

TRAIN, VALIDATION = "train", "validation"


class KeptSplit:
    """An earlier export's split, kept: its items stay on their side; items it did not have
    are split anew at the asked fraction (so a validation set stays one as a project grows).
    Given by its sides, or by `load`, which reads them when first asked (an export job in parts
    reads them only while it plans)."""

    def __init__(
        self,
        validation: frozenset[str] = frozenset(),
        train: frozenset[str] = frozenset(),
        *,
        load: Callable[[], tuple[frozenset[str], frozenset[str]]] | None = None,
    ) -> None:
        self._sides = None if load is not None else (validation, train)
        self._load = load

    @property
    def sides(self) -> tuple[frozenset[str], frozenset[str]]:
        """(validation, train)."""
        if self._sides is None:
            assert self._load is not None
            self._sides = self._load()
        return self._sides

    @property
    def validation(self) -> frozenset[str]:
        return self.sides[0]

    @property
    def train(self) -> frozenset[str]:
        return self.sides[1]

    def side(self, item_id: str) -> str | None:
        validation, train = self.sides
        if item_id in validation:
            return VALIDATION
        return TRAIN if item_id in train else None


@dataclass(frozen=True)
class Options:
    states: tuple[str, ...] = ("labeled",)
    labels: tuple[str, ...] | None = None
    """Keep only these classes (shapes of other classes are dropped); None: all."""
    validation: float = 0.0
    """Fraction of items put in the validation split (0: no split)."""
    seed: int = 0
    kept: KeptSplit | None = None
    predictions: bool = False
    normalized_coco: bool = False
    """Azure ML's old COCO flavour: boxes and polygons as fractions of the image."""
    slices: bool = False
    """A volume's slices with shapes are images of their own (`core.export.slices`)."""


@dataclass(frozen=True)
class Record:
    id: str
    path: str
    state: str
    value: dict[str, Any] | None
    """The final value, or the prediction when predictions are exported instead of labels."""
    width: int | None = None
    height: int | None = None
    format: str | None = None
    text: str | None = None
    score: float | None = None
    split: str = TRAIN
    """Set by the writer once the split is chosen (`core.export.split`)."""
    slice: int | None = None
    """The slice of a volume this image is (`core.export.slices`); None: the item's own."""
    document: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    # Read only by the formats that show them (CSV), so computed on demand.
    @property
    def labelers(self) -> tuple[str, ...]:
        return tuple(a["user"] for a in self.document.get("annotations") or ())

    @property
    def at(self) -> str | None:
        """When the last labeler answered."""
        return max((a["at"] for a in self.document.get("annotations") or ()), default=None)


def record(document: dict[str, Any], options: Options) -> Record:
    """The record of a stored item document (camelCase)."""
    media = document.get("media") or {}
    derivatives = document.get("derivatives") or {}
    value = document.get("final")
    score = None
    prediction = document.get("prediction")
    if options.predictions and value is None and prediction:
        value, score = prediction.get("value"), prediction.get("confidence")
    if value is not None and options.labels is not None:
        value = keep_labels(value, frozenset(options.labels))
    return Record(
        id=document["id"],
        path=document["path"],
        state=document.get("state", "unlabeled"),
        value=value,
        width=media.get("width") or derivatives.get("width"),
        height=media.get("height") or derivatives.get("height"),
        format=media.get("format"),
        text=document.get("text"),
        score=score,
        document=document,
    )


def keep_labels(value: dict[str, Any], keep: frozenset[str]) -> dict[str, Any] | None:
    """`value` with only the classes in `keep`; None when a single label is not kept."""
    if "label" in value:
        return value if value["label"] in keep else None
    if "labels" in value:  # the answer's attributes stay with it
        return value | {"labels": [label for label in value["labels"] if label in keep]}
    if "spans" in value:
        return _kept_spans(value, keep)
    for key in ("boxes", "polygons", "keypoints", "masks"):
        if key in value:
            return {key: [part for part in value[key] if part["label"] in keep]}
    return value


def _kept_spans(value: dict[str, Any], keep: frozenset[str]) -> dict[str, Any]:
    """The kept spans, and the relations between two of them."""
    spans = [span for span in value["spans"] if span["label"] in keep]
    starts = {span["start"] for span in spans}
    relations = [r for r in value.get("relations", ()) if {r["from"], r["to"]} <= starts]
    return {"spans": spans} | ({"relations": relations} if relations else {})


def only(records: Iterable[Record], split: str) -> Iterator[Record]:
    return (r for r in records if r.split == split)


ImageUrl = Callable[[str], str]
"""Maps an item path to the URL a training job reads it from."""


@dataclass(frozen=True)
class Picture:
    """An image file an export ships beside its labels: `format` is what its bytes are (jpeg,
    png, ...), the size its pixels once EXIF-oriented (what the normalized geometry is of)."""

    format: str
    width: int
    height: int
    chunks: Callable[[], Iterator[bytes]]


Pictures = Callable[[Record, frozenset[str]], Picture | None]
"""The record's picture in one of the formats asked: its source file when it is one of them,
else its display rendition (JPEG or PNG, whatever was asked); None when it has neither."""


@dataclass(frozen=True)
class Imported:
    """One item's labels read from a file: its path and a value in Loupe's shape (geometry as
    fractions of the image; None when the file lists the item without a label), with the score
    when the file carried one. `where` says where the record is in the file (`line 12`, `image
    id 7`), `parts` where each shape or label of the value came from, in the value's order."""

    path: str
    value: dict[str, Any] | None
    score: float | None = None
    where: str = ""
    parts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Problem:
    """What makes a file, or one record of it, unimportable, and where (`line 12`, `annotation
    id 55`, `file`)."""

    where: str
    rule: str


def empty_value(task_type: str) -> dict[str, Any] | None:
    """What an item with no shapes in a file is labeled (None: classification has no 'none')."""
    return {
        "image_bounding_box": {"boxes": []},
        "image_polygon": {"polygons": []},
        "image_keypoints": {"keypoints": []},
    }.get(task_type)


def classification_value(task_type: str, labels: list[str]) -> dict[str, Any] | None:
    if not labels:
        return None
    if task_type.endswith("multilabel"):
        return {"labels": sorted(set(labels))}
    return {"label": labels[0]}
