"""Where an item waits in the labeling queue, as one indexed string field (`lane`).

The lane is derived from the item on every write (never stored by hand), so one indexed
query per step finds the next task: a labeler's own leases, then items assigned to them, then
the public lanes in priority order. Public lanes sort below `PUBLIC_TO`, private ones (`a:`
or `l:` plus a user name) above it, so a range over the public part never meets an item
reserved for someone.
"""

from __future__ import annotations

from collections.abc import Collection

ASSIGNED = "a:"  # + user: reserved for that labeler until released
LEASED = "l:"  # + user: under a live lease
PARTIAL = "1r"  # some labelers answered, consensus wants more: finish these first
PRELABELED = "2p"  # a suggestion to confirm now, or ML assist's sample served without one
CLUSTERED = "3c:"  # + cluster id: similar items, served as pages of one cluster
QUEUE = "4q"  # everything else, by queue rank
CONFIRM_LATER = "4r"  # ML assist's pre-labels outside the checked share
PUBLIC_TO = "5"  # public lanes sort below this, private ones (a:, l:) above

CHECKED_EVERY = 10
"""One ML-assist pre-label in this many is served at once, in random order among the items it
serves without one: enough to check each class's precision live. The rest wait until the items
without a pre-label are labeled: confirming what the model already knows teaches it least, so
human labels go first where they teach it most."""


def lane_of(
    *,
    unlabeled: bool,
    lease_user: str | None,
    assignee: str | None,
    annotators: Collection[str],
    suggested: bool,
    cluster: str | None,
    later: bool = False,
) -> str | None:
    """The lane of an item, or None when it is not waiting for a labeler; `later`: its
    suggestion is an ML-assist pre-label outside the checked share."""
    if not unlabeled:
        return None
    if lease_user is not None:
        return LEASED + lease_user
    if assignee is not None and assignee not in annotators:
        return ASSIGNED + assignee
    if annotators:
        return PARTIAL
    if suggested:
        return CONFIRM_LATER if later else PRELABELED
    if cluster is not None:
        return CLUSTERED + cluster
    return QUEUE


def cluster_of(lane: str | None) -> str | None:
    return lane[len(CLUSTERED) :] if lane is not None and lane.startswith(CLUSTERED) else None


def checked(item_id: str) -> bool:
    """Whether an ML-assist pre-label of this item is served at once: fixed by a part of the id
    (a hash) that neither the queue rank nor the random sample's reservoir reads."""
    return int(item_id[8:16], 16) % CHECKED_EVERY == 0
