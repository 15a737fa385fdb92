"""The default backbones, derived once per test process: deriving takes seconds, and several
test modules (and other assist tests) need them."""

from __future__ import annotations

from functools import cache

from core.assist.backbones import DEFAULT_IMAGE, DEFAULT_TEXT, derive_default
from core.assist.featurizer import Featurizer
from core.assist.manifest import Backbone


@cache
def default_backbone(name: str) -> Backbone:
    return derive_default(name)


@cache
def image_featurizer() -> Featurizer:
    return Featurizer(default_backbone(DEFAULT_IMAGE))


@cache
def text_featurizer() -> Featurizer:
    return Featurizer(default_backbone(DEFAULT_TEXT))
