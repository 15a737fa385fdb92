"""What a submitted mask answer must be (read by `annotations.validate_annotation`): each mask a
known class, on the displayed image's grid, with run lengths that cover it exactly, painting at
least one pixel and sharing none with another mask of its slice; the answer within
`MAX_MASK_CHARS`. On a volume a mask may name the slice it is painted on (absent: the item's
own image); the one-mask-per-class rule of semantic segmentation holds slice by slice."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.domain.masks import (
    MAX_MASK_CHARS,
    MAX_MASK_SIDE,
    BadCounts,
    Mask,
    MaskSet,
    Run,
    decode_counts,
    encode_counts,
    first_overlap,
    foreground,
)

if TYPE_CHECKING:
    from core.domain.annotations import _Checker

_KEYS = ("label", "size", "counts")
_OPTIONAL = ("slice",)


def read_masks(
    check: _Checker,
    raw: object,
    *,
    grid: tuple[int, int] | None,
    one_per_class: bool,
    max_masks: int,
) -> MaskSet | None:
    """`grid` is the displayed image's [height, width] when known; without it every mask must
    still share one grid. `one_per_class`: semantic segmentation (a class is one region)."""
    fields = check.fields(raw, "", ("masks",), check.what)
    items = check.array(fields["masks"], "masks", "masks") if fields else None
    if items is None or not _fits(check, items, max_masks):
        return None
    masks: list[tuple[Mask, list[Run]]] = []
    seen: dict[tuple[str, int | None], int] = {}
    for index, item in enumerate(items):
        path = f"masks[{index}]"
        read = _mask(check, item, path, grid)
        if read is None:
            continue
        mask, runs = read
        grid = grid or mask.size
        if one_per_class and (mask.label, mask.slice) in seen:
            where = "" if mask.slice is None else f" on slice {mask.slice}"
            check.fail(
                f"{path}.label",
                f"{mask.label!r} already has masks[{seen[mask.label, mask.slice]}]{where}; "
                "semantic segmentation keeps one mask per class (paint both regions into one)",
            )
        seen.setdefault((mask.label, mask.slice), index)
        masks.append((mask, runs))
    if len(masks) < len(items) or not _apart(check, masks):
        return None
    return MaskSet(tuple(mask for mask, _ in masks))


def _apart(check: _Checker, masks: list[tuple[Mask, list[Run]]]) -> bool:
    """No two masks of one slice (or two of the item's own image) share a pixel."""
    by_slice: dict[int | None, list[int]] = {}
    for index, (mask, _) in enumerate(masks):
        by_slice.setdefault(mask.slice, []).append(index)
    for indices in by_slice.values():
        clash = first_overlap([masks[i][1] for i in indices])
        if clash is not None:
            a, b = indices[clash[0]], indices[clash[1]]
            check.fail(f"masks[{b}]", f"shares pixels with masks[{a}]; each pixel has one mask")
            return False
    return True


def _fits(check: _Checker, items: list[Any], max_masks: int) -> bool:
    """Sized before any run is decoded, so a giant answer costs no validation time."""
    if len(items) > max_masks:
        check.fail("masks", f"has {len(items):,} masks; one answer may have at most {max_masks:,}")
        return False
    chars = 0
    for item in items:
        counts = item.get("counts") if isinstance(item, dict) else None
        if isinstance(counts, str):
            chars += len(counts)
        elif isinstance(counts, list):
            chars += 3 * len(counts)  # about what each run takes once compressed
    if chars <= MAX_MASK_CHARS:
        return True
    check.fail(
        "masks",
        f"take {chars:,} characters of run lengths; one answer may take at most "
        f"{MAX_MASK_CHARS:,}: paint fewer, smoother regions",
    )
    return False


def _mask(
    check: _Checker, raw: object, path: str, grid: tuple[int, int] | None
) -> tuple[Mask, list[Run]] | None:
    fields = check.fields(raw, path, _KEYS, "a mask", _OPTIONAL, labeled=True)
    if fields is None or not isinstance(raw, dict):
        return None
    label = check.label(fields["label"], f"{path}.label")
    attributes = check.attributes(fields["attributes"], path, [label])
    size = _size(check, raw["size"], f"{path}.size", grid) if "size" in raw else None
    counts = _counts(check, raw["counts"], f"{path}.counts") if "counts" in raw else None
    on = check.slice(fields["slice"], f"{path}.slice")
    if label is None or size is None or counts is None:
        return None
    height, width = size
    total = sum(counts)
    if total != height * width:
        check.fail(
            f"{path}.counts",
            f"runs add up to {total:,} pixels; a {width} x {height} mask has {height * width:,} "
            "(column-major run lengths, like COCO's)",
        )
        return None
    runs = foreground(counts)
    if not runs:
        check.fail(f"{path}.counts", "paints no pixel; leave an empty mask out")
        return None
    return Mask(label, size, encode_counts(counts), attributes, on), runs


def _size(
    check: _Checker, raw: object, path: str, grid: tuple[int, int] | None
) -> tuple[int, int] | None:
    if (
        not isinstance(raw, list | tuple)
        or len(raw) != 2
        or not all(type(n) is int and 1 <= n <= MAX_MASK_SIDE for n in raw)
    ):
        check.fail(path, f"must be [height, width] in pixels, each 1 to {MAX_MASK_SIDE}")
        return None
    size = (raw[0], raw[1])
    if grid is not None and size != grid:
        check.fail(
            path,
            f"must be [{grid[0]}, {grid[1]}], the displayed image's height and width in pixels "
            f"(every mask covers the whole image), not [{size[0]}, {size[1]}]",
        )
        return None
    return size


def _counts(check: _Checker, raw: object, path: str) -> list[int] | None:
    if isinstance(raw, str):
        try:
            counts = decode_counts(raw)
        except BadCounts as error:
            check.fail(path, f"is not COCO's compressed RLE: {error}")
            return None
    elif isinstance(raw, list) and all(type(n) is int for n in raw):
        counts = raw
    else:
        check.fail(path, "must be run lengths: COCO's compressed string or a list of whole numbers")
        return None
    if any(n < 0 for n in counts):
        check.fail(path, "has a negative run length")
        return None
    return counts
