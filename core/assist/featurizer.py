"""Images and texts to unit-length feature vectors, through a backbone's ONNX model.

Throughput is the point: preprocessing of the next batch runs on one background thread while
onnxruntime (which releases the GIL) runs the current one, batches are written straight into
one preallocated array per batch, and JPEGs are decoded at a reduced scale when the network
input is much smaller than the photo."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
from PIL import Image
from tokenizers import Tokenizer

from core.assist.manifest import Backbone, BackboneManifest

FloatArray = npt.NDArray[np.float32]
T = TypeVar("T")

DEFAULT_BATCH = 32
PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


def select_providers(available: Sequence[str]) -> list[str]:
    """CUDA first where onnxruntime-gpu offers it; the CPU always as the fallback."""
    chosen = [p for p in PREFERRED_PROVIDERS if p in available]
    return chosen if "CPUExecutionProvider" in chosen else [*chosen, "CPUExecutionProvider"]


def active_providers() -> list[str]:
    """The providers a session really gets here, best first: a one-node model is loaded with
    `select_providers`, so a CUDA provider onnxruntime lists but cannot load (no driver, a
    missing CUDA or cuDNN library) shows as absent, as it would for a backbone."""
    node = onnx.helper.make_node("Identity", ["x"], ["y"])
    tensor = onnx.helper.make_tensor_value_info
    graph = onnx.helper.make_graph(
        [node],
        "probe",
        [tensor("x", onnx.TensorProto.FLOAT, [1])],
        [tensor("y", onnx.TensorProto.FLOAT, [1])],
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 13)])
    model.ir_version = 8
    session = ort.InferenceSession(
        model.SerializeToString(), providers=select_providers(ort.get_available_providers())
    )
    return list(session.get_providers())


def _session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    # Idle intra-op threads spin by default, burning the core that prepares the next batch:
    # measured on 2 shared cores, spinning cost the pipelined featurizer about a fifth.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def l2_normalise(vectors: FloatArray) -> FloatArray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.maximum(norms, 1e-12, out=norms)
    vectors /= norms
    return vectors


class Featurizer:
    def __init__(self, backbone: Backbone, batch_size: int = DEFAULT_BATCH) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self.manifest = backbone.manifest
        self.batch_size = batch_size
        self.session = ort.InferenceSession(
            backbone.model,
            _session_options(),
            providers=select_providers(ort.get_available_providers()),
        )
        self._tokenizer = _load_tokenizer(backbone) if backbone.tokenizer is not None else None
        self._pixels = _PixelTransform(self.manifest) if self.manifest.modality == "image" else None

    @property
    def providers(self) -> list[str]:
        """The providers the session actually runs on, in priority order."""
        return list(self.session.get_providers())

    @property
    def dim(self) -> int:
        return self.manifest.dim

    # Images

    def preprocess(self, images: Sequence[Image.Image]) -> FloatArray:
        """One batch as the network input, exactly per the manifest."""
        if self._pixels is None:
            raise TypeError(f"{self.manifest.name} is a {self.manifest.modality} backbone")
        return self._pixels.batch(images)

    def embed_images(self, images: Sequence[Image.Image]) -> FloatArray:
        """(N, dim) float32, unit rows, in input order. Pass JPEGs freshly opened, not loaded:
        they then decode at a reduced scale (Pillow's draft(), which shrinks `image.size`)."""
        return self._embed(_chunks(images, self.batch_size), self.preprocess, self._run_images)

    def _run_images(self, batch: FloatArray) -> FloatArray:
        out = self.session.run([self.manifest.output], {self.manifest.input: batch})[0]
        return np.asarray(out, dtype=np.float32).reshape(len(batch), -1)

    # Texts

    def embed_texts(self, texts: Sequence[str]) -> FloatArray:
        """(N, dim) float32, unit rows, in input order."""
        if self._tokenizer is None:
            raise TypeError(f"{self.manifest.name} is a {self.manifest.modality} backbone")
        # Batching texts of similar length wastes little on padding; the order is restored below.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        chunks = _chunks([texts[i] for i in order], self.batch_size)
        by_length = self._embed(chunks, self._tokenize, self._run_texts)
        vectors = np.empty_like(by_length)
        vectors[order] = by_length
        return vectors

    def _tokenize(self, texts: Sequence[str]) -> dict[str, npt.NDArray[np.int64]]:
        assert self._tokenizer is not None
        encodings = self._tokenizer.encode_batch(list(texts))
        longest = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), longest), dtype=np.int64)
        mask = np.zeros_like(ids)
        type_ids = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n] = encoding.ids
            mask[row, :n] = 1
            type_ids[row, :n] = encoding.type_ids
        feed = {self.manifest.input: ids}
        if self.manifest.mask_input:
            feed[self.manifest.mask_input] = mask
        if self.manifest.type_ids_input:
            feed[self.manifest.type_ids_input] = type_ids
        return feed

    def _run_texts(self, feed: dict[str, npt.NDArray[np.int64]]) -> FloatArray:
        out = self.session.run([self.manifest.output], feed)[0]
        return np.asarray(out, dtype=np.float32).reshape(len(feed[self.manifest.input]), -1)

    # Both

    def _embed(
        self,
        chunks: Iterator[Sequence[T]],
        prepare: Callable[[Sequence[T]], Any],
        infer: Callable[[Any], FloatArray],
    ) -> FloatArray:
        outputs = [infer(batch) for batch in _pipelined(chunks, prepare)]
        if not outputs:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalise(np.concatenate(outputs, axis=0))


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _pipelined(
    chunks: Iterator[Sequence[T]], prepare: Callable[[Sequence[T]], Any]
) -> Iterator[Any]:
    """Prepared batches in order; batch k+1 is prepared on a worker thread while the caller
    works on batch k."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="featurize") as pool:
        pending: Future[Any] | None = None
        for chunk in chunks:
            upcoming = pool.submit(prepare, chunk)
            if pending is not None:
                yield pending.result()
            pending = upcoming
        if pending is not None:
            yield pending.result()


def _load_tokenizer(backbone: Backbone) -> Tokenizer:
    assert backbone.tokenizer is not None and backbone.manifest.max_tokens is not None
    tokenizer = Tokenizer.from_str(backbone.tokenizer.decode("utf-8"))
    # tokenizer.json may pin padding/truncation (all-MiniLM's pads to a fixed 128): pad per batch
    # ourselves and truncate where the manifest says.
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=backbone.manifest.max_tokens)
    return tokenizer


class _PixelTransform:
    """Resize, centre-crop, scale, normalise and lay out images per an image manifest."""

    def __init__(self, manifest: BackboneManifest) -> None:
        assert manifest.size and manifest.layout and manifest.mean and manifest.std
        self.size = manifest.size
        self.resize = manifest.resize or manifest.size
        self.margin = (self.resize - self.size) // 2
        self.channels_first = manifest.layout == "NCHW"
        self.bgr = manifest.color_order == "BGR"
        std = np.asarray(manifest.std, dtype=np.float32)
        # (p·scale - mean)/std folded into one multiply and one add per value.
        gain = np.float32(manifest.scale) / std
        offset = -np.asarray(manifest.mean, dtype=np.float32) / std
        channel_axis = (slice(None), None, None) if self.channels_first else (slice(None),)
        self.gain = None if np.all(gain == 1) else gain[channel_axis]
        self.offset = offset[channel_axis]

    def batch(self, images: Sequence[Image.Image]) -> FloatArray:
        n, s = len(images), self.size
        out = np.empty((n, 3, s, s) if self.channels_first else (n, s, s, 3), dtype=np.float32)
        for slot, image in zip(out, images, strict=True):
            pixels = self.pixels(image)
            if self.bgr:
                pixels = pixels[..., ::-1]
            if self.channels_first:
                pixels = pixels.transpose(2, 0, 1)
            # Views in, one float write out: no intermediate copies of the image.
            if self.gain is None:
                np.add(pixels, self.offset, out=slot)
            else:
                np.multiply(pixels, self.gain, out=slot)
                slot += self.offset
        return out

    def pixels(self, image: Image.Image) -> npt.NDArray[np.uint8]:
        """The cropped RGB pixels, uint8 [size, size, 3]."""
        # JPEGs not yet loaded decode at 1/2, 1/4 or 1/8 scale while both sides stay ≥ the
        # resize target; a no-op for other formats and for loaded images.
        image.draft("RGB", (self.resize, self.resize))
        if image.mode != "RGB":
            image = image.convert("RGB")
        # Resampling only the source region that survives the centre crop gives the same pixels
        # as resize-then-crop (Pillow's filter still reads across the box edge) for less work.
        sx, sy = image.width / self.resize, image.height / self.resize
        low, high = self.margin, self.margin + self.size
        box = (low * sx, low * sy, high * sx, high * sy)
        return np.asarray(image.resize((self.size, self.size), Image.Resampling.BILINEAR, box=box))


PIXEL_GRID = 16
COLOUR_GRID = 4
PIXEL_FEATURES_DIM = PIXEL_GRID * PIXEL_GRID + COLOUR_GRID * COLOUR_GRID * 3


def pixel_features(image: Image.Image) -> FloatArray:
    """A small generic appearance vector (304-d): 16×16 grayscale layout plus 4×4 colour, each
    part zero-mean and unit-norm so neither dominates. Assist appends a few PCA components of it
    to the backbone embedding (DESIGN §8): it catches what a photo-trained backbone ignores."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    small = rgb.resize((PIXEL_GRID, PIXEL_GRID), Image.Resampling.BOX)
    gray = np.asarray(small.convert("L"), dtype=np.float32).ravel()
    colour = np.asarray(
        small.resize((COLOUR_GRID, COLOUR_GRID), Image.Resampling.BOX), dtype=np.float32
    ).ravel()
    return np.concatenate([_centred_unit(gray), _centred_unit(colour)])


def _centred_unit(values: FloatArray) -> FloatArray:
    values = values - values.mean()
    norm = float(np.linalg.norm(values))
    return values / norm if norm > 0 else values


SHAPE_GRID = 32
SHAPE_CELL = 8
SHAPE_BINS = 9
SHAPE_CLIP = 0.2
_CELLS = SHAPE_GRID // SHAPE_CELL
SHAPE_FEATURES_DIM = (_CELLS - 1) ** 2 * 4 * SHAPE_BINS


def shape_features(image: Image.Image) -> FloatArray:
    """Where edges run, and which way (324-d): a histogram of gradient orientations (HOG) of a
    32×32 grayscale picture, in 8×8 cells normalised over 2×2 blocks. Photo backbones see
    strokes, outlines and text poorly when the picture is small, noisy or rotated; on degraded
    digits adding it raised a head's accuracy at 300 labels from 73 % to 82 % (bench/assist.py)."""
    gray = image if image.mode == "L" else image.convert("L")
    small = np.asarray(
        gray.resize((SHAPE_GRID, SHAPE_GRID), Image.Resampling.BILINEAR), dtype=np.float32
    )
    dy, dx = np.gradient(small)
    magnitude = np.hypot(dx, dy)
    angle = np.mod(np.arctan2(dy, dx), np.pi) / np.pi * SHAPE_BINS  # unsigned orientation
    bins = np.minimum(angle.astype(np.int64), SHAPE_BINS - 1)
    rows, cols = np.indices(small.shape) // SHAPE_CELL
    cell = (rows * _CELLS + cols) * SHAPE_BINS + bins
    hist = np.bincount(cell.ravel(), magnitude.ravel(), _CELLS * _CELLS * SHAPE_BINS)
    hist = hist.reshape(_CELLS, _CELLS, SHAPE_BINS)
    blocks = []
    for r in range(_CELLS - 1):
        for c in range(_CELLS - 1):
            block = hist[r : r + 2, c : c + 2].ravel()
            block = block / np.sqrt((block**2).sum() + 1e-6)
            blocks.append(np.minimum(block, SHAPE_CLIP))  # no single strong edge dominates
    vector = np.concatenate(blocks).astype(np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
