"""Outbound events on a Service Bus topic (`project-events`, declared in infra/bicep). The
message id is the event's own, so the topic's duplicate detection drops a repeat."""

from __future__ import annotations

import json
import threading
from typing import Any, Protocol

from azure.servicebus import ServiceBusMessage

from core.ports import JsonDoc


class _Sender(Protocol):
    def send_messages(self, message: ServiceBusMessage) -> None: ...

    def close(self) -> None: ...


class _TopicClient(Protocol):
    def get_topic_sender(self, topic_name: str) -> Any: ...


class ServiceBusTopicPublisher:
    def __init__(self, client: _TopicClient, topic: str) -> None:
        self._client = client
        self._topic = topic
        self._sender: _Sender | None = None
        self._lock = threading.Lock()

    def publish(self, event: JsonDoc, *, event_id: str, subject: str) -> None:
        message = ServiceBusMessage(
            json.dumps(event, ensure_ascii=False),
            message_id=event_id,
            subject=subject,
            content_type="application/json",
        )
        with self._lock:
            if self._sender is None:
                self._sender = self._client.get_topic_sender(self._topic)
            self._sender.send_messages(message)

    def close(self) -> None:
        with self._lock:
            if self._sender is not None:
                self._sender.close()
                self._sender = None
