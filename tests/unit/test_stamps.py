"""Stored times are fixed-width UTC text, so that string order is time order on every store."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from core.domain.model import stamp_text


def test_a_stamp_is_the_utc_time_to_the_microsecond_in_fixed_width() -> None:
    moment = datetime(2026, 3, 1, 1, 2, 3, tzinfo=timezone(timedelta(hours=5)))
    assert stamp_text(moment) == "2026-02-28T20:02:03.000000Z"
    assert stamp_text(datetime(2026, 12, 4, 5, 6, 7, 89, tzinfo=UTC)) == (
        "2026-12-04T05:06:07.000089Z"
    )


def test_stamps_are_what_strftime_writes_for_any_time_and_offset() -> None:
    draw = random.Random(20)
    zones = [UTC, timezone(timedelta(hours=-7, minutes=-30)), timezone(timedelta(hours=13))]
    for _ in range(20_000):
        moment = datetime(
            draw.randint(2, 9998), draw.randint(1, 12), draw.randint(1, 28), draw.randint(0, 23),
            draw.randint(0, 59), draw.randint(0, 59), draw.choice([0, draw.randint(0, 999_999)]),
            tzinfo=draw.choice(zones),
        )  # fmt: skip
        expected = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert stamp_text(moment) == expected
        assert stamp_text(moment) == expected  # remembered, the same
