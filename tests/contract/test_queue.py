"""The WorkQueue contract, run against every adapter (see conftest.py).

The queues "work" and "other" lock for 30 s and dead-letter after 3 deliveries; lock expiry is
driven by the shared ManualClock.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.adapters.memory import ManualClock
from core.domain.errors import Conflict, NotFound
from core.ports import ReceivedMessage, WorkQueue

LOCK_S = 30


def one(queue: WorkQueue, name: str = "work") -> ReceivedMessage:
    received = queue.receive(name)
    assert len(received) == 1
    return received[0]


def test_send_receive_complete(queue: WorkQueue, clock: ManualClock) -> None:
    message_id = queue.send("work", {"item": "a", "n": [1, 2]})

    message = one(queue)

    assert message.message_id == message_id
    assert message.queue == "work"
    assert message.body == {"item": "a", "n": [1, 2]}
    assert message.delivery_count == 1
    assert message.enqueued_at.tzinfo is not None
    assert message.locked_until > clock.now()
    queue.complete(message)
    clock.advance(LOCK_S + 1)
    assert queue.receive("work") == []


def test_given_message_id_is_kept(queue: WorkQueue) -> None:
    assert queue.send("work", {"x": 1}, message_id="train-p1-7") == "train-p1-7"

    assert one(queue).message_id == "train-p1-7"


def test_a_locked_message_is_hidden(queue: WorkQueue, clock: ManualClock) -> None:
    queue.send("work", {"x": 1})
    one(queue)

    clock.advance(LOCK_S - 1)

    assert queue.receive("work") == []


def test_an_expired_lock_redelivers_with_a_higher_count(
    queue: WorkQueue, clock: ManualClock
) -> None:
    queue.send("work", {"x": 1})
    first = one(queue)

    clock.advance(LOCK_S + 1)
    second = one(queue)

    assert second.message_id == first.message_id
    assert second.body == {"x": 1}
    assert second.delivery_count == 2
    assert second.lock_token != first.lock_token


def test_abandon_redelivers_at_once(queue: WorkQueue) -> None:
    queue.send("work", {"x": 1})
    first = one(queue)

    queue.abandon(first)

    again = one(queue)
    assert again.message_id == first.message_id
    assert again.delivery_count == 2


def test_settling_after_the_lock_was_lost_conflicts(queue: WorkQueue, clock: ManualClock) -> None:
    queue.send("work", {"x": 1})
    stale = one(queue)
    clock.advance(LOCK_S + 1)
    current = one(queue)

    with pytest.raises(Conflict):
        queue.complete(stale)
    with pytest.raises(Conflict):
        queue.abandon(stale)
    with pytest.raises(Conflict):
        queue.renew_lock(stale)
    with pytest.raises(Conflict):
        queue.dead_letter(stale, reason="stale")

    queue.complete(current)
    clock.advance(LOCK_S + 1)
    assert queue.receive("work") == []


def test_renew_lock_extends_it(queue: WorkQueue, clock: ManualClock) -> None:
    queue.send("work", {"x": 1})
    message = one(queue)
    clock.advance(LOCK_S - 10)

    renewed = queue.renew_lock(message)
    clock.advance(LOCK_S - 10)  # past the first lock's end, within the renewed one

    assert renewed.locked_until > message.locked_until
    assert queue.receive("work") == []
    queue.complete(renewed)
    clock.advance(LOCK_S + 1)
    assert queue.receive("work") == []


def test_scheduled_message_is_invisible_until_its_time(
    queue: WorkQueue, clock: ManualClock
) -> None:
    queue.send("work", {"x": "later"}, scheduled_at=clock.now() + timedelta(seconds=60))

    assert queue.receive("work") == []
    clock.advance(59)
    assert queue.receive("work") == []
    clock.advance(2)
    assert one(queue).body == {"x": "later"}


def test_max_delivery_count_moves_the_message_to_dead_letters(
    queue: WorkQueue, clock: ManualClock
) -> None:
    queue.send("work", {"x": "poison"}, message_id="poison-1")
    for attempt in (1, 2, 3):
        assert one(queue).delivery_count == attempt
        clock.advance(LOCK_S + 1)

    assert queue.receive("work") == []
    dead = queue.dead_letters("work")
    assert len(dead) == 1
    assert dead[0].message_id == "poison-1"
    assert dead[0].body == {"x": "poison"}
    assert dead[0].reason == "MaxDeliveryCountExceeded"
    assert dead[0].delivery_count == 3


def test_explicit_dead_letter_keeps_reason_and_description(queue: WorkQueue) -> None:
    queue.send("work", {"x": "bad"})
    message = one(queue)

    queue.dead_letter(message, reason="InvalidItem", description="item 7 has no media")

    assert queue.receive("work") == []
    (dead,) = queue.dead_letters("work")
    assert (dead.reason, dead.description) == ("InvalidItem", "item 7 has no media")
    assert dead.message_id == message.message_id
    assert dead.body == {"x": "bad"}
    assert queue.dead_letters("other") == []
    assert len(queue.dead_letters("work")) == 1  # peeking removes nothing


def test_queues_are_isolated(queue: WorkQueue) -> None:
    queue.send("work", {"to": "work"})

    assert queue.receive("other") == []
    assert one(queue, "work").body == {"to": "work"}


def test_unknown_queue_names_work_with_defaults(queue: WorkQueue) -> None:
    queue.send("adhoc", {"x": 1})

    message = one(queue, "adhoc")
    queue.complete(message)


def test_receive_takes_up_to_max_messages(queue: WorkQueue) -> None:
    sent = {queue.send("work", {"n": n}) for n in range(5)}

    first = queue.receive("work", max_messages=3)
    rest = queue.receive("work", max_messages=10)

    assert len(first) == 3
    assert len(rest) == 2
    assert {m.message_id for m in first + rest} == sent
    assert len({m.lock_token for m in first + rest}) == 5
    for message in first + rest:
        queue.complete(message)


def test_redrive_moves_a_dead_letter_back_with_a_fresh_count(
    queue: WorkQueue, clock: ManualClock
) -> None:
    queue.send("work", {"x": "poison"}, message_id="poison-1")
    for _ in range(3):
        one(queue)
        clock.advance(LOCK_S + 1)
    queue.send("work", {"x": "bad"}, message_id="bad-1")
    queue.dead_letter(one(queue), reason="InvalidItem")
    assert [d.message_id for d in queue.dead_letters("work")] == ["poison-1", "bad-1"]

    new_id = queue.redrive("work", "poison-1")

    assert [d.message_id for d in queue.dead_letters("work")] == ["bad-1"]
    again = one(queue)
    assert again.message_id == new_id
    assert again.body == {"x": "poison"}
    assert again.delivery_count == 1
    queue.complete(again)
    clock.advance(LOCK_S + 1)
    assert queue.receive("work") == []
    assert [d.message_id for d in queue.dead_letters("work")] == ["bad-1"]  # left as it was


def test_redrive_of_a_missing_dead_letter_is_not_found(queue: WorkQueue) -> None:
    queue.send("work", {"x": "bad"}, message_id="bad-1")
    queue.dead_letter(one(queue), reason="InvalidItem")

    with pytest.raises(NotFound):
        queue.redrive("work", "never-sent")
    with pytest.raises(NotFound):
        queue.redrive("other", "bad-1")  # dead on another queue
    queue.redrive("work", "bad-1")
    with pytest.raises(NotFound):
        queue.redrive("work", "bad-1")  # once only
