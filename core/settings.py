"""All configuration, read once from the environment by an entry point.

Nothing set means the embedded defaults: everything under `.data/` in the working directory.
Each Azure service is switched on by its own settings, identity-based as on Azure
(`X__accountEndpoint`, `X__blobServiceUri`, `X__fullyQualifiedNamespace`), or by a connection
string, which is meant for emulators only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.domain.capacity import DEFAULT_ITEM_CAP, PARTITION_ITEMS
from core.domain.datasets import DatasetRoot
from core.domain.exports import MAX_PART_ITEMS, PART_ITEMS
from core.domain.users import USER_NAME

REPO_ROOT = Path(__file__).resolve().parent.parent
# Plain ASCII numbers only: int() and float() also take "1_0", "1e3" and other scripts' digits.
_WHOLE = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path(".data")
    host: str = "127.0.0.1"
    port: int = 7071
    public_url: str | None = None
    secret: str | None = None
    data_container: str = "data"
    dataset_roots: tuple[DatasetRoot, ...] = ()
    """Where blob datasets may read (LOUPE_DATASETS: containers or container/folder paths,
    separated by commas). None by default: projects then take uploads only. Loupe's own
    containers and the uploads folder are refused whatever this says."""
    webui_dir: Path | None = REPO_ROOT / "webui" / "dist"
    cosmos_endpoint: str | None = None
    cosmos_connection_string: str | None = None
    cosmos_database: str = "loupe"
    storage_blob_uri: str | None = None
    storage_connection_string: str | None = None
    servicebus_namespace: str | None = None
    servicebus_connection_string: str | None = None
    workers: int = field(default_factory=lambda: _workers(None))
    """Stage worker processes of the embedded runtime (LOUPE_WORKERS)."""
    task_lease_s: float = 600.0
    """How long a labeler holds a task before it goes back to the queue (LOUPE_TASK_LEASE_S):
    the time a vanished labeler's items stay out of reach. Tests shorten it."""
    recount_s: float = 60.0
    """How often the dashboard's counters are checked against the items (LOUPE_RECOUNT_S), and
    how long a counter may take to land after its item: a count a crash cut off is corrected
    one to two intervals later (on Azure the timer runs each minute, so less acts as 60)."""
    reconcile_s: float = 600.0
    """How often each project's reconciliation sweep lists what changed in its data
    (LOUPE_RECONCILE_S): new files arrive by events at once (the folder watcher, blob events
    on Azure); the sweep catches what they missed, within one interval (on Azure the timer runs
    every two minutes, so less acts as 120)."""
    item_cap: int = DEFAULT_ITEM_CAP
    """The most items one project may hold (LOUPE_ITEM_CAP, default 11,000,000): half of the
    ~23 million one project's Cosmos DB logical partition holds (20 GB), so that items have
    room to grow (`core.domain.capacity`). Beyond it ingestion refuses new files, saying why;
    an owner may set a smaller cap of their own (ingest.itemCap)."""
    export_part_items: int = PART_ITEMS
    """Items one part of an export job holds (LOUPE_EXPORT_PART_ITEMS, 1–100,000): each stage
    call writes one part, so this bounds a call's length under a Function's time limit."""
    azureml_datastore: str | None = None
    """An Azure ML datastore over the data container (azureml://subscriptions/…/datastores/NAME):
    Azure ML exports then name images by it instead of by signed blob URLs."""
    events_topic: str = "project-events"
    """The Service Bus topic outbound events go to (with Service Bus; else .data/events.jsonl)."""
    admins: frozenset[str] = frozenset()
    """User names made Loupe admins as they sign in (LOUPE_ADMINS, separated by commas): how a
    deployment behind a Static Web App gets its first admin. With tokens, the first user
    `loupe user create` makes is the admin."""
    behind_static_web_app: bool = False
    """Trust the `x-ms-client-principal` header: only when the API is reachable solely through
    its linked Static Web App (which sets the header); otherwise a request carrying it is
    refused, since anyone could forge it."""
    max_upload_bytes: int = 2 << 30
    """The largest request body an upload or import may send (LOUPE_MAX_UPLOAD_BYTES); a
    larger one is refused with 413 before or while it streams."""
    rate_limit: float = 50.0
    """Requests per second each token (or client address) may sustain (LOUPE_RATE_LIMIT, 0 turns
    the limit off); beyond it, and past `rate_burst`, requests get 429 with Retry-After."""
    rate_burst: int = 200
    """Requests a caller may make at once before `rate_limit` applies (LOUPE_RATE_BURST)."""
    gpu_profile: str | None = None
    """The GPU workload profile this process runs on (LOUPE_GPU_PROFILE, set on the training
    job): ML assist then expects onnxruntime's CUDA provider, and says so in its runs and logs
    when it falls back to the CPU."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        webui = get("LOUPE_WEBUI_DIR")
        data_container = get("LOUPE_DATA_CONTAINER") or "data"
        return cls(
            data_dir=Path(get("LOUPE_DATA_DIR") or ".data"),
            host=get("LOUPE_HOST") or "127.0.0.1",
            port=_port(get("LOUPE_PORT")),
            public_url=get("LOUPE_PUBLIC_URL"),
            secret=get("LOUPE_SECRET"),
            data_container=data_container,
            dataset_roots=_dataset_roots(get("LOUPE_DATASETS"), data_container),
            webui_dir=Path(webui) if webui else cls.webui_dir,
            cosmos_endpoint=get("COSMOS__accountEndpoint"),
            cosmos_connection_string=get("COSMOS_CONNECTION_STRING"),
            cosmos_database=get("COSMOS_DATABASE") or "loupe",
            storage_blob_uri=get("STORAGE__blobServiceUri"),
            storage_connection_string=get("STORAGE_CONNECTION_STRING"),
            servicebus_namespace=get("SERVICEBUS__fullyQualifiedNamespace"),
            servicebus_connection_string=get("SERVICEBUS_CONNECTION_STRING"),
            admins=frozenset(_admins(get("LOUPE_ADMINS"))),
            behind_static_web_app=_flag("LOUPE_BEHIND_STATIC_WEB_APP", get),
            events_topic=get("LOUPE_EVENTS_TOPIC") or "project-events",
            azureml_datastore=get("LOUPE_AZUREML_DATASTORE"),
            max_upload_bytes=_count("LOUPE_MAX_UPLOAD_BYTES", get, cls.max_upload_bytes),
            rate_limit=_rate(get("LOUPE_RATE_LIMIT")),
            rate_burst=_count("LOUPE_RATE_BURST", get, cls.rate_burst),
            workers=_workers(get("LOUPE_WORKERS")),
            task_lease_s=_seconds("LOUPE_TASK_LEASE_S", get, cls.task_lease_s),
            recount_s=_seconds("LOUPE_RECOUNT_S", get, cls.recount_s),
            reconcile_s=_seconds("LOUPE_RECONCILE_S", get, cls.reconcile_s),
            item_cap=_bounded("LOUPE_ITEM_CAP", get, cls.item_cap, PARTITION_ITEMS),
            export_part_items=_bounded(
                "LOUPE_EXPORT_PART_ITEMS", get, cls.export_part_items, MAX_PART_ITEMS
            ),
            gpu_profile=_gpu_profile(get("LOUPE_GPU_PROFILE")),
        )

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


def _dataset_roots(value: str | None, data_container: str) -> tuple[DatasetRoot, ...]:
    entries = [e for e in (value or "").replace(",", " ").split() if e]
    try:
        return tuple(DatasetRoot.parse(e, data_container=data_container) for e in entries)
    except ValueError as error:
        raise SettingsError(
            f"LOUPE_DATASETS: {error} (list containers or container/folder paths, e.g. "
            "'lake, archive/scans')"
        ) from None


def _admins(value: str | None) -> list[str]:
    names = [n for n in (value or "").replace(",", " ").split() if n]
    if bad := [n for n in names if not USER_NAME.fullmatch(n)]:
        raise SettingsError(
            f"LOUPE_ADMINS: {bad[0]!r} is not a user name (letters, digits and . _ @ -, at most "
            "64, starting with a letter or digit)"
        )
    return names


def _flag(name: str, get: Callable[[str], str | None]) -> bool:
    value = (get(name) or "false").lower()
    if value not in ("true", "1", "false", "0"):
        raise SettingsError(f"{name}={value!r} must be true or false")
    return value in ("true", "1")


def _count(name: str, get: Callable[[str], str | None], default: int) -> int:
    value = get(name)
    if value is None:
        return default
    if not _WHOLE.fullmatch(value) or int(value) < 1:
        raise SettingsError(f"{name}={value!r} must be a whole number of at least 1")
    return int(value)


def _bounded(name: str, get: Callable[[str], str | None], default: int, most: int) -> int:
    value = get(name)
    if value is None:
        return default
    if not _WHOLE.fullmatch(value) or not 1 <= int(value) <= most:
        raise SettingsError(f"{name}={value!r} must be a whole number from 1 to {most}")
    return int(value)


def _rate(value: str | None) -> float:
    if value is None:
        return Settings.rate_limit
    rate = float(value) if _DECIMAL.fullmatch(value) else -1.0
    if rate < 0:
        raise SettingsError(
            f"LOUPE_RATE_LIMIT={value!r} must be requests per second (a number, 0 for no limit)"
        )
    return rate


def _seconds(name: str, get: Callable[[str], str | None], default: float) -> float:
    value = get(name)
    if value is None:
        return default
    seconds = float(value) if _DECIMAL.fullmatch(value) else -1.0
    if not 1 <= seconds <= 86_400:
        raise SettingsError(f"{name}={value!r} must be seconds, from 1 to 86400")
    return seconds


def _workers(value: str | None) -> int:
    if value is None:  # one per core, up to four: the API process needs room too
        return max(1, min(4, os.cpu_count() or 1))
    if not _WHOLE.fullmatch(value) or not 0 < int(value) <= 64:
        raise SettingsError(f"LOUPE_WORKERS={value!r} must be a whole number from 1 to 64")
    return int(value)


_PROFILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")


def _gpu_profile(value: str | None) -> str | None:
    if value is not None and not _PROFILE.fullmatch(value):
        raise SettingsError(
            f"LOUPE_GPU_PROFILE={value!r} must be a workload profile type, such as "
            "Consumption-GPU-NC8as-T4"
        )
    return value


def _port(value: str | None) -> int:
    if value is None:
        return 7071
    if not _WHOLE.fullmatch(value) or not 0 < int(value) < 65536:
        raise SettingsError(f"LOUPE_PORT={value!r} is not a TCP port number (1–65535)")
    return int(value)
