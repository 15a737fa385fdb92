"""Suite-wide fixtures. Every test starts from an environment without Loupe or Azure settings,
so a developer's shell can never switch a test onto a real cloud account."""

from __future__ import annotations

import os

import pytest

pytest_plugins = [
    "tests.support.emulators",
    "tests.support.browser",
    "tests.support.deps",  # `deps`: every test using it runs on memory, SQLite and Azure
    "tests.support.reliability",  # `reliability`: rows of RELIABILITY.md
]

_PREFIXES = ("LOUPE_", "COSMOS", "STORAGE", "SERVICEBUS", "AZURE_")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith(_PREFIXES):
            monkeypatch.delenv(name)
