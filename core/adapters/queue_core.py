"""What the three work queues (memory, SQLite, Service Bus) share: the receive preamble and
wait, the dead-letter reason and description, the lost-lock error, written once (the
delivery rule itself is `QueueSpec.spent`).

Service Bus applies the delivery rule itself (and the test fake at its SDK seam follows this
module); the local queues apply it here, so a message goes to the dead letters after the same
number of deliveries, with the same reason, on every adapter."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from core.domain.errors import Conflict, InvalidInput
from core.ports import EXHAUSTED, ReceivedMessage

T = TypeVar("T")

__all__ = ["EXHAUSTED", "check_batch", "exhausted", "lock_lost", "receive_within"]


def check_batch(max_messages: int) -> None:
    if max_messages < 1:
        raise InvalidInput.one("max_messages", "must be at least 1")


def exhausted(delivery_count: int) -> tuple[str, str]:
    """The dead letter's reason and description for a message that used up its deliveries."""
    return EXHAUSTED, f"delivered {delivery_count} times without being completed"


def lock_lost(message: ReceivedMessage) -> Conflict:
    return Conflict(f"the lock on message {message.message_id!r} was lost")


def receive_within(
    wait_s: float,
    take: Callable[[], list[T]],
    pause: Callable[[float], object],
    *,
    first_s: float,
    longest_s: float,
) -> list[T]:
    """`take()` until it returns something or `wait_s` has passed, pausing between tries
    (from `first_s`, doubling up to `longest_s`): a pause a send can cut short, and a poll,
    since the injected clock may move without telling anyone."""
    deadline = time.monotonic() + wait_s
    wait = first_s
    while True:
        taken = take()
        remaining = deadline - time.monotonic()
        if taken or remaining <= 0:
            return taken
        pause(min(wait, remaining))
        wait = min(wait * 2, longest_s)
