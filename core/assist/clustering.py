"""Similar images on one page: k-means over the pool's features, with clusters about the size
of a few grid pages, so a labeler sees pages whose images mostly share a class and can label
them with select-all and a few toggles."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sklearn.cluster import KMeans, MiniBatchKMeans

ITEMS_PER_CLUSTER = 10
MAX_CLUSTERS = 2_000
"""Beyond this, clusters grow instead: k-means cost grows with k × n."""


def cluster_within(
    features: npt.NDArray[np.float64], groups: list[str], *, seed: int = 0
) -> npt.NDArray[np.int64]:
    """Like `cluster`, but never mixing two groups: grouping by the head's guess first (even
    one below the pre-label threshold) keeps most pages to one class, where k-means alone
    splits the pool along whatever varies most."""
    assignment = np.zeros(len(features), dtype=np.int64)
    offset = 0
    for group in sorted(set(groups)):
        rows = np.array([i for i, g in enumerate(groups) if g == group])
        found = cluster(features[rows], seed=seed)
        assignment[rows] = found + offset
        offset += int(found.max()) + 1
    return assignment


def cluster(features: npt.NDArray[np.float64], *, seed: int = 0) -> npt.NDArray[np.int64]:
    """A cluster number per row (0 … k-1)."""
    count = len(features)
    k = max(1, min(MAX_CLUSTERS, round(count / ITEMS_PER_CLUSTER)))
    if k == 1:
        return np.zeros(count, dtype=np.int64)
    if count <= 20_000:
        model = KMeans(k, n_init=1, random_state=seed)
    else:
        model = MiniBatchKMeans(k, n_init=1, random_state=seed, batch_size=4096)
    return np.asarray(model.fit_predict(features), dtype=np.int64)


def order_clusters(
    assignment: npt.NDArray[np.int64], priority: npt.NDArray[np.float64]
) -> dict[int, str]:
    """Cluster ids that sort in the order clusters should be served: lowest mean `priority`
    first (the mean confidence under active learning; a random number otherwise)."""
    clusters = np.unique(assignment)
    means = np.array([priority[assignment == c].mean() for c in clusters])
    return {int(c): f"{rank:05d}" for rank, c in enumerate(clusters[np.argsort(means)])}
