"""Repositories: each aggregate's queries by name, beside the indexes they need. Services call
these instead of spelling document field names (`tests/unit/test_service_shape.py`)."""
