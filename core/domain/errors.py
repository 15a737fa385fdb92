"""Errors in the words of the domain; the HTTP layer maps each to a status in one place."""

from __future__ import annotations

from dataclasses import dataclass, field


class LoupeError(Exception):
    """Base of every error a caller can act on. `str(error)` is the message shown to users."""


class NotFound(LoupeError):
    pass


class Conflict(LoupeError):
    """The request is valid but clashes with the current state (a used name, an existing id)."""


class PreconditionFailed(Conflict):
    """A write carried an etag that is no longer current: someone else changed the document."""


class ProjectPaused(Conflict):
    pass


class Unauthorized(LoupeError):
    pass


class Forbidden(LoupeError):
    pass


@dataclass(frozen=True)
class Violation:
    """One broken rule: `field` is a dotted path into the input (`labelClasses[2].name`)."""

    field: str
    rule: str


@dataclass
class InvalidInput(LoupeError):
    """Input breaks one or more rules; every violation names its field and the rule."""

    violations: list[Violation] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return "; ".join(f"{v.field}: {v.rule}" if v.field else v.rule for v in self.violations)

    @classmethod
    def one(cls, field_path: str, rule: str) -> InvalidInput:
        return cls([Violation(field_path, rule)])


class InvalidAnnotation(InvalidInput):
    pass


@dataclass
class InvalidImport(InvalidInput):
    """A labels file that cannot be imported: each violation names a place in the file (`line
    12`, `annotation id 55`). `omitted` problems were found beyond those listed; `unknown_classes`
    are the class names the file uses that the project lacks (add them, or fix the file)."""

    omitted: int = 0
    unknown_classes: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        found = len(self.violations) + self.omitted
        listed = f"; the first {len(self.violations)} are listed" if self.omitted else ""
        unknown = ""
        if self.unknown_classes:
            unknown = f"; classes the project lacks: {', '.join(self.unknown_classes[:20])}"
        return f"nothing was imported: the file has {found} problem(s){listed}{unknown}"
