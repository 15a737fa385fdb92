"""Class-agnostic box proposals from classic OpenCV segmentation.

Global and local thresholds on brightness, saturation and both opponent-colour axes, k-means
colour clusters, closed edges and MSER, each at two scales, all vote for candidate boxes;
near-duplicates merge and the most agreed-upon come first. Nothing here knows the project's
classes: `box_head` names each proposal a class or background. Boxes are `Rect`s, fractions of
the image, so proposals found on a downscaled copy apply to the original."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from cv2.typing import MatLike
from PIL import Image

from core.domain.geometry import box_iou

Rect = tuple[float, float, float, float]
"""x, y, w, h as fractions of the image's width and height."""

MAX_PROPOSALS = 100
"""Proposals kept per image, most agreed-upon first. On the generated scenes, keeping 200
raised no recall but cut the calibrated coverage by half: the least agreed-upon proposals are
mostly near-misses of objects, which the head confuses with the objects themselves."""
_WORKING_SIDE = 256
"""Proposals are searched on a copy at most this many pixels wide or high: objects worth a box
survive the downscale, and the cost stays flat for camera-sized images."""
_MIN_SIDE = 0.02
_COLOUR_CLUSTERS = 6
_LOCAL_MARGIN = 3
"""How far (in 8-bit levels) a pixel must differ from its neighbourhood's mean to stand out."""
_DUPLICATE_IOU = 0.85


@dataclass(frozen=True)
class _Rect:
    """A `Rect` with attribute names, so `box_iou` can take it."""

    x: float
    y: float
    w: float
    h: float


def rect_iou(a: Rect, b: Rect) -> float:
    return box_iou(_Rect(*a), _Rect(*b))


def propose(
    image: Image.Image, *, max_proposals: int = MAX_PROPOSALS, min_side: float = _MIN_SIDE
) -> list[Rect]:
    """Class-agnostic candidate boxes, most agreed-upon first: every segmentation at every scale
    votes, and near-duplicates (IoU ≥ 0.85) merge into one box with their votes summed."""
    rgb = working_copy(image, _WORKING_SIDE)
    found: list[Rect] = []
    for scaled in (rgb, _half(rgb)):
        found.extend(_proposals_at_scale(scaled, min_side))
    return _merge_duplicates(found)[:max_proposals]


def working_copy(image: Image.Image, side: int) -> MatLike:
    """The image as 8-bit RGB pixels, shrunk (aspect kept) to at most `side` pixels a side."""
    rgb = image.convert("RGB")
    if max(rgb.size) > side:
        rgb = rgb.copy()
        rgb.thumbnail((side, side), Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)


def _half(rgb: MatLike) -> MatLike:
    height, width = rgb.shape[:2]
    size = (max(width // 2, 1), max(height // 2, 1))
    return np.asarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _proposals_at_scale(rgb: MatLike, min_side: float) -> list[Rect]:
    smooth = cv2.GaussianBlur(rgb, (5, 5), 0)
    masks = [
        *_threshold_masks(smooth),
        *_colour_cluster_masks(smooth),
        _edge_mask(smooth),
    ]
    boxes = [box for mask in masks for box in _component_boxes(mask)]
    boxes.extend(_mser_boxes(smooth))
    height, width = rgb.shape[:2]
    return [
        (x / width, y / height, w / width, h / height)
        for x, y, w, h in boxes
        if w >= min_side * width and h >= min_side * height and w * h >= 16
    ]


def _threshold_masks(rgb: MatLike) -> list[MatLike]:
    """Otsu (global) and mean-of-neighbourhood (local) thresholds on brightness, saturation and
    both opponent-colour axes, in both polarities: an object differs from its surroundings
    along at least one of them."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    saturation = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[:, :, 1]
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    masks: list[MatLike] = []
    # A block a quarter of the image wide: larger than most objects, smaller than the lighting.
    block = (min(rgb.shape[:2]) // 4) | 1
    for channel in (gray, saturation, lab[:, :, 1], lab[:, :, 2]):
        _, mask = cv2.threshold(channel, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        masks.extend((_clean(mask), _clean(cv2.bitwise_not(mask))))
        if block >= 3:
            masks.extend(_local_threshold_masks(channel, block))
    return masks


def _local_threshold_masks(channel: MatLike, block: int) -> list[MatLike]:
    """Pixels brighter, and pixels darker, than their neighbourhood's mean: one global cut
    misses a faint object on a background that varies more across the image than the object
    differs from its own surroundings."""
    mean = cv2.ADAPTIVE_THRESH_MEAN_C
    above = cv2.adaptiveThreshold(channel, 255, mean, cv2.THRESH_BINARY, block, -_LOCAL_MARGIN)
    below = cv2.adaptiveThreshold(channel, 255, mean, cv2.THRESH_BINARY_INV, block, _LOCAL_MARGIN)
    return [_clean(above), _clean(below)]


def _colour_cluster_masks(rgb: MatLike) -> list[MatLike]:
    """One mask per k-means colour cluster, in Lab (where distance follows perception).
    Centres come from a sample of the pixels; every pixel then joins its nearest centre
    (clustering them all costs far more and finds the same colours)."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    sample = np.ascontiguousarray(lab[:: max(1, lab.shape[0] // 4000)])
    if sample.shape[0] < _COLOUR_CLUSTERS:
        return []
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    cv2.setRNGSeed(0)  # k-means starts from random centres: same image, same proposals
    unused = np.zeros((sample.shape[0], 1), np.int32)  # initial labels, ignored with PP
    _, _, centres = cv2.kmeans(sample, _COLOUR_CLUSTERS, unused, criteria, 1, cv2.KMEANS_PP_CENTERS)
    # Nearest centre by ‖c‖² - 2x·c (‖x‖² is the same for every centre): one matrix product.
    distances = (centres * centres).sum(axis=1) - 2 * lab @ centres.T
    assigned = distances.argmin(axis=1).reshape(rgb.shape[:2])
    return [
        _clean(np.where(assigned == cluster, 255, 0).astype(np.uint8))
        for cluster in range(_COLOUR_CLUSTERS)
    ]


def _edge_mask(rgb: MatLike) -> MatLike:
    """Regions enclosed by strong edges (closed so that outlines with gaps still enclose)."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(gray, 60, 160)
    closed = cv2.morphologyEx(edges, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    contours, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(gray)
    cv2.drawContours(filled, contours, -1, 255, thickness=cv2.FILLED)
    return filled


def _clean(mask: MatLike) -> MatLike:
    """Opening drops speckle from a noisy background; closing fills pinholes in objects."""
    kernel = np.ones((3, 3), np.uint8)
    opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    return np.asarray(cv2.morphologyEx(opened, cv2.MORPH_CLOSE, kernel), dtype=np.uint8)


def _component_boxes(mask: MatLike) -> list[tuple[int, int, int, int]]:
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    height, width = mask.shape
    boxes = []
    for index in range(1, count):
        x, y, w, h, _area = (int(v) for v in stats[index])
        if w < width or h < height:  # the whole frame is never an object proposal
            boxes.append((x, y, w, h))
    return boxes


def _mser_boxes(rgb: MatLike) -> list[tuple[int, int, int, int]]:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    area = gray.shape[0] * gray.shape[1]
    mser = cv2.MSER.create(delta=5, min_area=max(16, area // 2000), max_area=area // 2)
    _, boxes = mser.detectRegions(gray)
    return [(int(x), int(y), int(w), int(h)) for x, y, w, h in boxes]


def _merge_duplicates(boxes: Sequence[Rect]) -> list[Rect]:
    """Greedy clustering by IoU: each box joins the first kept box it nearly repeats."""
    if not boxes:
        return []
    kept: list[Rect] = []
    votes: list[int] = []
    corners = np.empty((0, 4))
    for box in boxes:
        overlaps = _iou_row(box, corners)
        if overlaps.size and overlaps.max() >= _DUPLICATE_IOU:
            votes[int(overlaps.argmax())] += 1
            continue
        kept.append(box)
        votes.append(1)
        corners = np.vstack([corners, _corners(box)])
    order = sorted(range(len(kept)), key=lambda i: (-votes[i], -kept[i][2] * kept[i][3]))
    return [kept[i] for i in order]


def _corners(box: Rect) -> npt.NDArray[np.float64]:
    x, y, w, h = box
    return np.array([x, y, x + w, y + h])


def _iou_row(box: Rect, corners: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """IoU of one box against many (as x0, y0, x1, y1 rows), vectorised."""
    if corners.size == 0:
        return np.empty(0)
    x0, y0, x1, y1 = _corners(box)
    overlap_w = np.clip(np.minimum(x1, corners[:, 2]) - np.maximum(x0, corners[:, 0]), 0, None)
    overlap_h = np.clip(np.minimum(y1, corners[:, 3]) - np.maximum(y0, corners[:, 1]), 0, None)
    intersection = overlap_w * overlap_h
    areas = (corners[:, 2] - corners[:, 0]) * (corners[:, 3] - corners[:, 1])
    union = (x1 - x0) * (y1 - y0) + areas - intersection
    return np.asarray(np.where(union > 0, intersection / np.maximum(union, 1e-12), 0.0))
