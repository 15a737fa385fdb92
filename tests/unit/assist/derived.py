"""The built-in backbones, derived once per test process: deriving takes seconds, and several
test modules (and other assist tests) need them."""

from __future__ import annotations

from functools import cache

from core.assist.backbones import DEFAULT_IMAGE, DEFAULT_TEXT, derive_built_in
from core.assist.featurizer import Featurizer
from core.assist.manifest import Backbone


@cache
def built_in_backbone(name: str) -> Backbone:
    return derive_built_in(name)


@cache
def image_featurizer() -> Featurizer:
    return Featurizer(built_in_backbone(DEFAULT_IMAGE))


@cache
def text_featurizer() -> Featurizer:
    return Featurizer(built_in_backbone(DEFAULT_TEXT))
