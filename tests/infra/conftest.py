from __future__ import annotations

from tests.functions.conftest import function_app  # noqa: F401  # the app as the host loads it
