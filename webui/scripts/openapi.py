"""Writes the API's OpenAPI document (what /api/openapi.json serves) to the path given, so the
web UI's types are generated from the API itself (`make webui-check`)."""

from __future__ import annotations

import json
import sys

from core.http.app import create_app
from core.settings import Settings


def main(out: str) -> None:
    app = create_app(lambda: None, Settings(webui_dir=None))  # type: ignore[arg-type, return-value]
    with open(out, "w", encoding="utf-8") as file:
        json.dump(app.openapi(), file, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
