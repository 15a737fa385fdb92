"""The events of a bulk change, built directly, are the documents `audit_event` writes: the
same ids (time-ordered, a microsecond apart) and the same stored times, in any time zone and
across the second boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from core.domain.events import audit_documents, audit_event

_ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))]
)
_TIMES = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=_ZONES
)
_SUMMARIES = st.one_of(
    st.none(),
    st.fixed_dictionaries({"state": st.sampled_from(["labeled", "unlabeled"])}),
    st.fixed_dictionaries({"final": st.fixed_dictionaries({"label": st.text(max_size=5)})}),
)


@given(
    at=_TIMES,
    changes=st.lists(st.tuples(st.text(min_size=1, max_size=8), _SUMMARIES, _SUMMARIES)),
)
def test_bulk_event_documents_are_those_of_audit_event(
    at: datetime, changes: list[tuple[str, Any, Any]]
) -> None:
    tokens = [f"{n:08x}" for n in range(len(changes))]
    built = audit_documents(
        tokens=tokens, project_id="p", at=at, actor="olive", action="item.imported.final",
        changes=changes,
    )  # fmt: skip
    expected = [
        audit_event(
            token=token,
            project_id="p",
            at=at + timedelta(microseconds=n),
            actor="olive",
            action="item.imported.final",
            subject=subject,
            before=before,
            after=after,
        ).to_doc()
        for n, (token, (subject, before, after)) in enumerate(zip(tokens, changes, strict=True))
    ]
    assert built == expected


def test_a_batch_straddling_a_second_keeps_its_ids_in_time_order() -> None:
    at = datetime(2026, 12, 31, 23, 59, 59, 999_998, tzinfo=UTC)
    changes = [(f"item-{n}", None, {"state": "labeled"}) for n in range(4)]
    built = audit_documents(
        tokens=["ff", "ee", "dd", "cc"], project_id="p", at=at, actor="a", action="x",
        changes=changes,
    )  # fmt: skip
    assert [d["at"] for d in built] == [
        "2026-12-31T23:59:59.999998Z",
        "2026-12-31T23:59:59.999999Z",
        "2027-01-01T00:00:00.000000Z",
        "2027-01-01T00:00:00.000001Z",
    ]
    assert [d["id"] for d in built] == sorted(d["id"] for d in built)
