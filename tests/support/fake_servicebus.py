"""An in-process fake of the part of `azure.servicebus.ServiceBusClient` Loupe uses.

Service Bus has no emulator outside Docker, so the adapter is tested at the SDK seam: same
method and argument names, messages with the attributes the SDK's messages have, and the SDK's
own exception types. Broker behaviour follows Service Bus on a `Clock`: peek-lock with lock
expiry, delivery counts, MaxDeliveryCount → dead-letter queue ('MaxDeliveryCountExceeded'),
scheduled enqueue, peek on and peek-lock receive from the dead-letter sub-queue.

Faithful details worth knowing:
- `delivery_count` is the AMQP header value, i.e. deliveries *before* this one (0 on the first
  receive), as the real Python SDK reports it.
- Settling checks the lock as the SDK does before any I/O (expired lock: MessageLockLostError;
  settled twice: MessageAlreadySettled), then as the broker does (lock re-taken: lock lost).
- A queue not in `specs` exists with Service Bus's defaults (lock 60 s, MaxDeliveryCount 10,
  which are QueueSpec's), as if deployed by the infrastructure; with `strict_entities=True` it
  does not, and using it raises MessagingEntityNotFoundError on first use (not when the handler
  is made), as the SDK does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from azure.servicebus import ServiceBusMessage, ServiceBusReceiveMode, ServiceBusSubQueue
from azure.servicebus.exceptions import (
    MessageAlreadySettled,
    MessageLockLostError,
    MessagingEntityNotFoundError,
)

from core.ports import EXHAUSTED, Clock, QueueSpec


@dataclass
class _Stored:
    sequence_number: int
    message_id: str
    body: bytes
    content_type: str | None
    enqueued_at: datetime
    delivery_count: int = 0
    """Deliveries so far (the broker's DeliveryCount)."""
    lock_token: uuid.UUID | None = None
    locked_until: datetime | None = None
    properties: dict[str, str] = field(default_factory=dict)


class FakeReceivedMessage:
    """What `ServiceBusReceivedMessage` exposes, as a snapshot taken at receive or peek."""

    def __init__(
        self, stored: _Stored, receiver: FakeReceiver | None, *, peeked: bool = False
    ) -> None:
        self._body = stored.body
        self.message_id = stored.message_id
        self.content_type = stored.content_type
        self.sequence_number = stored.sequence_number
        self.enqueued_time_utc = stored.enqueued_at
        # AMQP header delivery-count: prior deliveries (Service Bus sends DeliveryCount - 1).
        self.delivery_count = max(stored.delivery_count - 1, 0)
        self.dead_letter_reason = stored.properties.get("DeadLetterReason")
        self.dead_letter_error_description = stored.properties.get("DeadLetterErrorDescription")
        self._lock_token = None if peeked else stored.lock_token
        self._locked_until = None if peeked else stored.locked_until
        self._receiver = receiver
        self._is_peeked_message = peeked
        self._settled = False

    @property
    def body(self) -> Iterator[bytes]:
        return iter([self._body])  # a data body: a generator of sections, as in the SDK

    @property
    def lock_token(self) -> uuid.UUID | None:
        return None if self._settled else self._lock_token

    @property
    def locked_until_utc(self) -> datetime | None:
        return None if self._settled else self._locked_until

    def __str__(self) -> str:
        return self._body.decode("utf-8")


class _Queue:
    def __init__(self, spec: QueueSpec) -> None:
        self.spec = spec
        self.active: dict[int, _Stored] = {}
        self.dead: dict[int, _Stored] = {}
        self._sequence = 0

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def sweep(self, now: datetime) -> None:
        """Expired locks return their messages; one at MaxDeliveryCount goes to the DLQ."""
        for stored in list(self.active.values()):
            if stored.locked_until is not None and stored.locked_until <= now:
                self.release(stored, now)

    def release(self, stored: _Stored, now: datetime) -> None:
        stored.lock_token = stored.locked_until = None
        if self.spec.spent(stored.delivery_count):
            self.move_to_dlq(
                stored,
                EXHAUSTED,
                f"Message could not be consumed after {stored.delivery_count} delivery attempts.",
            )

    def move_to_dlq(self, stored: _Stored, reason: str | None, description: str | None) -> None:
        del self.active[stored.sequence_number]
        stored.lock_token = stored.locked_until = None
        if reason is not None:
            stored.properties["DeadLetterReason"] = reason
        if description is not None:
            stored.properties["DeadLetterErrorDescription"] = description
        # The dead-letter queue numbers its messages itself.
        stored.sequence_number = self.next_sequence()
        self.dead[stored.sequence_number] = stored


class FakeNamespace:
    """The broker state: queues by name. Several fake clients may share one namespace."""

    def __init__(
        self, clock: Clock, specs: Mapping[str, QueueSpec], *, strict_entities: bool = False
    ) -> None:
        self.clock = clock
        self.queues = {name: _Queue(spec) for name, spec in specs.items()}
        self.strict_entities = strict_entities

    def queue(self, name: str) -> _Queue:
        found = self.queues.get(name)
        if found is None and not self.strict_entities:
            found = self.queues[name] = _Queue(QueueSpec(name))
        if found is None:
            raise MessagingEntityNotFoundError(
                message=f"The messaging entity 'sb://fake/{name}' could not be found."
            )
        found.sweep(self.clock.now())
        return found


class _Handler:
    def __init__(self, namespace: FakeNamespace, queue_name: str) -> None:
        self._namespace = namespace
        self._queue_name = queue_name
        self._running = True

    def _check_live(self) -> _Queue:
        if not self._running:
            raise ValueError(
                "The handler has already been shutdown. Please use ServiceBusClient to "
                "create a new instance."
            )
        return self._namespace.queue(self._queue_name)

    def close(self) -> None:
        self._running = False

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class FakeSender(_Handler):
    def send_messages(
        self, message: ServiceBusMessage | list[ServiceBusMessage], *, timeout: float | None = None
    ) -> None:
        queue = self._check_live()
        now = self._namespace.clock.now()
        for one in message if isinstance(message, list) else [message]:
            if not isinstance(one, ServiceBusMessage):
                raise TypeError("Only ServiceBusMessage instances can be sent.")
            body = one.body
            data = body if isinstance(body, bytes) else b"".join(body)
            scheduled = one.scheduled_enqueue_time_utc
            sequence = queue.next_sequence()
            queue.active[sequence] = _Stored(
                sequence_number=sequence,
                message_id=one.message_id or uuid.uuid4().hex,
                body=data,
                content_type=one.content_type,
                enqueued_at=max(now, scheduled) if scheduled is not None else now,
            )


class FakeReceiver(_Handler):
    def __init__(
        self,
        namespace: FakeNamespace,
        queue_name: str,
        receive_mode: ServiceBusReceiveMode,
        sub_queue: ServiceBusSubQueue | None,
    ) -> None:
        super().__init__(namespace, queue_name)
        self._receive_mode = receive_mode
        self._sub_queue = sub_queue
        self._last_peeked: int | None = None

    def receive_messages(
        self, max_message_count: int | None = 1, max_wait_time: float | None = None
    ) -> list[FakeReceivedMessage]:
        queue = self._check_live()
        if max_wait_time is not None and max_wait_time <= 0:
            raise ValueError("The max_wait_time must be greater than 0.")
        if max_message_count is not None and max_message_count <= 0:
            raise ValueError("The max_message_count must be greater than 0")
        now = self._namespace.clock.now()
        lock = timedelta(seconds=queue.spec.lock_seconds)
        received: list[FakeReceivedMessage] = []
        source = self._source(queue)
        if self._dead:  # locks in the dead-letter queue expire too, with no count to keep
            for stored in source.values():
                if stored.locked_until is not None and stored.locked_until <= now:
                    stored.lock_token = stored.locked_until = None
        for stored in list(source.values()):
            if len(received) >= (max_message_count or 0):
                break
            if stored.lock_token is not None or stored.enqueued_at > now:
                continue
            if self._receive_mode == ServiceBusReceiveMode.RECEIVE_AND_DELETE:
                del source[stored.sequence_number]
            else:
                stored.delivery_count += 1
                stored.lock_token = uuid.uuid4()
                stored.locked_until = now + lock
            received.append(FakeReceivedMessage(stored, self))
        return received

    def peek_messages(
        self, max_message_count: int = 1, *, sequence_number: int = 0, timeout: float | None = None
    ) -> list[FakeReceivedMessage]:
        queue = self._check_live()
        if not sequence_number:
            sequence_number = self._last_peeked + 1 if self._last_peeked else 1
        source = self._source(queue)
        found = [
            FakeReceivedMessage(stored, None, peeked=True)
            for seq, stored in sorted(source.items())
            if seq >= sequence_number
        ][:max_message_count]
        if found:
            self._last_peeked = found[-1].sequence_number
        return found

    @property
    def _dead(self) -> bool:
        return self._sub_queue == ServiceBusSubQueue.DEAD_LETTER

    def _source(self, queue: _Queue) -> dict[int, _Stored]:
        return queue.dead if self._dead else queue.active

    def complete_message(self, message: FakeReceivedMessage) -> None:
        queue, stored = self._settling(message, "complete")
        del self._source(queue)[stored.sequence_number]

    def abandon_message(self, message: FakeReceivedMessage) -> None:
        queue, stored = self._settling(message, "abandon")
        if self._dead:  # a dead letter is only unlocked: there is no further queue to go to
            stored.lock_token = stored.locked_until = None
        else:
            queue.release(stored, self._namespace.clock.now())

    def dead_letter_message(
        self,
        message: FakeReceivedMessage,
        reason: str | None = None,
        error_description: str | None = None,
    ) -> None:
        if self._dead:
            raise ValueError("a message in the dead-letter queue cannot be dead-lettered")
        queue, stored = self._settling(message, "dead-letter")
        queue.move_to_dlq(stored, reason, error_description)

    def renew_message_lock(
        self, message: FakeReceivedMessage, *, timeout: float | None = None
    ) -> datetime:
        queue, stored = self._alive(message, "renew")
        now = self._namespace.clock.now()
        stored.locked_until = now + timedelta(seconds=queue.spec.lock_seconds)
        message._locked_until = stored.locked_until  # the SDK updates the message it holds
        return stored.locked_until

    def _settling(self, message: FakeReceivedMessage, action: str) -> tuple[_Queue, _Stored]:
        found = self._alive(message, action)
        message._settled = True
        return found

    def _alive(self, message: FakeReceivedMessage, action: str) -> tuple[_Queue, _Stored]:
        """The SDK's checks (in its order), then the broker's: is this lock still the one?"""
        queue = self._check_live()
        if not isinstance(message, FakeReceivedMessage):
            raise TypeError("Parameter 'message' must be of type ServiceBusReceivedMessage")
        if message._is_peeked_message:
            raise ValueError(f"The operation {action} is not supported for peeked messages.")
        if self._receive_mode == ServiceBusReceiveMode.RECEIVE_AND_DELETE:
            raise ValueError(f"The operation {action} is not supported in 'RECEIVE_AND_DELETE'.")
        if message._settled:
            raise MessageAlreadySettled(action=action)
        now = self._namespace.clock.now()
        if message._locked_until is not None and message._locked_until <= now:
            raise MessageLockLostError(message="The lock on the message lock has expired.")
        stored = self._source(queue).get(message.sequence_number)
        if stored is None or stored.lock_token != message._lock_token:
            raise MessageLockLostError(
                message="The lock supplied is invalid. Either the lock expired, or the message "
                "has already been removed from the queue."
            )
        return queue, stored


class FakeTopicSender:
    def __init__(self, sent: list[Any]) -> None:
        self._sent = sent

    def send_messages(self, message: Any) -> None:
        self._sent.append(message)

    def close(self) -> None:
        return None


class FakeServiceBusClient:
    """`ServiceBusClient` over a `FakeNamespace` (a fresh one unless given)."""

    def __init__(
        self,
        clock: Clock,
        specs: Mapping[str, QueueSpec],
        *,
        namespace: FakeNamespace | None = None,
        strict_entities: bool = False,
    ) -> None:
        self.namespace = namespace or FakeNamespace(clock, specs, strict_entities=strict_entities)
        self._handlers: list[_Handler] = []
        self.topics: dict[str, list[Any]] = {}
        """Messages sent to each topic (no subscriptions: Loupe only publishes)."""

    def get_topic_sender(self, topic_name: str, **kwargs: Any) -> FakeTopicSender:
        return FakeTopicSender(self.topics.setdefault(topic_name, []))

    def get_queue_sender(self, queue_name: str, **kwargs: Any) -> FakeSender:
        sender = FakeSender(self.namespace, queue_name)
        self._handlers.append(sender)
        return sender

    def get_queue_receiver(
        self,
        queue_name: str,
        *,
        receive_mode: ServiceBusReceiveMode = ServiceBusReceiveMode.PEEK_LOCK,
        sub_queue: ServiceBusSubQueue | None = None,
        **kwargs: Any,
    ) -> FakeReceiver:
        receiver = FakeReceiver(self.namespace, queue_name, receive_mode, sub_queue)
        self._handlers.append(receiver)
        return receiver

    def close(self) -> None:
        for handler in self._handlers:
            handler.close()
        self._handlers.clear()

    def __enter__(self) -> FakeServiceBusClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
