"""Outbound events on one machine: appended as JSON lines to `.data/events.jsonl`, which a
local integration can follow (`tail -f`). Each line is one `write` on a file opened for
appending, so the API and worker processes never interleave their lines."""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.ports import JsonDoc


class JsonlEventLog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def publish(self, event: JsonDoc, *, event_id: str, subject: str) -> None:
        line = json.dumps({"id": event_id, "subject": subject, **event}, ensure_ascii=False)
        os.write(self._fd, (line + "\n").encode())

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
