"""Label classes: a hierarchy written with `/` (`Animal/Cat`), up to six levels deep.

Labels are the leaves; the levels above them only group them in the UI. So a name cannot be
both a label and the parent of another label. Keys 1–9 go to the first nine labels that have
no key of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pydantic import Field, field_validator

from core.domain.attributes import Attribute, check_attributes
from core.domain.errors import InvalidInput, Violation
from core.domain.keypoints import KeypointTemplate
from core.domain.model import DomainModel
from core.domain.task_types import TaskType
from core.domain.text_patterns import CONTROL, CONTROL_CHARACTER, SPACE

MAX_DEPTH = 6
MAX_CLASSES = 1000
MAX_SEGMENT_LENGTH = 100
DEFAULT_KEYS = tuple("123456789")
_KEY = re.compile(r"[0-9a-z]")

# The rules below as JSON Schema patterns, for the OpenAPI document (`text_patterns`).
_EDGE = f"[^/{CONTROL}{SPACE}]"
_LEVEL = f"{_EDGE}(?:[^/{CONTROL}]{{0,{MAX_SEGMENT_LENGTH - 2}}}{_EDGE})?"
NAME_PATTERN = f"^{_LEVEL}(?:/{_LEVEL}){{0,{MAX_DEPTH - 1}}}$"
KEY_PATTERN = "^[0-9a-z]$"


class LabelClass(DomainModel):
    name: str = Field(
        description="Full path of the class, levels separated by '/' (at most "
        f"{MAX_DEPTH} levels of at most {MAX_SEGMENT_LENGTH} characters, none blank or "
        "starting or ending with spaces). Names are unique in a project, ignoring case, and a "
        "label is never the group of another.",
        json_schema_extra={"pattern": NAME_PATTERN},
    )
    key: str | None = Field(
        default=None,
        description="Keyboard shortcut: one digit or lowercase letter, unique in the project.",
        json_schema_extra={"pattern": KEY_PATTERN},
    )
    keypoints: KeypointTemplate | None = Field(
        default=None,
        description="image_keypoints: the points an instance of this class has and the skeleton "
        "between them (every class of such a project has one; other task types take none)",
    )
    attributes: list[Attribute] | None = Field(
        default=None,
        description="What a shape (or a classification answer) of this class may carry beside "
        "its class: booleans, one of a list, numbers, free text (see README: Attributes)",
    )

    @field_validator("name")
    @classmethod
    def _name_is_a_clean_path(cls, name: str) -> str:
        segments = name.split("/")
        if len(segments) > MAX_DEPTH:
            raise ValueError(f"is {len(segments)} levels deep; the hierarchy allows {MAX_DEPTH}")
        for segment in segments:
            if not segment.strip():
                raise ValueError(f"{name!r} has an empty level; write levels like 'Animal/Cat'")
            if segment != segment.strip():
                raise ValueError(f"level {segment!r} starts or ends with spaces")
            if len(segment) > MAX_SEGMENT_LENGTH:
                raise ValueError(f"level {segment[:20]!r}… is longer than {MAX_SEGMENT_LENGTH}")
            if CONTROL_CHARACTER.search(segment):
                raise ValueError("contains control characters")
        return name

    @field_validator("key")
    @classmethod
    def _key_is_one_character(cls, key: str | None) -> str | None:
        if key is not None and not _KEY.fullmatch(key):
            raise ValueError("a key is one digit or one lowercase letter")
        return key

    @field_validator("attributes")
    @classmethod
    def _none_when_empty(cls, attributes: list[Attribute] | None) -> list[Attribute] | None:
        return attributes or None  # stored documents keep no empty list

    @property
    def parents(self) -> list[str]:
        segments = self.name.split("/")
        return ["/".join(segments[:depth]) for depth in range(1, len(segments))]


def check_label_classes(classes: Sequence[LabelClass], field: str = "labelClasses") -> None:
    """Rules across the whole list; raises one InvalidInput naming every broken rule."""
    problems: list[Violation] = []
    if len(classes) > MAX_CLASSES:
        problems.append(Violation(field, f"has {len(classes)} classes; at most {MAX_CLASSES}"))
    seen: dict[str, int] = {}
    keys: dict[str, int] = {}
    for index, label in enumerate(classes):
        folded = label.name.casefold()
        if folded in seen:
            problems.append(
                Violation(
                    f"{field}[{index}].name",
                    f"{label.name!r} repeats {field}[{seen[folded]}] (names are unique, "
                    "ignoring case)",
                )
            )
        seen.setdefault(folded, index)
        if label.key is not None:
            if label.key in keys:
                problems.append(
                    Violation(
                        f"{field}[{index}].key",
                        f"key {label.key!r} is already used by {field}[{keys[label.key]}]",
                    )
                )
            keys.setdefault(label.key, index)
        problems += check_attributes(label.attributes or [], f"{field}[{index}].attributes")
    for label in classes:
        for parent in label.parents:
            if parent.casefold() in seen:
                problems.append(
                    Violation(
                        f"{field}[{seen[parent.casefold()]}].name",
                        f"{parent!r} is a label and also the group of {label.name!r}; labels "
                        f"are the leaves of the hierarchy (use e.g. '{parent}/Other')",
                    )
                )
    if problems:
        raise InvalidInput(problems)


def with_default_keys(classes: Iterable[LabelClass]) -> list[LabelClass]:
    """Give the first labels without a key the free digits 1–9, in order."""
    classes = list(classes)
    free = [k for k in DEFAULT_KEYS if k not in {c.key for c in classes}]
    result = []
    for label in classes:
        if label.key is None and free:
            label = label.model_copy(update={"key": free.pop(0)})
        result.append(label)
    return result


def label_names(classes: Iterable[LabelClass]) -> frozenset[str]:
    return frozenset(label.name for label in classes)


def keypoint_templates(classes: Iterable[LabelClass]) -> dict[str, KeypointTemplate]:
    """Each class's point template by class name (classes without one left out)."""
    return {label.name: label.keypoints for label in classes if label.keypoints is not None}


def check_templates(
    classes: Sequence[LabelClass], task_type: TaskType, field: str = "labelClasses"
) -> None:
    """Every class of an image_keypoints project has a point template; no other class has one
    (it would be silently unused)."""
    wanted = task_type is TaskType.IMAGE_KEYPOINTS
    problems = [
        Violation(
            f"{field}[{index}].keypoints",
            f"{label.name!r} needs a point template (its points' names, and the skeleton's "
            "edges) in an image_keypoints project"
            if wanted
            else f"only image_keypoints projects use point templates, this one is "
            f"{task_type.value}: leave keypoints out",
        )
        for index, label in enumerate(classes)
        if (label.keypoints is None) == wanted
    ]
    if problems:
        raise InvalidInput(problems)


def check_templates_kept(before: Sequence[LabelClass], after: Sequence[LabelClass]) -> None:
    """A class's template is fixed once items may be labeled with it: its stored instances
    have one point per template point."""
    was = keypoint_templates(before)
    for index, label in enumerate(after):
        if label.name in was and label.keypoints != was[label.name]:
            raise InvalidInput.one(
                f"labelClasses[{index}].keypoints",
                f"cannot change the point template of {label.name!r} after initialization: "
                "labeled instances have one point per template point (add a new class instead)",
            )


def attribute_names(classes: Iterable[LabelClass]) -> list[str]:
    """Every attribute name the classes declare, once each, in order of first declaration."""
    names = (a.name for label in classes for a in label.attributes or ())
    return list(dict.fromkeys(names))


def declared_attributes(classes: Iterable[LabelClass]) -> dict[str, list[Attribute]]:
    """Class name → the attributes it declares, for the classes that declare any."""
    return {label.name: label.attributes for label in classes if label.attributes}
