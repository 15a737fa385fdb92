"""Work queues on Azure Service Bus (`azure-servicebus`), peek-lock receive.

Service Bus itself keeps the lock, counts deliveries and moves a message to the dead-letter
queue once its delivery count passes the queue's MaxDeliveryCount; this adapter maps the SDK's
objects and errors to the port. There is no Service Bus emulator outside Docker, so the tests
drive it through `tests.support.fake_servicebus`, a fake at the SDK seam.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from azure.servicebus import ServiceBusMessage, ServiceBusReceiveMode, ServiceBusSubQueue
from azure.servicebus.exceptions import (
    MessageAlreadySettled,
    MessageLockLostError,
    MessagingEntityNotFoundError,
)

from core import telemetry
from core.adapters.clock import aware
from core.adapters.queue_core import check_batch
from core.domain.errors import Conflict, InvalidInput, NotFound
from core.ports import Clock, DeadLetter, JsonDoc, ReceivedMessage

if TYPE_CHECKING:
    from azure.servicebus import ServiceBusClient

_MIN_WAIT_S = 1.0
"""The SDK refuses a wait of 0, and a first receive on a new link spends part of its wait
attaching the link; a second is short enough for a poll and long enough to attach."""
_PEEK_BATCH = 100
MALFORMED_BODY = "MalformedBody"


class _Receiver(Protocol):
    """The part of `azure.servicebus.ServiceBusReceiver` this adapter uses."""

    def receive_messages(
        self, max_message_count: int | None = 1, max_wait_time: float | None = None
    ) -> list[Any]: ...

    def peek_messages(
        self, max_message_count: int = 1, *, sequence_number: int = 0
    ) -> list[Any]: ...

    def complete_message(self, message: Any) -> None: ...

    def abandon_message(self, message: Any) -> None: ...

    def renew_message_lock(self, message: Any) -> datetime: ...

    def dead_letter_message(
        self, message: Any, reason: str | None = None, error_description: str | None = None
    ) -> None: ...

    def close(self) -> None: ...


class _Sender(Protocol):
    def send_messages(self, message: ServiceBusMessage) -> None: ...

    def close(self) -> None: ...


class ServiceBusClientLike(Protocol):
    """The part of `azure.servicebus.ServiceBusClient` this adapter uses (the real client and
    the test fake both satisfy it)."""

    def get_queue_sender(self, queue_name: str) -> _Sender: ...

    def get_queue_receiver(
        self,
        queue_name: str,
        *,
        receive_mode: ServiceBusReceiveMode = ServiceBusReceiveMode.PEEK_LOCK,
        sub_queue: ServiceBusSubQueue | None = None,
    ) -> _Receiver: ...

    def close(self) -> None: ...


if TYPE_CHECKING:

    def _real_client_fits(client: ServiceBusClient) -> ServiceBusClientLike:
        return client  # mypy checks here that the SDK's client satisfies the protocol


def _text(message: Any) -> str:
    """A received message's body as text: data sections (bytes) joined, or a plain value."""
    body = message.body
    if isinstance(body, bytes | bytearray):
        return bytes(body).decode("utf-8")
    if isinstance(body, str):
        return body
    return b"".join(body).decode("utf-8")


def _json_object(message: Any) -> JsonDoc:
    body = json.loads(_text(message))
    if not isinstance(body, dict):
        raise ValueError("the body is JSON but not an object")
    return body


def _delivery_count(message: Any) -> int:
    # The Python SDK passes on the AMQP header, which counts *prior* deliveries (Service Bus
    # writes DeliveryCount - 1); the port counts this delivery too, as .NET and Java do.
    return int(message.delivery_count or 0) + 1


Settle = Callable[[_Receiver, Any], None]


class ServiceBusWorkQueue:
    """Implements `core.ports.WorkQueue`. Senders and receivers are opened once per queue and
    reused (opening an AMQP link costs a round trip); a received message is settled through the
    receiver that locked it, kept by lock token until settled or expired. Like the SDK's
    handlers, receive and settle on one queue from one thread at a time."""

    def __init__(self, client: ServiceBusClientLike, clock: Clock) -> None:
        self._client = client
        self._clock = clock
        self._senders: dict[str, _Sender] = {}
        self._receivers: dict[str, _Receiver] = {}
        self._held: dict[str, tuple[_Receiver, Any]] = {}
        self._lock = threading.Lock()

    def send(
        self,
        queue: str,
        body: JsonDoc,
        *,
        message_id: str | None = None,
        scheduled_at: datetime | None = None,
    ) -> str:
        if scheduled_at is not None:
            scheduled_at = aware(scheduled_at, "scheduled_at")
        if not isinstance(body, dict):
            raise InvalidInput.one("body", "a message body must be a JSON object")
        try:
            text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise InvalidInput.one("body", f"a message body must be JSON: {error}") from None
        message_id = message_id or uuid.uuid4().hex
        # The sender's trace goes along, so the stage that handles it continues it.
        properties: dict[str | bytes, Any] = {
            key: value for key, value in telemetry.trace_properties().items()
        }
        message = ServiceBusMessage(
            text,
            message_id=message_id,
            content_type="application/json",
            scheduled_enqueue_time_utc=scheduled_at,
            application_properties=properties or None,
        )
        with self._entity(queue):
            self._sender(queue).send_messages(message)
        return message_id

    def receive(
        self, queue: str, *, max_messages: int = 1, wait_s: float = 0.0
    ) -> list[ReceivedMessage]:
        check_batch(max_messages)
        self._forget_expired()
        with self._entity(queue):
            receiver = self._receiver(queue)
            batch = receiver.receive_messages(
                max_message_count=max_messages, max_wait_time=max(wait_s, _MIN_WAIT_S)
            )
        received = []
        for message in batch:
            try:
                body = _json_object(message)
            except (ValueError, UnicodeDecodeError) as error:
                # Not a Loupe message: park it where an operator sees it, rather than let it
                # go round every worker until MaxDeliveryCount.
                receiver.dead_letter_message(
                    message, reason=MALFORMED_BODY, error_description=str(error)[:1000]
                )
                continue
            token = str(message.lock_token)
            with self._lock:
                self._held[token] = (receiver, message)
            received.append(
                ReceivedMessage(
                    queue=queue,
                    message_id=str(message.message_id),
                    body=body,
                    delivery_count=_delivery_count(message),
                    enqueued_at=message.enqueued_time_utc,
                    locked_until=message.locked_until_utc,
                    lock_token=token,
                )
            )
        return received

    def complete(self, message: ReceivedMessage) -> None:
        self._settle(message, "complete", lambda r, m: r.complete_message(m))

    def abandon(self, message: ReceivedMessage) -> None:
        self._settle(message, "abandon", lambda r, m: r.abandon_message(m))

    def dead_letter(self, message: ReceivedMessage, *, reason: str, description: str = "") -> None:
        def settle(receiver: _Receiver, sdk_message: Any) -> None:
            receiver.dead_letter_message(sdk_message, reason=reason, error_description=description)

        self._settle(message, "dead-letter", settle)

    def renew_lock(self, message: ReceivedMessage) -> ReceivedMessage:
        receiver, sdk_message = self._holding(message, "renew the lock on")
        try:
            locked_until = receiver.renew_message_lock(sdk_message)
        except (MessageLockLostError, MessageAlreadySettled):
            self._release(message)
            raise self._lost(message, "renew the lock on") from None
        return replace(message, locked_until=locked_until)

    def dead_letters(self, queue: str, *, max_messages: int = 100) -> list[DeadLetter]:
        found: list[DeadLetter] = []
        # A fresh receiver each time: a receiver's peeks go on from where its last ended.
        with self._entity(queue), self._dead_letter_receiver(queue) as receiver:
            next_sequence = 0  # 0: from the start
            while len(found) < max_messages:
                count = min(_PEEK_BATCH, max_messages - len(found))
                batch = receiver.peek_messages(count, sequence_number=next_sequence)
                if not batch:
                    break
                found.extend(self._dead_letter(queue, m) for m in batch)
                next_sequence = int(batch[-1].sequence_number) + 1
        return found

    def _dead_letter_receiver(self, queue: str) -> contextlib.closing[_Receiver]:
        return contextlib.closing(
            self._client.get_queue_receiver(
                queue,
                receive_mode=ServiceBusReceiveMode.PEEK_LOCK,
                sub_queue=ServiceBusSubQueue.DEAD_LETTER,
            )
        )

    def redrive(self, queue: str, message_id: str) -> str:
        """Receive from the dead-letter sub-queue until `message_id` turns up, send a copy to
        the queue, then complete the dead letter; the others looked at are abandoned (which
        in the dead-letter queue only unlocks them). A crash between send and complete leaves
        the dead letter in place as well: re-driving twice is safe, the handlers being
        idempotent; losing the message is not."""
        new_id = uuid.uuid4().hex
        with self._entity(queue), self._dead_letter_receiver(queue) as receiver:
            looked: list[Any] = []
            try:
                found = self._find_dead(receiver, message_id, looked)
                if found is None:
                    raise NotFound(f"no dead-lettered message {message_id!r} on queue {queue!r}")
                try:
                    body = _json_object(found)
                except (ValueError, UnicodeDecodeError) as error:
                    raise Conflict(
                        f"dead letter {message_id!r} is not a Loupe message ({error}): "
                        "re-driving it would only dead-letter it again"
                    ) from None
                self.send(queue, body, message_id=new_id)
                receiver.complete_message(found)
                looked.remove(found)
            finally:
                for other in looked:
                    with contextlib.suppress(MessageLockLostError, MessageAlreadySettled):
                        receiver.abandon_message(other)
        return new_id

    @staticmethod
    def _find_dead(receiver: _Receiver, message_id: str, looked: list[Any]) -> Any | None:
        while True:
            batch = receiver.receive_messages(
                max_message_count=_PEEK_BATCH, max_wait_time=_MIN_WAIT_S
            )
            if not batch:
                return None
            looked.extend(batch)
            for message in batch:
                if str(message.message_id) == message_id:
                    return message

    def close(self) -> None:
        with self._lock:
            handlers: list[_Sender | _Receiver] = [
                *self._senders.values(),
                *self._receivers.values(),
            ]
            self._senders.clear()
            self._receivers.clear()
            self._held.clear()
        for handler in handlers:
            handler.close()
        self._client.close()

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _dead_letter(queue: str, message: Any) -> DeadLetter:
        try:
            body = _json_object(message)
        except (ValueError, UnicodeDecodeError):
            body = {"unreadable": repr(message.body)[:1000]}
        return DeadLetter(
            queue=queue,
            message_id=str(message.message_id),
            body=body,
            delivery_count=_delivery_count(message),
            reason=str(message.dead_letter_reason or ""),
            description=str(message.dead_letter_error_description or ""),
        )

    def _settle(self, message: ReceivedMessage, action: str, settle: Settle) -> None:
        receiver, sdk_message = self._holding(message, action)
        try:
            settle(receiver, sdk_message)
        except (MessageLockLostError, MessageAlreadySettled):
            raise self._lost(message, action) from None
        finally:
            self._release(message)

    def _holding(self, message: ReceivedMessage, action: str) -> tuple[_Receiver, Any]:
        with self._lock:
            held = self._held.get(message.lock_token)
        if held is None:
            raise self._lost(message, action)
        return held

    def _release(self, message: ReceivedMessage) -> None:
        with self._lock:
            self._held.pop(message.lock_token, None)

    def _forget_expired(self) -> None:
        """Drop messages whose lock has run out: they can no longer be settled, and Service
        Bus delivers them again under a new lock token."""
        now = self._clock.now()
        with self._lock:
            for token, (_, message) in list(self._held.items()):
                until = message.locked_until_utc
                if until is None or until <= now:
                    del self._held[token]

    @staticmethod
    def _lost(message: ReceivedMessage, action: str) -> Conflict:
        return Conflict(
            f"cannot {action} message {message.message_id!r} on {message.queue!r}: its lock "
            "expired or it was settled already; Service Bus delivers it again if it was not"
        )

    @contextlib.contextmanager
    def _entity(self, queue: str) -> Iterator[None]:
        """A queue missing from the namespace is `NotFound` (queues are deployed with the
        infrastructure, never created here); its handlers, shut by the SDK, are dropped."""
        try:
            yield
        except MessagingEntityNotFoundError:
            with self._lock:
                dropped = [self._senders.pop(queue, None), self._receivers.pop(queue, None)]
            for handler in dropped:
                if handler is not None:
                    handler.close()
            raise NotFound(
                f"Service Bus queue {queue!r} does not exist; queues are deployed with the "
                "infrastructure (infra/bicep)"
            ) from None

    def _sender(self, queue: str) -> _Sender:
        with self._lock:
            sender = self._senders.get(queue)
            if sender is None:
                sender = self._senders[queue] = self._client.get_queue_sender(queue)
            return sender

    def _receiver(self, queue: str) -> _Receiver:
        with self._lock:
            receiver = self._receivers.get(queue)
            if receiver is None:
                receiver = self._receivers[queue] = self._client.get_queue_receiver(
                    queue, receive_mode=ServiceBusReceiveMode.PEEK_LOCK
                )
            return receiver
