"""The Function App's settings and dependency set, made once per worker process on first use."""

from __future__ import annotations

from functools import cache

from core.bootstrap import build
from core.ports import Deps
from core.settings import Settings


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def deps() -> Deps:
    return build(settings())
