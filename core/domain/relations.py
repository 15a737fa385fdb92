"""Relation classes of text_ner projects: the kinds of link a labeler may draw between two
spans of one text (`works_for` from a person to an organization), directed or not, and
optionally limited to the span classes that may stand at each end.

A relation in an answer (`core.domain.annotations.Relation`) names its two spans by their start
offsets: spans in one answer never overlap, so a start names exactly one span, stays the same
when other spans are added, removed or listed in another order, and is the same in every
labeler's answer that has that span (consensus compares relations as they are)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from pydantic import Field, StrictBool, field_validator

from core.domain.errors import InvalidInput, Violation
from core.domain.labels import MAX_CLASSES, LabelClass
from core.domain.model import DomainModel
from core.domain.task_types import TaskType
from core.domain.text_patterns import CONTROL, CONTROL_CHARACTER, SPACE

MAX_RELATION_CLASSES = 100
MAX_RELATION_NAME = 100
_EDGE = f"[^{CONTROL}{SPACE}]"
RELATION_NAME_PATTERN = f"^{_EDGE}(?:[^{CONTROL}]{{0,{MAX_RELATION_NAME - 2}}}{_EDGE})?$"


class RelationClass(DomainModel):
    name: str = Field(
        description=f"Unique in the project, ignoring case; at most {MAX_RELATION_NAME} "
        "characters, not starting or ending with spaces.",
        json_schema_extra={"pattern": RELATION_NAME_PATTERN},
    )
    directed: StrictBool = Field(
        default=True,
        description="A directed relation goes from its head span to its tail span (`works_for`"
        "); an undirected one links two spans either way round (`sibling_of`) and is stored "
        "with the earlier span first.",
    )
    heads: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_CLASSES,
        description="The label classes a head span (`from`) may have; None: any.",
    )
    tails: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_CLASSES,
        description="The label classes a tail span (`to`) may have; None: any.",
    )

    @field_validator("name")
    @classmethod
    def _clean_name(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("must name the relation (it is blank)")
        if name != name.strip():
            raise ValueError("must not start or end with spaces")
        if len(name) > MAX_RELATION_NAME:
            raise ValueError(f"is longer than {MAX_RELATION_NAME} characters")
        if CONTROL_CHARACTER.search(name):
            raise ValueError("contains control characters")
        return name

    def allows(self, head: str, tail: str) -> bool:
        """Whether spans of classes `head` and `tail` may stand at its ends (either way round
        when undirected)."""

        def fits(first: str, second: str) -> bool:
            return (self.heads is None or first in self.heads) and (
                self.tails is None or second in self.tails
            )

        return fits(head, tail) or (not self.directed and fits(tail, head))

    def ends_text(self) -> str:
        """What its ends may be, for a message: `PER → ORG`, `any ↔ any`."""

        def names(allowed: list[str] | None) -> str:
            return "any" if allowed is None else " or ".join(allowed)

        arrow = "→" if self.directed else "↔"
        return f"{names(self.heads)} {arrow} {names(self.tails)}"


def check_relation_classes(
    relations: Sequence[RelationClass],
    labels: Sequence[LabelClass],
    task_type: TaskType,
    field: str = "relationClasses",
) -> None:
    """Rules across the project: relations only in text_ner projects, names unique ignoring
    case, and every class named at an end is a label class. Raises one InvalidInput naming
    every broken rule."""
    if not relations:
        return
    if task_type is not TaskType.TEXT_NER:
        raise InvalidInput.one(
            field,
            f"only text_ner projects have relations between spans; this one is {task_type.value}",
        )
    problems: list[Violation] = []
    if len(relations) > MAX_RELATION_CLASSES:
        problems.append(
            Violation(field, f"has {len(relations)} classes; at most {MAX_RELATION_CLASSES}")
        )
    known = {label.name for label in labels}
    seen: dict[str, int] = {}
    for index, relation in enumerate(relations):
        folded = relation.name.casefold()
        if folded in seen:
            problems.append(
                Violation(
                    f"{field}[{index}].name",
                    f"{relation.name!r} repeats {field}[{seen[folded]}] (names are unique, "
                    "ignoring case)",
                )
            )
        seen.setdefault(folded, index)
        for end in ("heads", "tails"):
            problems += _unknown_ends(getattr(relation, end), known, f"{field}[{index}].{end}")
    if problems:
        raise InvalidInput(problems)


def _unknown_ends(allowed: list[str] | None, known: Collection[str], path: str) -> list[Violation]:
    problems = []
    for index, name in enumerate(allowed or ()):
        if name not in known:
            problems.append(
                Violation(f"{path}[{index}]", f"{name!r} is not a label class of this project")
            )
        elif (allowed or []).index(name) != index:
            problems.append(Violation(f"{path}[{index}]", f"{name!r} is listed twice"))
    return problems


def check_none_removed(before: Sequence[RelationClass], after: Sequence[RelationClass]) -> None:
    """After initialization a relation class stays, with its direction: answers may hold
    relations of it, stored with their ends in the order its direction gave them."""
    now = {relation.name: relation for relation in after}
    removed = [r.name for r in before if r.name not in now]
    if removed:
        raise InvalidInput.one(
            "relationClasses",
            f"cannot remove {', '.join(map(repr, removed))} after initialization: answers may "
            "hold these relations (add new classes instead)",
        )
    for index, relation in enumerate(after):
        old = next((r for r in before if r.name == relation.name), None)
        if old is not None and old.directed != relation.directed:
            raise InvalidInput.one(
                f"relationClasses[{index}].directed",
                f"cannot change after initialization: answers may hold {relation.name!r} "
                "relations (add a new class instead)",
            )


def renamed_ends(relations: Sequence[RelationClass], old: str, new: str) -> list[RelationClass]:
    """The relation classes with label class `old` called `new` at their ends."""

    def follow(allowed: list[str] | None) -> list[str] | None:
        return None if allowed is None else [new if name == old else name for name in allowed]

    return [
        relation.model_copy(
            update={"heads": follow(relation.heads), "tails": follow(relation.tails)}
        )
        for relation in relations
    ]
