"""The base of every stored and exchanged shape: camelCase on the wire, snake_case in Python,
unknown fields refused (a typo in a setting must not be silently ignored), immutable."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel


def stamp_text(moment: datetime) -> str:
    return _utc_text(moment.astimezone(UTC))


@lru_cache(maxsize=1024)
def _utc_text(utc: datetime) -> str:
    """Remembered: the items of an ingestion batch, and the documents one change writes,
    share their stamps (formatting one costs a few microseconds)."""
    if utc.year < 1000:  # isoformat pads the year to four digits, strftime does not
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"  # the same text, faster


Stamp = Annotated[datetime, PlainSerializer(stamp_text, return_type=str, when_used="json")]
"""A time as stored: fixed-width UTC text, so that string order is time order on every store
(pydantic's own form drops zero microseconds, which breaks ordering and range queries)."""


def _json_number(value: Any) -> Any:
    if isinstance(value, bool | str):
        raise ValueError("must be a number, not text or true/false")
    return value


# Numbers as JSON has them: pydantic's lax mode would also take `false` or `"3"` for 3, which
# the API's schema refuses (flags are `StrictBool` for the same reason).
JsonInt = Annotated[int, BeforeValidator(_json_number)]
JsonFloat = Annotated[float, BeforeValidator(_json_number)]


class DomainModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        str_strip_whitespace=False,
    )

    def to_doc(self) -> dict[str, Any]:
        """The JSON document shape: camelCase, JSON types only, and no nulls, so that queries
        test absence with `missing`/`exists` alike on Cosmos, SQLite and in memory."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
