"""DICOM through pydicom: the header probe (stop before the pixels), and the display rendering:
modality LUT (rescale), window center/width from the file or from the data's range, 16-bit
data, MONOCHROME1 inverted, palette and YBR colour turned to RGB. Multi-frame files: the item
records how many frames there are, ingestion renders the first, and any other is rendered alone
on request (`frame`), the same way.

Memory stays bounded: a frame is decoded only when it (and what it is decoded from) fits
`DECODE_BUDGET_BYTES`, one frame at a time, and is brought to the display size at once, so that
the floating-point work after it (modality LUT, window, values for window/level) runs on a few
megapixels."""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Sequence
from typing import Any, BinaryIO

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels.processing import apply_color_lut, apply_modality_lut
from pydicom.pixels.utils import pixel_array

from core.domain.items import DicomTags
from core.media.decoding import DECODE_BUDGET_BYTES
from core.media.facts import (
    FrameOutOfRange,
    MediaError,
    NeedMore,
    Pixels,
    Probe,
    Renditions,
    SliceFacts,
    check_pixels,
)
from core.media.images import DISPLAY_MAX, fit, renditions, stretch

_BAND_BYTES = 8 << 20  # rows averaged at a time while shrinking a frame


def probe_dicom(data: bytes | BinaryIO, *, complete: bool, max_pixels: int) -> Probe:
    if not _file(data).read(1):
        raise MediaError("empty file (0 bytes)")
    header = _header(data, complete=complete)
    rows, columns = header.get("Rows"), header.get("Columns")
    if not rows or not columns:
        kind = header.get("Modality") or header.get("SOPClassUID")
        if kind is None:
            # Nothing an intact file of any kind lacks: the header was cut short, or its data
            # is not in the transfer syntax its meta header declares.
            raise MediaError(
                "damaged DICOM header: no image size, modality or SOP class could be read (a "
                "truncated file, or data not in its declared transfer syntax, "
                f"{_syntax(header)}); copy or export the file again"
            )
        raise MediaError(f"a DICOM file without an image ({kind}): nothing to label")
    frames = _int(header.get("NumberOfFrames"), 1)
    check_pixels(int(columns), int(rows), frames, max_pixels)
    if complete and not _has_pixels(data):
        raise MediaError(_NO_PIXELS)
    return Probe(
        format="dicom",
        width=int(columns),
        height=int(rows),
        frames=frames,
        dicom=tags(header),
        slice=slice_facts(header),
    )


def slice_facts(header: Dataset) -> SliceFacts | None:
    """What places the file in its series; None without a SeriesInstanceUID."""
    uid = str(header.get("SeriesInstanceUID") or "").strip()
    if not uid:
        return None
    sop = str(header.get("SOPInstanceUID") or "").strip() or None
    number = _int(header.get("InstanceNumber"), 0) if "InstanceNumber" in header else None
    return SliceFacts(
        series_uid=uid,
        sop_uid=sop,
        position=_numbers(header.get("ImagePositionPatient"), 3),
        orientation=_numbers(header.get("ImageOrientationPatient"), 6),
        number=number,
    )


def _numbers(value: Any, count: int) -> tuple[float, ...] | None:
    """`count` finite numbers from a multi-valued tag, or None."""
    try:
        found = tuple(float(v) for v in value) if value is not None else ()
    except (TypeError, ValueError):
        return None
    return found if len(found) == count and all(math.isfinite(v) for v in found) else None


def render_dicom(data: bytes | BinaryIO, *, max_pixels: int, frame: int = 0) -> Renditions:
    """From the file's bytes or a seekable file (read as needed, never whole): frame `frame`
    (from 0), alone. `FrameOutOfRange` when the file has no such frame."""
    probe = probe_dicom(data, complete=True, max_pixels=max_pixels)
    if not 0 <= frame < probe.frames:
        raise FrameOutOfRange(frame, probe.frames)
    header = _header(data, complete=True)
    _check_frame(header, probe.width, probe.height)
    try:
        pixels = pixel_array(_file(data), index=frame)  # decodes that frame only
    except Exception as error:  # pydicom raises many kinds for damaged or unsupported data
        raise MediaError(
            f"cannot decode the DICOM pixels as {_syntax(header)} ({_short(error)}): the file "
            "is truncated, or its pixel data is not in the transfer syntax it declares"
        ) from None
    pixels = _at_display_size(pixels, str(header.get("PhotometricInterpretation", "")))
    image, used = _to_image(pixels, header)
    made = renditions(image)
    window = used or (probe.dicom.window_center, probe.dicom.window_width)  # type: ignore[union-attr]
    updated = tags(header).model_copy(
        update={"window_center": window[0], "window_width": window[1]}
    )
    raw = None
    if used is not None:  # greyscale: keep the values for window/level in the browser
        values = apply_modality_lut(pixels, header).astype(np.float64)
        raw = raw_pixels(values, (made.width, made.height))
    return Renditions(
        made.display, made.thumbnail, made.width, made.height, dicom=updated, pixels=raw
    )


def _check_frame(header: Dataset, width: int, height: int) -> None:
    """Refuse a frame whose decoding would not fit the budget: the frame, and what it is
    decoded from (its bytes; a codec's own buffers and a colour conversion when compressed)."""
    samples = _int(header.get("SamplesPerPixel"), 1)
    depth = max(1, math.ceil(_int(header.get("BitsAllocated"), 16) / 8))
    frame = width * height * samples * depth
    meta = getattr(header, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    needed = frame * (3 if uid is not None and uid.is_compressed else 2)
    if needed > DECODE_BUDGET_BYTES:
        raise MediaError(
            f"too large to decode within a worker's memory bound: a DICOM frame of {width:,} × "
            f"{height:,} × {samples} samples of {depth} bytes needs {needed / (1 << 20):,.0f} MB "
            f"to decode, over the {DECODE_BUDGET_BYTES / (1 << 20):,.0f} MB bound; export it "
            "as a tiled (multi-frame) image or in smaller parts"
        )


def _at_display_size(frame: np.ndarray[Any, Any], photometric: str) -> np.ndarray[Any, Any]:
    """The frame brought to the display size, in its own data type: box-averaged, then
    resampled (palette indices are picked, never averaged)."""
    height, width = frame.shape[:2]
    width_to, height_to = fit((width, height), DISPLAY_MAX)
    if (width_to, height_to) == (width, height):
        return frame
    if photometric == "PALETTE COLOR":
        rows = np.arange(height_to) * height // height_to
        columns = np.arange(width_to) * width // width_to
        return frame[np.ix_(rows, columns)]
    shrunk = _box_mean(frame, max(1, max(width, height) // DISPLAY_MAX))
    planes = [shrunk] if shrunk.ndim == 2 else [shrunk[..., n] for n in range(shrunk.shape[2])]
    resized = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(plane)).resize(
                (width_to, height_to), Image.Resampling.LANCZOS
            )
        )
        for plane in planes
    ]
    out = resized[0] if len(resized) == 1 else np.stack(resized, axis=-1)
    if np.issubdtype(frame.dtype, np.integer):
        limits = np.iinfo(frame.dtype)
        out = np.clip(np.rint(out), limits.min, limits.max)
    return out.astype(frame.dtype)


def _box_mean(values: np.ndarray[Any, Any], factor: int) -> np.ndarray[Any, Any]:
    """Means of `factor` × `factor` squares as float32, a band of rows at a time (the edges
    padded with their last row and column), never a full-size copy."""
    if factor == 1:
        return values.astype(np.float32)
    height, width = values.shape[:2]
    extra = values.shape[2:]
    out = np.empty((-(-height // factor), -(-width // factor), *extra), np.float32)
    band = factor * max(1, _BAND_BYTES // max(1, values[0].nbytes * 2 * factor))
    for top in range(0, height, band):
        chunk = values[top : top + band].astype(np.float32)
        pad = ((0, -chunk.shape[0] % factor), (0, -width % factor)) + ((0, 0),) * len(extra)
        if any(after for _, after in pad):
            chunk = np.pad(chunk, pad, mode="edge")
        rows, columns = chunk.shape[0] // factor, chunk.shape[1] // factor
        blocks = chunk.reshape(rows, factor, columns, factor, *extra)
        out[top // factor : top // factor + rows] = blocks.mean(axis=(1, 3))
    return out


def raw_pixels(values: np.ndarray[Any, Any], size: tuple[int, int]) -> Pixels:
    """`values` resized to `size` and packed as zlib'd little-endian uint16 with the offset
    and scale that bring them back (scale 1 when whole numbers fit in 16 bits)."""
    if (values.shape[1], values.shape[0]) != size:
        resized = Image.fromarray(values.astype(np.float32), mode="F").resize(
            size, Image.Resampling.BILINEAR
        )
        values = np.asarray(resized, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    whole = bool(np.all(np.equal(np.mod(values, 1), 0)))
    scale = 1.0 if whole and high - low <= 65535 else max(high - low, 1e-9) / 65535
    stored = np.clip(np.rint((values - low) / scale), 0, 65535).astype("<u2")
    return Pixels(zlib.compress(stored.tobytes(), 6), offset=low, scale=scale)


_NO_PIXELS = "a DICOM file without pixel data (a header only): nothing to show or label"
_PIXEL_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def _file(data: bytes | BinaryIO) -> BinaryIO:
    """A reader at the start of `data`, for each of the reads a file takes."""
    if isinstance(data, bytes):
        return io.BytesIO(data)
    data.seek(0)
    return data


def _has_pixels(data: bytes | BinaryIO) -> bool:
    """Whether a whole file holds pixel data, read without loading it (values deferred)."""
    try:
        found = dcmread(_file(data), defer_size=1024, force=True)
        return any(tag in found for tag in _PIXEL_TAGS)
    except Exception:  # undecidable here: let the decoder give its own reason
        return True


def _syntax(header: Dataset) -> str:
    meta = getattr(header, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    if uid is None:
        return "no declared transfer syntax"
    return f"{uid.name} ({uid})" if uid.name != str(uid) else f"transfer syntax {uid}"


def tags(header: Dataset) -> DicomTags:
    center, width = _first(header.get("WindowCenter")), _first(header.get("WindowWidth"))
    return DicomTags(
        modality=str(header.get("Modality") or "") or None,
        window_center=center,
        window_width=width if width and width > 0 else None,
        photometric=str(header.get("PhotometricInterpretation") or "") or None,
        bits_stored=_int(header.get("BitsStored"), 0) or None,
    )


def _header(data: bytes | BinaryIO, *, complete: bool) -> Dataset:
    try:
        try:
            return dcmread(_file(data), stop_before_pixels=True)
        except InvalidDicomError:
            # No preamble: old files. Accept only if it then reads as an image header.
            found = dcmread(_file(data), stop_before_pixels=True, force=True)
            if "Rows" not in found and "SOPClassUID" not in found:
                raise MediaError("not a DICOM file: wrong extension, or a damaged file") from None
            return found
    except MediaError:
        raise
    except (EOFError, OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        if not complete:
            raise NeedMore from error
        raise MediaError(f"damaged DICOM header ({_short(error)})") from None


def _to_image(
    frame: np.ndarray[Any, Any], header: Dataset
) -> tuple[Image.Image, tuple[float, float] | None]:
    """An 8-bit PIL image, and the (center, width) window used for greyscale."""
    photometric = str(header.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(frame, header)
        return _rgb(rgb), None
    if frame.ndim == 3:  # colour: pydicom has already turned YBR into RGB
        return _rgb(frame), None
    values = apply_modality_lut(frame, header).astype(np.float64)
    center, width = _first(header.get("WindowCenter")), _first(header.get("WindowWidth"))
    if center is None or width is None or width <= 0:
        low, high = float(values.min()), float(values.max())
        center, width = (low + high) / 2, max(high - low, 1.0)
    low, high = center - width / 2, center + width / 2
    image = stretch(values, low, high)
    if photometric == "MONOCHROME1":  # high values are dark
        image = Image.fromarray(255 - np.asarray(image), mode="L")
    return image, (center, width)


def _rgb(values: np.ndarray[Any, Any]) -> Image.Image:
    if values.dtype != np.uint8:
        values = (values.astype(np.float64) * (255.0 / max(float(values.max()), 1.0))).astype(
            np.uint8
        )
    return Image.fromarray(values, mode="RGB")


def _first(value: Any) -> float | None:
    """A number from a DICOM value that may hold several (the first is the default)."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        value = value[0] if len(value) else None
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _short(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:300]
