"""The base of every stored and exchanged shape: camelCase on the wire, snake_case in Python,
unknown fields refused (a typo in a setting must not be silently ignored), immutable."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


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
