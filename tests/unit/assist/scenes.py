"""Generated scenes for the box, polygon and mask assist tests: red squares, blue discs and green
triangles of varied sizes on noisy, textured backgrounds, with their exact boxes, outlines and
masks."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from threadpoolctl import threadpool_limits

from core.assist.box_head import LabeledImage
from core.assist.masks import LabeledMaskImage
from core.assist.polygons import LabeledPolygonImage
from core.domain.masks import Mask
from core.export.mask_pixels import merged_masks, polygon_to_grid

CLASSES = ("square", "disc", "triangle")
SIDE = 160
_COLOURS = {"square": (200, 40, 40), "disc": (40, 60, 200), "triangle": (40, 170, 60)}

Point = tuple[float, float]


@dataclass(frozen=True)
class Shape:
    label: str
    outline: tuple[Point, ...]
    """Normalised ring (a disc as a 48-gon)."""

    @property
    def box(self) -> tuple[str, float, float, float, float]:
        xs = [p[0] for p in self.outline]
        ys = [p[1] for p in self.outline]
        return (self.label, min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


@dataclass(frozen=True)
class Scene:
    image: Image.Image
    shapes: tuple[Shape, ...]

    def labeled(self) -> LabeledImage:
        return LabeledImage(self.image, tuple(shape.box for shape in self.shapes))

    def outlined(self) -> LabeledPolygonImage:
        return LabeledPolygonImage(self.image, tuple((s.label, s.outline) for s in self.shapes))

    def masks(self, *, semantic: bool = False, side: int = SIDE) -> tuple[Mask, ...]:
        """The shapes painted on a `side` x `side` grid (the item's display size): one mask
        per shape, or per class (semantic)."""
        parts = [(s.label, polygon_to_grid(s.outline, side, side)) for s in self.shapes]
        return tuple(
            Mask(m["label"], (side, side), m["counts"])
            for m in merged_masks(parts, one_per_class=semantic)
        )

    def masked(self, *, semantic: bool = False, side: int = SIDE) -> LabeledMaskImage:
        return LabeledMaskImage(self.image, self.masks(semantic=semantic, side=side))


def background(rng: np.random.Generator) -> Image.Image:
    """Smooth colour blotches plus pixel noise: texture the proposals must see past."""
    coarse = rng.integers(90, 200, size=(6, 6, 3), dtype=np.uint8)
    base = Image.fromarray(coarse).resize((SIDE, SIDE), Image.Resampling.BICUBIC)
    noisy = np.asarray(base, dtype=np.int16) + rng.normal(0, 14, size=(SIDE, SIDE, 3))
    # Muted (grey-ish) so the objects' saturated colours stand out, as real objects mostly do.
    pixels = np.asarray(noisy, dtype=np.float64)
    grey = pixels.mean(axis=2, keepdims=True)
    muted = grey + 0.6 * (pixels - grey)
    return Image.fromarray(np.clip(muted, 0, 255).astype(np.uint8))


def outline(label: str, cx: float, cy: float, size: float) -> tuple[Point, ...]:
    half = size / 2
    if label == "square":
        return (
            (cx - half, cy - half),
            (cx + half, cy - half),
            (cx + half, cy + half),
            (cx - half, cy + half),
        )
    if label == "disc":
        return tuple(
            (cx + half * math.cos(2 * math.pi * k / 48), cy + half * math.sin(2 * math.pi * k / 48))
            for k in range(48)
        )
    return ((cx, cy - half), (cx + half, cy + half), (cx - half, cy + half))


def _overlaps(placed: Sequence[tuple[float, float, float]], cx: float, cy: float, s: float) -> bool:
    return any(
        abs(cx - x) < (s + t) / 2 + 0.02 and abs(cy - y) < (s + t) / 2 + 0.02 for x, y, t in placed
    )


def scene(rng: np.random.Generator, *, objects: tuple[int, int] = (1, 4)) -> Scene:
    image = background(rng)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(0, 3))):
        _distractor(draw, rng)
    placed: list[tuple[float, float, float]] = []
    shapes: list[Shape] = []
    for _ in range(int(rng.integers(objects[0], objects[1] + 1))):
        for _attempt in range(30):
            size = float(rng.uniform(0.14, 0.36))
            cx, cy = (float(v) for v in rng.uniform(size / 2 + 0.01, 0.99 - size / 2, 2))
            if not _overlaps(placed, cx, cy, size):
                break
        else:
            continue
        label = CLASSES[int(rng.integers(len(CLASSES)))]
        ring = outline(label, cx, cy, size)
        colour = tuple(int(c + rng.integers(-25, 26)) for c in _COLOURS[label])
        draw.polygon([(x * SIDE, y * SIDE) for x, y in ring], fill=colour)
        placed.append((cx, cy, size))
        shapes.append(Shape(label, ring))
    # Light blur and noise over everything: edges are not pixel-perfect, as in photographs.
    blurred = image.filter(ImageFilter.GaussianBlur(0.8))
    noisy = np.asarray(blurred, dtype=np.float64) + rng.normal(0, 6, size=(SIDE, SIDE, 3))
    final = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    return Scene(final, tuple(shapes))


def _distractor(draw: ImageDraw.ImageDraw, rng: np.random.Generator) -> None:
    """An unlabeled object (an ellipse in a colour no class has) the head must call background.
    Drawn first, so labeled shapes may cover it but never the other way round (their outlines
    stay exact)."""
    w, h = (float(v) for v in rng.uniform(0.08, 0.25, 2))
    x, y = (float(v) for v in rng.uniform(0.0, 1.0 - max(w, h), 2))
    colour = tuple(int(c) for c in rng.choice([(150, 110, 60), (120, 70, 140), (210, 200, 80)]))
    draw.ellipse([x * SIDE, y * SIDE, (x + w) * SIDE, (y + h) * SIDE], fill=colour)


def scenes(count: int, seed: int) -> list[Scene]:
    rng = np.random.default_rng(seed)
    return [scene(rng) for _ in range(count)]


def cheap_embed(crops: Sequence[Image.Image]) -> np.ndarray:
    """Hue-saturation histogram plus an 8×8 grayscale thumbnail: fast and deterministic, and
    enough to tell colour and shape apart."""
    rows = []
    for crop in crops:
        small = crop.convert("RGB").resize((16, 16), Image.Resampling.BILINEAR)
        hsv = np.asarray(small.convert("HSV"), dtype=np.float64)
        bins = (hsv[:, :, 0].astype(np.int64) // 32) * 3 + np.minimum(hsv[:, :, 1] // 86, 2)
        histogram = np.bincount(bins.ravel().astype(np.int64), minlength=24)
        thumb = np.asarray(small.convert("L").resize((8, 8)), dtype=np.float64) / 255
        rows.append(np.concatenate([histogram.ravel() / 256, thumb.ravel()]))
    return np.asarray(rows)


def one_blas_thread() -> Iterator[None]:
    """For a module-scoped autouse fixture: the heads' matrices are small, and on a shared
    machine BLAS threads fighting for two cores make fitting several times slower."""
    with threadpool_limits(1):
        yield
