"""Characters names may not hold or start and end with, as JSON Schema patterns for the OpenAPI
document: written out, since a schema's `\\s` is not Python's `str.isspace`."""

from __future__ import annotations

import re

CONTROL = r"\x00-\x1f\x7f"
SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
CONTROL_CHARACTER = re.compile(f"[{CONTROL}]")
