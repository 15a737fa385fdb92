"""The model registry: backbones as data in the blob store's `models` container, one folder
each (`NAME/manifest.json`, the ONNX file it names, a tokenizer for text models).

The defaults are derived from installed packages the first time a project needs them and then
stored like any other entry; on Azure an owner uploads further backbones (an exported DINOv2 or
CLIP, say) into the same container, and projects pick one by name."""

from __future__ import annotations

from core.assist.manifest import BUILT_IN, DEFAULT_IMAGE, DEFAULT_TEXT, Backbone, BackboneManifest
from core.domain.errors import InvalidInput, NotFound
from core.domain.model import DomainModel
from core.domain.task_types import MediaKind
from core.ports import Deps

MODELS = "models"
MANIFEST = "manifest.json"
DEFAULT_FOR = {MediaKind.IMAGE: DEFAULT_IMAGE, MediaKind.TEXT: DEFAULT_TEXT}


class ModelEntry(DomainModel):
    """A backbone as `GET /api/models` lists it."""

    name: str
    modality: str
    dim: int | None = None
    license: str | None = None
    source: str | None = None
    stored: bool
    """False for a built-in backbone not derived yet (it will be at first use)."""


def list_models(deps: Deps) -> list[ModelEntry]:
    """Every registered backbone, and the built-in ones even before their first use."""
    found: dict[str, ModelEntry] = {}
    for blob in deps.blobs.list(MODELS):
        if blob.name.endswith("/" + MANIFEST) and blob.name.count("/") == 1:
            try:
                manifest = _manifest(deps, blob.name.split("/")[0])
            except InvalidInput:
                continue  # a broken upload: `load_backbone` says what is wrong when used
            found[manifest.name] = ModelEntry(
                name=manifest.name,
                modality=manifest.modality,
                dim=manifest.dim,
                license=manifest.license,
                source=manifest.source,
                stored=True,
            )
    for name, modality in BUILT_IN.items():
        found.setdefault(name, ModelEntry(name=name, modality=modality, stored=False))
    return sorted(found.values(), key=lambda entry: entry.name)


def backbone_name(chosen: str | None, media: MediaKind) -> str:
    return chosen or DEFAULT_FOR[media]


def load_backbone(deps: Deps, name: str, media: MediaKind) -> Backbone:
    """The backbone `name`, derived and stored first if it is a built-in one not stored yet."""
    try:
        manifest: BackboneManifest | None = _manifest(deps, name)
    except NotFound:
        manifest = None
    modality = manifest.modality if manifest is not None else BUILT_IN.get(name)
    if modality is None:
        raise NotFound(
            f"backbone {name!r} is not in the model registry: upload {name}/{MANIFEST} and "
            f"its ONNX file to the {MODELS!r} container, or pick one of {sorted(BUILT_IN)}"
        )
    if modality != media.value:
        raise InvalidInput.one(
            "assist.backbone", f"{name!r} is a model of {modality}s; this project labels {media}s"
        )
    if manifest is None:
        return _store_built_in(deps, name)
    model = deps.blobs.get(MODELS, f"{name}/{manifest.model_file}")
    tokenizer = (
        deps.blobs.get(MODELS, f"{name}/{manifest.tokenizer_file}")
        if manifest.tokenizer_file
        else None
    )
    return Backbone(manifest, model, tokenizer)


def registry_version(deps: Deps, name: str) -> str:
    """The stored manifest's etag ('' while a default is not stored yet)."""
    try:
        return deps.blobs.info(MODELS, f"{name}/{MANIFEST}").etag
    except NotFound:
        return ""


def _manifest(deps: Deps, name: str) -> BackboneManifest:
    raw = deps.blobs.get(MODELS, f"{name}/{MANIFEST}")
    try:
        return BackboneManifest.model_validate_json(raw)
    except ValueError as error:
        raise InvalidInput.one(f"{MODELS}/{name}/{MANIFEST}", str(error)) from None


def _store_built_in(deps: Deps, name: str) -> Backbone:
    from core.assist.backbones import derive_built_in  # needs onnx: only the assist worker

    backbone = derive_built_in(name)
    manifest = backbone.manifest
    deps.blobs.put(MODELS, f"{name}/{manifest.model_file}", backbone.model)
    if manifest.tokenizer_file and backbone.tokenizer is not None:
        deps.blobs.put(MODELS, f"{name}/{manifest.tokenizer_file}", backbone.tokenizer)
    # The manifest last: an entry is listed only once its files are all there.
    deps.blobs.put(
        MODELS,
        f"{name}/{MANIFEST}",
        manifest.model_dump_json(by_alias=True, exclude_none=True).encode(),
        content_type="application/json",
    )
    return backbone
