"""What a backbone is: an ONNX model plus everything needed to feed it and read its features.

A manifest is plain data so that a custom backbone can be registered from a file; the
featurizer follows it exactly, and nothing about a particular model is hard-coded there."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from core.domain.model import DomainModel

DEFAULT_IMAGE = "open-nsfw-resnet50"
DEFAULT_TEXT = "all-minilm-l6-v2"
EFFICIENTNET_LITE0 = "efficientnet-lite0"
"""ImageNet features, built in beside the default (a project picks it by name)."""
OPEN_NSFW_LITE0 = "open-nsfw-lite0"
"""The default's features and EfficientNet-Lite0's, joined (`core.assist.joint_graph`)."""
DEFAULTS = (DEFAULT_IMAGE, DEFAULT_TEXT)
BUILT_IN = {
    DEFAULT_IMAGE: "image",
    EFFICIENTNET_LITE0: "image",
    OPEN_NSFW_LITE0: "image",
    DEFAULT_TEXT: "text",
}
"""The backbones `core.assist.backbones` derives from installed packages, with their modality.
Named here, where nothing heavy is imported, so the API can list them without onnx."""

BackboneName = Annotated[str, Field(pattern=r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$", max_length=64)]


class BackboneManifest(DomainModel):
    name: BackboneName
    modality: Literal["image", "text"]
    model_file: str = "model.onnx"
    input: str
    """The network input that takes pixels (image) or token ids (text)."""
    output: str
    """The network output holding the feature vector, shape [batch, dim]."""
    dim: int = Field(gt=0)

    # Image preprocessing, applied in this order: resize, centre-crop, scale, mean/std.
    size: int | None = Field(default=None, gt=0)
    """Side of the square network input."""
    resize: int | None = Field(default=None, gt=0)
    """Resize to this square first, then centre-crop to `size`; None resizes straight to size."""
    layout: Literal["NHWC", "NCHW"] | None = None
    color_order: Literal["RGB", "BGR"] = "RGB"
    scale: float = 1.0
    """Pixels (0..255) are multiplied by this before the mean is subtracted."""
    mean: list[float] | None = None
    """Per channel, in the network's channel order (`color_order`)."""
    std: list[float] | None = None

    # Text
    tokenizer_file: str | None = None
    """A Hugging Face `tokenizer.json`."""
    max_tokens: int | None = Field(default=None, gt=0)
    """Longer texts are truncated to this many tokens, special tokens included."""
    mask_input: str | None = None
    type_ids_input: str | None = None

    license: str
    source: str
    """Where the weights came from (package and version, or URL)."""

    @model_validator(mode="after")
    def _complete_for_modality(self) -> Self:
        if self.modality == "image":
            self._check_image()
        else:
            self._check_text()
        return self

    def _check_image(self) -> None:
        if self.size is None or self.layout is None:
            raise ValueError("an image backbone needs size and layout")
        if self.resize is not None and self.resize < self.size:
            raise ValueError("resize must be at least size (it is centre-cropped to size)")
        if self.mean is None or len(self.mean) != 3:
            raise ValueError("an image backbone needs a mean of 3 channels")
        if self.std is None or len(self.std) != 3 or any(s == 0 for s in self.std):
            raise ValueError("an image backbone needs a std of 3 non-zero channels")

    def _check_text(self) -> None:
        if self.tokenizer_file is None or self.max_tokens is None:
            raise ValueError("a text backbone needs tokenizer_file and max_tokens")


@dataclass(frozen=True)
class Backbone:
    """A manifest with its files' bytes: ready for a `Featurizer`, no file system needed."""

    manifest: BackboneManifest
    model: bytes = field(repr=False)
    tokenizer: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.manifest.modality == "text" and self.tokenizer is None:
            raise ValueError(f"text backbone {self.manifest.name!r} has no tokenizer")
