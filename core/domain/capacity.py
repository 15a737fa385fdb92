"""How many items one project may hold, and what to say as it nears that.

A project's items share one logical partition of the Cosmos DB `items` container (partition key
`/projectId`), and a logical partition holds at most 20 GB (infra/bicep/README.md). At the item
documents measured there (0.86 KB on average), that is about 23 million items. Items grow as
they are worked on (an answer per labeler under consensus, predictions, review notes; text
items carry their text), so the deployment's cap keeps half of that as a margin. An owner may
set a smaller cap of their own (`ingest.itemCap`); the smaller of the two applies.

Beyond the cap ingestion refuses new files, with the reason below on the ingestion progress and
the dashboard; past `WARN_FRACTION` of it the dashboard warns first."""

from __future__ import annotations

from dataclasses import dataclass

PARTITION_BYTES = 20 * 10**9
"""Cosmos DB's limit on one logical partition's data."""
ITEM_BYTES = 860
"""An item document's average size, measured by bench/azure_cost.py."""
PARTITION_ITEMS = PARTITION_BYTES // ITEM_BYTES
"""About 23 million: the items one project's partition holds at the measured size."""
MARGIN = 0.5
"""The share of `PARTITION_ITEMS` a project may fill by default: room for items to grow."""
DEFAULT_ITEM_CAP = int(PARTITION_ITEMS * MARGIN) // 1_000_000 * 1_000_000
"""11,000,000: the deployment's per-project cap unless LOUPE_ITEM_CAP says otherwise."""
WARN_FRACTION = 0.8
"""Past this share of its cap the dashboard warns that the project is filling up."""

PROJECT = "project"
DEPLOYMENT = "deployment"


def item_cap(own: int | None, deployment: int) -> tuple[int, str]:
    """The cap that applies and who set it: the project's own, if smaller than the
    deployment's."""
    if own is not None and own < deployment:
        return own, PROJECT
    return deployment, DEPLOYMENT


@dataclass(frozen=True)
class Capacity:
    """A project's items against its cap; `warning` is None while it is well below."""

    items: int
    cap: int
    set_by: str
    refused: int = 0
    """Files (or rows) turned away for the cap after initialization (an event delivered
    again, or a later sweep listing the same file, counts it again)."""

    @property
    def fraction(self) -> float:
        return self.items / self.cap

    @property
    def full(self) -> bool:
        return self.items >= self.cap

    @property
    def warning(self) -> str | None:
        if self.full:
            refused = f" ({self.refused:,} refused so far)" if self.refused else ""
            return (
                f"This project holds {self.items:,} items, its cap of {self.cap:,}: new files "
                f"are not ingested{refused}. {self.remedy}"
            )
        if self.fraction >= WARN_FRACTION:
            return (
                f"This project holds {self.items:,} items, {self.fraction:.0%} of its cap of "
                f"{self.cap:,}; at the cap new files are not ingested. {self.remedy}"
            )
        return None

    @property
    def remedy(self) -> str:
        if self.set_by == PROJECT:
            return (
                "Raise the project's item cap (ingest.itemCap, in Details → Ingestion), or "
                "split the data into projects by folder."
            )
        return (
            "The cap is the deployment's (LOUPE_ITEM_CAP), kept well below the "
            f"~{PARTITION_ITEMS / 1e6:.0f} million items one project's Cosmos DB partition "
            "holds (20 GB): split the data into projects by folder."
        )
