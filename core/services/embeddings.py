"""Item embeddings, computed once per item and backbone and cached in the blob store in shards
(`derivatives/<project>/embeddings/<backbone>/<shard>.npz`).

A cycle loads every shard, featurizes only the items none of them holds, and writes those as
new shards of at most `SHARD_ITEMS`, each as soon as it is done: a cycle cut short (a lost lock,
a killed job) keeps what it finished, and the next one resumes. An image shard written before
the shape features existed counts as missing: its items are featurized once more."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from core.assist.featurizer import Featurizer, pixel_features, shape_features
from core.domain.items import Item
from core.ports import Deps
from core.services.derivatives import DERIVATIVES

SHARD_ITEMS = 1024
TEXT_PREFIX_BYTES = 64 * 1024
"""Enough of a large text for any text backbone (they read a few hundred tokens)."""

Floats = npt.NDArray[np.float32]
Progress = Callable[[int], None]


@dataclass(frozen=True)
class ItemFeatures:
    ids: list[str]
    embeddings: Floats
    pixels: Floats | None
    """A tiny picture of each image (`pixel_features`); None for texts."""
    shapes: Floats | None
    """Edge orientations of each image (`shape_features`); None for texts."""
    computed: int
    """How many were featurized now (the rest came from the cache)."""
    seconds: float


def item_features(
    deps: Deps,
    items: Sequence[Item],
    featurizer: Featurizer,
    *,
    project_id: str,
    progress: Progress | None = None,
) -> ItemFeatures:
    """Features of `items`, in their order."""
    prefix = f"{project_id}/embeddings/{featurizer.manifest.name}/"
    cached = _load_shards(deps, prefix)
    image = featurizer.manifest.modality == "image"
    missing = [item for item in items if not _complete(cached.get(item.id), image=image)]
    started = time.perf_counter()
    for start in range(0, len(missing), SHARD_ITEMS):
        chunk = missing[start : start + SHARD_ITEMS]
        shard = _featurize(deps, chunk, featurizer)
        _store_shard(deps, prefix, shard)
        cached.update(_rows(shard))
        if progress is not None:
            progress(start + len(chunk))
    seconds = time.perf_counter() - started
    embeddings = np.stack([cached[item.id][0] for item in items]) if items else np.zeros((0, 1))
    pixels = shapes = None
    if image and items:
        pixels = np.stack([_present(cached[item.id][1]) for item in items])
        shapes = np.stack([_present(cached[item.id][2]) for item in items])
    return ItemFeatures(
        [item.id for item in items],
        embeddings.astype(np.float32),
        None if pixels is None else pixels.astype(np.float32),
        None if shapes is None else shapes.astype(np.float32),
        len(missing),
        seconds,
    )


def _complete(row: _Row | None, *, image: bool) -> bool:
    return row is not None and (not image or (row[1] is not None and row[2] is not None))


def _featurize(deps: Deps, items: Sequence[Item], featurizer: Featurizer) -> dict[str, Floats]:
    ids = np.array([item.id for item in items])
    if featurizer.manifest.modality == "text":
        texts = [_text(deps, item) for item in items]
        return {"ids": ids, "emb": featurizer.embed_texts(texts).astype(np.float16)}
    # Opened lazily: the featurizer's background thread decodes while the model runs.
    images = [Image.open(io.BytesIO(_image_bytes(deps, item))) for item in items]
    embeddings = featurizer.embed_images(images)
    pixels = np.stack([pixel_features(image) for image in images])
    shapes = np.stack([shape_features(image) for image in images])
    return {
        "ids": ids,
        "emb": embeddings.astype(np.float16),
        "pix": pixels.astype(np.float16),
        "shape": shapes.astype(np.float16),
    }


def _image_bytes(deps: Deps, item: Item) -> bytes:
    """The thumbnail: at most 256 px, already oriented and rendered (DICOM is left out)."""
    assert item.derivatives is not None
    container, name = item.derivatives.thumbnail.split("/", 1)
    return deps.blobs.get(container, name)


def _text(deps: Deps, item: Item) -> str:
    if item.text is not None:
        return item.text
    if item.text_ref is None:
        return ""
    container, name = item.text_ref.split("/", 1)
    head = b""
    for chunk in deps.blobs.stream(container, name, chunk_size=TEXT_PREFIX_BYTES):
        head = chunk
        break
    return head.decode("utf-8", errors="ignore")


def _store_shard(deps: Deps, prefix: str, shard: dict[str, Floats]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **shard)  # type: ignore[arg-type]  # (numpy's stub fears allow_pickle=)
    stamp = deps.clock.now().strftime("%Y%m%dT%H%M%S")
    name = f"{prefix}{stamp}-{deps.ids.token(8)}.npz"
    deps.blobs.put(DERIVATIVES, name, buffer.getvalue(), content_type="application/octet-stream")


_Row = tuple[Floats, Floats | None, Floats | None]
"""An item's embedding, pixel features and shape features (None where its shard lacks them)."""


def _load_shards(deps: Deps, prefix: str) -> dict[str, _Row]:
    rows: dict[str, _Row] = {}
    for blob in deps.blobs.list(DERIVATIVES, prefix):
        with np.load(io.BytesIO(deps.blobs.get(DERIVATIVES, blob.name))) as shard:
            for item_id, row in _rows({key: shard[key] for key in shard.files}).items():
                # A repeated cycle may have stored an item twice; an older shard, without
                # every part: keep the fullest row.
                known = rows.get(item_id)
                if known is None or _parts(row) > _parts(known):
                    rows[item_id] = row
    return rows


def _parts(row: _Row) -> int:
    return sum(part is not None for part in row)


def _rows(shard: dict[str, Floats]) -> dict[str, _Row]:
    pixels, shapes = shard.get("pix"), shard.get("shape")
    return {
        str(item_id): (
            shard["emb"][i],
            None if pixels is None else pixels[i],
            None if shapes is None else shapes[i],
        )
        for i, item_id in enumerate(shard["ids"])
    }


def _present(pixels: Floats | None) -> Floats:
    if pixels is None:  # a shard written without them (an older text cycle of the same name)
        raise ValueError("cached image features lack a part; delete the shard")
    return pixels
