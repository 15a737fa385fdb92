"""The features heads and clustering see: a few principal components of the backbone's
embedding, plus a few of a tiny picture of the image (DESIGN §8: appending them added a little,
and a great deal on simple imagery such as scans of digits or documents) and a few of its edge
orientations (`shape_features`: on degraded digits, 73 % → 82 % head accuracy at 300 labels).

PCA is fitted on the whole pool, unlabeled items included (they are available, and they shape
the axes better than a few hundred labels); each part is unit-normed so neither dominates."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sklearn.decomposition import PCA

Floats = npt.NDArray[np.float64]

EMBEDDING_COMPONENTS = 64
PIXEL_COMPONENTS = 32
SHAPE_COMPONENTS = 32


def pool_features(
    embeddings: npt.NDArray[np.floating],
    pixels: npt.NDArray[np.floating] | None = None,
    shapes: npt.NDArray[np.floating] | None = None,
) -> Floats:
    """One row per item: [PCA(embedding) | PCA(pixels) | PCA(shapes)] / √parts, every part
    unit-normed."""
    parts = [_components(embeddings, EMBEDDING_COMPONENTS)]
    if pixels is not None and pixels.size:
        parts.append(_components(pixels, PIXEL_COMPONENTS))
    if shapes is not None and shapes.size:
        parts.append(_components(shapes, SHAPE_COMPONENTS))
    combined: Floats = np.hstack(parts) / np.sqrt(len(parts))
    return combined


def _components(matrix: npt.NDArray[np.floating], wanted: int) -> Floats:
    data = np.asarray(matrix, dtype=np.float64)
    count = min(wanted, data.shape[0], data.shape[1])
    if count >= 2 and data.var(axis=0).sum() > 0:  # identical rows: nothing to rotate
        data = PCA(count, random_state=0).fit_transform(data)
    return _unit_rows(data)


def _unit_rows(data: Floats) -> Floats:
    norms = np.linalg.norm(data, axis=1, keepdims=True)
    return data / np.where(norms == 0, 1.0, norms)
