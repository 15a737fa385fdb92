"""All configuration, read once from the environment by an entry point.

Nothing set means the embedded defaults: everything under `.data/` in the working directory.
Each Azure service is switched on by its own settings, identity-based as on Azure
(`X__accountEndpoint`, `X__blobServiceUri`, `X__fullyQualifiedNamespace`), or by a connection
string, which is meant for emulators only.

Each setting is declared once, as a field: its default, the environment variable that sets it
and how that variable's text is read (`_env`). `from_env` only walks the fields; a variable
that is unset or blank keeps the default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from core.domain.capacity import DEFAULT_ITEM_CAP, PARTITION_ITEMS
from core.domain.datasets import DatasetRoot
from core.domain.exports import MAX_PART_ITEMS, PART_ITEMS
from core.domain.users import USER_NAME

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = Path(".data")
DEFAULT_WEBUI_DIR = REPO_ROOT / "webui" / "dist"
# Plain ASCII numbers only: int() and float() also take "1_0", "1e3" and other scripts' digits.
_WHOLE = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_PROFILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")

Parse = Callable[[str, str, Mapping[str, Any]], Any]
"""Reads one variable's text: (its name, the text, the settings read before it)."""


class SettingsError(ValueError):
    pass


def _text(name: str, value: str, read: Mapping[str, Any]) -> str:
    return value


def _path(name: str, value: str, read: Mapping[str, Any]) -> Path:
    return Path(value)


def _dataset_roots(name: str, value: str, read: Mapping[str, Any]) -> tuple[DatasetRoot, ...]:
    container = read.get("data_container", Settings.data_container)
    entries = [e for e in value.replace(",", " ").split() if e]
    try:
        return tuple(DatasetRoot.parse(e, data_container=container) for e in entries)
    except ValueError as error:
        raise SettingsError(
            f"{name}: {error} (list containers or container/folder paths, e.g. "
            "'lake, archive/scans')"
        ) from None


def _admins(name: str, value: str, read: Mapping[str, Any]) -> frozenset[str]:
    names = [n for n in value.replace(",", " ").split() if n]
    if bad := [n for n in names if not USER_NAME.fullmatch(n)]:
        raise SettingsError(
            f"{name}: {bad[0]!r} is not a user name (letters, digits and . _ @ -, at most "
            "64, starting with a letter or digit)"
        )
    return frozenset(names)


def _flag(name: str, value: str, read: Mapping[str, Any]) -> bool:
    value = value.lower()
    if value not in ("true", "1", "false", "0"):
        raise SettingsError(f"{name}={value!r} must be true or false")
    return value in ("true", "1")


def _count(name: str, value: str, read: Mapping[str, Any]) -> int:
    if not _WHOLE.fullmatch(value) or int(value) < 1:
        raise SettingsError(f"{name}={value!r} must be a whole number of at least 1")
    return int(value)


def _up_to(most: int) -> Parse:
    def bounded(name: str, value: str, read: Mapping[str, Any]) -> int:
        if not _WHOLE.fullmatch(value) or not 1 <= int(value) <= most:
            raise SettingsError(f"{name}={value!r} must be a whole number from 1 to {most}")
        return int(value)

    return bounded


def _rate(name: str, value: str, read: Mapping[str, Any]) -> float:
    rate = float(value) if _DECIMAL.fullmatch(value) else -1.0
    if rate < 0:
        raise SettingsError(
            f"{name}={value!r} must be requests per second (a number, 0 for no limit)"
        )
    return rate


def _seconds(name: str, value: str, read: Mapping[str, Any]) -> float:
    seconds = float(value) if _DECIMAL.fullmatch(value) else -1.0
    if not 1 <= seconds <= 86_400:
        raise SettingsError(f"{name}={value!r} must be seconds, from 1 to 86400")
    return seconds


def _gpu_profile(name: str, value: str, read: Mapping[str, Any]) -> str:
    if not _PROFILE.fullmatch(value):
        raise SettingsError(
            f"{name}={value!r} must be a workload profile type, such as Consumption-GPU-NC8as-T4"
        )
    return value


def _port(name: str, value: str, read: Mapping[str, Any]) -> int:
    if not _WHOLE.fullmatch(value) or not 0 < int(value) < 65536:
        raise SettingsError(f"{name}={value!r} is not a TCP port number (1–65535)")
    return int(value)


def _default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))  # one per core, up to four: the API needs room


def _env(
    name: str,
    default: Any = None,
    parse: Parse = _text,
    *,
    factory: Callable[[], Any] | None = None,
) -> Any:
    """A field set by the environment variable `name`, read by `parse`."""
    metadata = {"env": name, "parse": parse}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = _env("LOUPE_DATA_DIR", DEFAULT_DATA_DIR, _path)
    host: str = _env("LOUPE_HOST", "127.0.0.1")
    port: int = _env("LOUPE_PORT", 7071, _port)
    public_url: str | None = _env("LOUPE_PUBLIC_URL")
    secret: str | None = _env("LOUPE_SECRET")
    data_container: str = _env("LOUPE_DATA_CONTAINER", "data")
    dataset_roots: tuple[DatasetRoot, ...] = _env("LOUPE_DATASETS", (), _dataset_roots)
    """Where blob datasets may read (LOUPE_DATASETS: containers or container/folder paths,
    separated by commas). None by default: projects then take uploads only. Loupe's own
    containers and the uploads folder are refused whatever this says."""
    webui_dir: Path | None = _env("LOUPE_WEBUI_DIR", DEFAULT_WEBUI_DIR, _path)
    cosmos_endpoint: str | None = _env("COSMOS__accountEndpoint")
    cosmos_connection_string: str | None = _env("COSMOS_CONNECTION_STRING")
    cosmos_database: str = _env("COSMOS_DATABASE", "loupe")
    storage_blob_uri: str | None = _env("STORAGE__blobServiceUri")
    storage_connection_string: str | None = _env("STORAGE_CONNECTION_STRING")
    servicebus_namespace: str | None = _env("SERVICEBUS__fullyQualifiedNamespace")
    servicebus_connection_string: str | None = _env("SERVICEBUS_CONNECTION_STRING")
    workers: int = _env("LOUPE_WORKERS", parse=_up_to(64), factory=_default_workers)
    """Stage worker processes of the embedded runtime (LOUPE_WORKERS)."""
    task_lease_s: float = _env("LOUPE_TASK_LEASE_S", 600.0, _seconds)
    """How long a labeler holds a task before it goes back to the queue (LOUPE_TASK_LEASE_S):
    the time a vanished labeler's items stay out of reach. The one source of the lease's
    length: the services lease for it, and the web UI renews at half of what it is told.
    Tests shorten it."""
    recount_s: float = _env("LOUPE_RECOUNT_S", 60.0, _seconds)
    """How often the dashboard's counters are checked against the items (LOUPE_RECOUNT_S), and
    how long a counter may take to land after its item: a count a crash cut off is corrected
    one to two intervals later (on Azure its timer fires at most once a minute, so less acts
    as 60)."""
    reconcile_s: float = _env("LOUPE_RECONCILE_S", 600.0, _seconds)
    """How often each project's reconciliation sweep lists what changed in its data
    (LOUPE_RECONCILE_S): new files arrive by events at once (the folder watcher, blob events
    on Azure); the sweep catches what they missed, within one interval (on Azure the timer runs
    every two minutes, so less acts as 120)."""
    refresh_sweep_s: float = _env("LOUPE_REFRESH_SWEEP_S", 10.0, _seconds)
    """How often the reconciliation sweep looks for projects due (LOUPE_REFRESH_SWEEP_S; each
    is due every `reconcile_s`). The periodic jobs' intervals (`core.schedule`) are run as
    set by the embedded runtime; Azure's timers fire at most once a minute (this one every two),
    so less acts as that there."""
    lease_sweep_s: float = _env("LOUPE_LEASE_SWEEP_S", 30.0, _seconds)
    """How often expired task leases go back to the queue (LOUPE_LEASE_SWEEP_S; a quarter of
    the lease when that is shorter)."""
    relabel_sweep_s: float = _env("LOUPE_RELABEL_SWEEP_S", 30.0, _seconds)
    """How soon a label-class change whose writer died starts rewriting its items
    (LOUPE_RELABEL_SWEEP_S)."""
    training_sweep_s: float = _env("LOUPE_TRAINING_SWEEP_S", 10.0, _seconds)
    """How soon a project due for ML-assist training starts its cycle (LOUPE_TRAINING_SWEEP_S)."""
    item_cap: int = _env("LOUPE_ITEM_CAP", DEFAULT_ITEM_CAP, _up_to(PARTITION_ITEMS))
    """The most items one project may hold (LOUPE_ITEM_CAP, default 11,000,000): half of the
    ~23 million one project's Cosmos DB logical partition holds (20 GB), so that items have
    room to grow (`core.domain.capacity`). Beyond it ingestion refuses new files, saying why;
    an owner may set a smaller cap of their own (ingest.itemCap)."""
    export_part_items: int = _env("LOUPE_EXPORT_PART_ITEMS", PART_ITEMS, _up_to(MAX_PART_ITEMS))
    """Items one part of an export job holds (LOUPE_EXPORT_PART_ITEMS, 1–100,000): each stage
    call writes one part, so this bounds a call's length under a Function's time limit."""
    azureml_datastore: str | None = _env("LOUPE_AZUREML_DATASTORE")
    """An Azure ML datastore over the data container (azureml://subscriptions/…/datastores/NAME):
    Azure ML exports then name images by it instead of by signed blob URLs."""
    events_topic: str = _env("LOUPE_EVENTS_TOPIC", "project-events")
    """The Service Bus topic outbound events go to (with Service Bus; else .data/events.jsonl)."""
    admins: frozenset[str] = _env("LOUPE_ADMINS", frozenset(), _admins)
    """User names made Loupe admins as they sign in (LOUPE_ADMINS, separated by commas): how a
    deployment behind a Static Web App gets its first admin. With tokens, the first user
    `loupe user create` makes is the admin."""
    behind_static_web_app: bool = _env("LOUPE_BEHIND_STATIC_WEB_APP", False, _flag)
    """Trust the `x-ms-client-principal` header: only when the API is reachable solely through
    its linked Static Web App (which sets the header); otherwise a request carrying it is
    refused, since anyone could forge it."""
    max_upload_bytes: int = _env("LOUPE_MAX_UPLOAD_BYTES", 2 << 30, _count)
    """The largest request body an upload or import may send (LOUPE_MAX_UPLOAD_BYTES); a
    larger one is refused with 413 before or while it streams."""
    rate_limit: float = _env("LOUPE_RATE_LIMIT", 50.0, _rate)
    """Requests per second each token (or client address) may sustain (LOUPE_RATE_LIMIT, 0 turns
    the limit off); beyond it, and past `rate_burst`, requests get 429 with Retry-After."""
    rate_burst: int = _env("LOUPE_RATE_BURST", 200, _count)
    """Requests a caller may make at once before `rate_limit` applies (LOUPE_RATE_BURST)."""
    gpu_profile: str | None = _env("LOUPE_GPU_PROFILE", None, _gpu_profile)
    """The GPU workload profile this process runs on (LOUPE_GPU_PROFILE, set on the training
    job): ML assist then expects onnxruntime's CUDA provider, and says so in its runs and logs
    when it falls back to the CPU."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        read: dict[str, Any] = {}
        for setting in fields(cls):  # in declaration order: a parse sees the fields above it
            name, parse = setting.metadata["env"], setting.metadata["parse"]
            value = env.get(name, "").strip()
            if value:
                read[setting.name] = parse(name, value, read)
        return cls(**read)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def uses_cosmos(self) -> bool:
        return bool(self.cosmos_endpoint or self.cosmos_connection_string)

    @property
    def uses_blob_storage(self) -> bool:
        return bool(self.storage_blob_uri or self.storage_connection_string)

    @property
    def uses_service_bus(self) -> bool:
        return bool(self.servicebus_namespace or self.servicebus_connection_string)
