from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.domain.errors import InvalidInput
from core.domain.labels import LabelClass, check_label_classes, with_default_keys


def classes(*names: str) -> list[LabelClass]:
    return [LabelClass(name=n) for n in names]


def test_hierarchy_up_to_six_levels() -> None:
    LabelClass(name="a/b/c/d/e/f")
    with pytest.raises(ValidationError, match="7 levels deep; the hierarchy allows 6"):
        LabelClass(name="a/b/c/d/e/f/g")


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("Animal//Cat", "empty level"),
        ("/Cat", "empty level"),
        ("Animal/ Cat", "starts or ends with spaces"),
        ("Cat\x07", "control characters"),
        ("", "empty level"),
    ],
)
def test_malformed_names_say_what_is_wrong(name: str, rule: str) -> None:
    with pytest.raises(ValidationError, match=rule):
        LabelClass(name=name)


def test_names_unique_ignoring_case() -> None:
    with pytest.raises(InvalidInput) as raised:
        check_label_classes(classes("Cat", "Dog", "cat"))
    assert raised.value.violations[0].field == "labelClasses[2].name"
    assert "repeats labelClasses[0]" in raised.value.violations[0].rule


def test_a_label_cannot_also_be_a_group() -> None:
    with pytest.raises(InvalidInput) as raised:
        check_label_classes(classes("Animal", "Animal/Cat"))
    assert "labels are the leaves" in str(raised.value)


def test_siblings_under_one_group_are_fine() -> None:
    check_label_classes(classes("Animal/Cat", "Animal/Dog", "Vehicle/Car/Sedan"))


def test_first_nine_get_keys_and_custom_keys_are_kept() -> None:
    labelled = with_default_keys(
        [LabelClass(name=f"c{i}") for i in range(11)] + [LabelClass(name="x", key="2")]
    )
    keys = [c.key for c in labelled]
    assert keys[:8] == ["1", "3", "4", "5", "6", "7", "8", "9"]
    assert keys[8:11] == [None, None, None]
    assert keys[11] == "2"


def test_keys_are_single_characters_and_unique() -> None:
    with pytest.raises(ValidationError, match="one digit or one lowercase letter"):
        LabelClass(name="a", key="F1")
    with pytest.raises(InvalidInput, match="key 'q' is already used"):
        check_label_classes([LabelClass(name="a", key="q"), LabelClass(name="b", key="q")])
