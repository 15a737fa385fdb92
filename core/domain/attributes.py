"""Attributes: facts a label class asks for beside the class itself (a car box is `occluded`,
its `color` is one of red/blue/other, a person's `age` a number, a `note` free text).

A class declares its attributes; every shape of that class (box, polygon, span, and any kind of
shape added later) and the item-level answer of a classification task may carry values for
them as `attributes: {name: value}`. A classification answer's attributes are those its chosen
class declares (for multi-label, any chosen class: a name two chosen classes declare holds one
value, which must suit both). Attributes are optional: an answer without them is complete.

`read_attributes` is the one reader every shape reader calls; values are kept as an immutable
`AttributeValues` (names sorted, hashable, so equal shapes stay equal)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any, TypeAlias

from pydantic import AfterValidator, Field, GetCoreSchemaHandler, field_validator
from pydantic_core import core_schema

from core.domain.errors import Violation
from core.domain.model import DomainModel, JsonFloat, JsonInt
from core.domain.text_patterns import CONTROL, CONTROL_CHARACTER, SPACE

MAX_ATTRIBUTES = 20
"""Attributes one class declares at most."""
MAX_OPTIONS = 50
MAX_NAME = 50
MAX_TEXT = 1000
DEFAULT_TEXT = 200
_EDGE = f"[^{CONTROL}{SPACE}]"
NAME_PATTERN = f"^{_EDGE}(?:[^{CONTROL}]{{0,{MAX_NAME - 2}}}{_EDGE})?$"
MAX_OPTION = 100
OPTION_PATTERN = f"^{_EDGE}(?:[^{CONTROL}]{{0,{MAX_OPTION - 2}}}{_EDGE})?$"

AttributeValue: TypeAlias = bool | int | float | str


def _clean_option(option: str) -> str:
    if not _clean(option, MAX_OPTION):
        raise ValueError(
            f"an option is 1 to {MAX_OPTION} characters, without control characters or spaces "
            "at either end"
        )
    return option


Option = Annotated[
    str, AfterValidator(_clean_option), Field(json_schema_extra={"pattern": OPTION_PATTERN})
]


class AttributeType(StrEnum):
    BOOLEAN = "boolean"
    ONE_OF = "one_of"
    NUMBER = "number"
    TEXT = "text"


class Attribute(DomainModel):
    """One attribute a label class declares; the rules across fields (options only for
    one_of, min ≤ max…) are checked with the class list (`check_attributes`), so that each
    broken rule is named by its place in the list."""

    name: str = Field(
        min_length=1,
        max_length=MAX_NAME,
        json_schema_extra={"pattern": NAME_PATTERN},
        description="Unique in its class, ignoring case",
    )
    type: AttributeType
    options: list[Option] | None = Field(
        default=None, description="one_of: the values to choose from (at least one, unique)"
    )
    min: JsonFloat | None = Field(default=None, description="number: the smallest allowed")
    max: JsonFloat | None = Field(default=None, description="number: the largest allowed")
    max_length: JsonInt | None = Field(
        default=None,
        ge=1,
        le=MAX_TEXT,
        description=f"text: the most characters (default {DEFAULT_TEXT})",
    )

    @field_validator("name")
    @classmethod
    def _clean_name(cls, name: str) -> str:
        if not _clean(name, MAX_NAME):
            raise ValueError("must not start or end with spaces or contain control characters")
        return name


def check_attributes(attributes: Sequence[Attribute], field: str) -> list[Violation]:
    """The rules across one class's attributes, each violation at its place under `field`."""
    problems: list[Violation] = []
    if len(attributes) > MAX_ATTRIBUTES:
        problems.append(
            Violation(
                field, f"has {len(attributes)} attributes; a class has at most {MAX_ATTRIBUTES}"
            )
        )
    seen: dict[str, int] = {}
    for index, attribute in enumerate(attributes):
        at = f"{field}[{index}]"
        folded = attribute.name.casefold()
        if folded in seen:
            problems.append(
                Violation(
                    f"{at}.name",
                    f"{attribute.name!r} repeats {field}[{seen[folded]}] (attribute names are "
                    "unique in a class, ignoring case)",
                )
            )
        seen.setdefault(folded, index)
        problems += _own_rules(attribute, at)
    return problems


def _own_rules(attribute: Attribute, at: str) -> list[Violation]:
    problems = []
    kind = attribute.type
    if kind is AttributeType.ONE_OF:
        options = attribute.options or []
        if not options:
            problems.append(Violation(f"{at}.options", "a one_of attribute needs its options"))
        if len(options) > MAX_OPTIONS:
            problems.append(
                Violation(f"{at}.options", f"has {len(options)}; at most {MAX_OPTIONS}")
            )
        first: dict[str, int] = {}
        for index, option in enumerate(options):
            if option in first:
                problems.append(Violation(f"{at}.options[{index}]", f"{option!r} is listed twice"))
            first.setdefault(option, index)
    elif attribute.options is not None:
        problems.append(Violation(f"{at}.options", "only one_of attributes have options"))
    if kind is AttributeType.NUMBER:
        low, high = attribute.min, attribute.max
        for name, bound in (("min", low), ("max", high)):
            if bound is not None and not math.isfinite(bound):
                problems.append(Violation(f"{at}.{name}", "must be a finite number"))
        if low is not None and high is not None and low > high:
            problems.append(Violation(f"{at}.min", f"{low:g} is greater than max {high:g}"))
    else:
        for name in ("min", "max"):
            if getattr(attribute, name) is not None:
                problems.append(Violation(f"{at}.{name}", f"only number attributes have {name}"))
    if kind is not AttributeType.TEXT and attribute.max_length is not None:
        problems.append(Violation(f"{at}.maxLength", "only text attributes have maxLength"))
    return problems


def _clean(text: str, most: int) -> bool:
    return 0 < len(text) <= most and text == text.strip() and not CONTROL_CHARACTER.search(text)


class AttributeValues(Mapping[str, AttributeValue]):
    """The attribute values of one shape or answer: immutable and hashable, names sorted (so
    two shapes with the same values are equal), JSON as a plain object."""

    __slots__ = ("_values",)

    def __init__(
        self, values: Mapping[str, AttributeValue] | Iterable[tuple[str, AttributeValue]] = ()
    ) -> None:
        self._values = dict(sorted(dict(values).items()))

    def __getitem__(self, name: str) -> AttributeValue:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __hash__(self) -> int:
        return hash(tuple((name, type(v), v) for name, v in self._values.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AttributeValues):
            return self._key() == other._key()
        if isinstance(other, Mapping):
            return self._key() == AttributeValues(other)._key()
        return NotImplemented

    def _key(self) -> tuple[tuple[str, type, AttributeValue], ...]:
        # True == 1 in Python; an attribute's true and a number's 1 are different answers.
        return tuple(
            (name, bool if v is True or v is False else type(v), v)
            for name, v in self._values.items()
        )

    def __repr__(self) -> str:
        return f"AttributeValues({self._values!r})"

    def to_json(self) -> dict[str, AttributeValue]:
        return dict(self._values)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        plain = handler(dict[str, bool | int | float | str])
        return core_schema.no_info_after_validator_function(
            cls,
            plain,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda values: dict(values), return_schema=plain
            ),
        )


def declared_for(
    declared: Mapping[str, Sequence[Attribute]], labels: Iterable[str]
) -> dict[str, list[Attribute]]:
    """Name → the declarations of that name among `labels`' classes."""
    found: dict[str, list[Attribute]] = {}
    for label in labels:
        for attribute in declared.get(label, ()):
            found.setdefault(attribute.name, []).append(attribute)
    return found


Fail = Callable[[str, str], None]


def read_attributes(
    raw: object, path: str, declared: Mapping[str, Sequence[Attribute]], fail: Fail
) -> AttributeValues | None:
    """The `attributes` object at `path`, checked against what the classes `declared` (name →
    declarations, `declared_for`); each broken rule goes to `fail(path, rule)`. None when there
    are none (an empty object is none) or they are broken."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        fail(path, "must be an object of attribute names and values")
        return None
    values: dict[str, AttributeValue] = {}
    broken = False
    for name, value in raw.items():
        at = f"{path}.{name}"
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            fail(at, f"is not an attribute of this class (its attributes: {known})")
            broken = True
            continue
        rules = [rule for d in declared[name] if (rule := _wrong(d, value)) is not None]
        if rules:
            fail(at, rules[0])
            broken = True
            continue
        values[name] = value
    if broken or not values:
        return None
    return AttributeValues(values)


def _wrong(attribute: Attribute, value: object) -> str | None:
    """What is wrong with `value` for `attribute`; None when it suits it."""
    match attribute.type:
        case AttributeType.BOOLEAN:
            return None if isinstance(value, bool) else "must be true or false"
        case AttributeType.ONE_OF:
            options = attribute.options or []
            if isinstance(value, str) and value in options:
                return None
            return f"must be one of {', '.join(map(repr, options))}"
        case AttributeType.NUMBER:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return "must be a number"
            try:
                finite = math.isfinite(value)
            except OverflowError:  # an int too large for a float
                finite = False
            if not finite:
                return "must be a finite number"
            if attribute.min is not None and value < attribute.min:
                return f"must be ≥ {attribute.min:g}"
            if attribute.max is not None and value > attribute.max:
                return f"must be ≤ {attribute.max:g}"
            return None
        case AttributeType.TEXT:
            if not isinstance(value, str):
                return "must be text (a string)"
            limit = attribute.max_length or DEFAULT_TEXT
            if len(value) > limit:
                return f"has {len(value)} characters; at most {limit}"
            return None


_UNSET = ("unset", None)


def attribute_majority(
    given: Sequence[Mapping[str, AttributeValue] | None],
) -> tuple[bool, AttributeValues | None]:
    """Consensus on attributes among answers that agree on the class: per attribute, the value
    a strict majority gave (leaving it unset is a vote too, so a value one labeler of three set
    is dropped); `(False, None)` when some attribute has no strict majority (a tie), which is a
    disagreement like a tied class."""
    names = sorted({name for values in given if values for name in values})
    chosen: dict[str, AttributeValue] = {}
    for name in names:
        votes = Counter(_vote(values, name) for values in given)
        (kind, value), count = votes.most_common(1)[0]
        if count * 2 <= len(given):
            return False, None
        if (kind, value) != _UNSET:
            chosen[name] = value
    return True, AttributeValues(chosen) if chosen else None


def _vote(values: Mapping[str, AttributeValue] | None, name: str) -> tuple[str, Any]:
    if not values or name not in values:
        return _UNSET
    value = values[name]
    return ("bool" if isinstance(value, bool) else "value", value)  # true is not 1


def attribute_keys(found: Iterable[Mapping[str, AttributeValue]]) -> list[str] | None:
    """What an item is found by in review: each attribute's name (it is set) and its
    `attribute_key`, sorted, once each; None when there are none."""
    keys = {key for values in found for n, v in values.items() for key in (n, attribute_key(n, v))}
    return sorted(keys) or None


def attribute_key(name: str, value: AttributeValue) -> str:
    """How a value is indexed on an item for review filters: `name=value`, true/false for
    booleans, numbers without a trailing `.0`."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value)
    return f"{name}={text}"
