"""What Loupe costs on Azure, per unit of work: Cosmos DB requests and request units (RU) and
Service Bus messages per ingested item, per labeled item (next task + submit), per review and
per 10,000-item export, measured on the Azure adapters against the emulators (Cosmos DB on
@vercel/cosmosdb-server, Blob Storage on Azurite, Service Bus on the SDK-seam fake). Every HTTP
request the Cosmos SDK sends is counted at its transport; its request charge is read from the
`x-ms-request-charge` header where the emulator sends one, and otherwise estimated by Cosmos
DB's published rules of thumb (below). Beside each figure, the floor it is compared with: the
fewest requests and RU the step could possibly take.

    python bench/azure_cost.py            # 1,000 items ingested and labeled, a 10k export
    python bench/azure_cost.py --quick    # 100 items, a 2k export scaled to 10k (< 1 minute)

RU estimate (Cosmos DB, default indexing of every path, session consistency):
- point read: 1 RU per started KB of the document;
- create, replace, upsert: 5.5 RU per started KB (a 1 KB write with all paths indexed is about
  5-6 RU; each further KB adds about as much, indexing included);
- delete: 5 RU;
- query (one page): 2.5 RU + 1 RU per started KB of documents returned; a COUNT: 2.5 RU + 0.5 RU
  per 100 documents counted (an index scan);
- metadata reads (account, database, container): 1 RU.
Service Bus Standard bills operations: each message is a send, a receive and a complete (3).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from azure.core.pipeline.transport import RequestsTransport  # noqa: E402
from azure.cosmos import CosmosClient  # noqa: E402

from core.adapters.azure.blobs import AzureBlobStore  # noqa: E402
from core.adapters.azure.documents import CosmosDocumentStore  # noqa: E402
from core.adapters.azure.events import ServiceBusTopicPublisher  # noqa: E402
from core.adapters.azure.queue import ServiceBusWorkQueue  # noqa: E402
from core.adapters.clock import ManualClock  # noqa: E402
from core.domain.datasets import Dataset, DatasetRoot, DataSource  # noqa: E402
from core.domain.exports import ExportFormat  # noqa: E402
from core.domain.items import ItemState  # noqa: E402
from core.domain.messages import BLOB_CREATED  # noqa: E402
from core.domain.projects import ProjectSettings, Role  # noqa: E402
from core.ports import Deps, Query  # noqa: E402
from core.services import labeling, projects, review, stages, tasks  # noqa: E402
from core.services.exports import ExportOptions, request_export  # noqa: E402
from core.services.users import create_user  # noqa: E402
from core.store.collections import ITEMS, PROJECTS, scan  # noqa: E402
from tests.support.emulators import start_azurite, start_cosmos  # noqa: E402
from tests.support.fake_servicebus import FakeServiceBusClient  # noqa: E402
from tests.support.labeling import add_items, creator, running_project  # noqa: E402
from tests.support.media import image_bytes  # noqa: E402

LAKE = "lake"
KB = 1024


@dataclass
class Tally:
    requests: Counter[str] = field(default_factory=Counter)
    measured_ru: float = 0.0
    charged: int = 0
    """Requests whose answer carried x-ms-request-charge."""
    estimated_ru: float = 0.0
    messages: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def measured(self) -> bool:
        """Whether the emulator's charges are real ones: @vercel/cosmosdb-server answers 1 for
        every request, a placeholder, so the estimate stands in for it there."""
        return self.charged > 0 and self.measured_ru != self.charged

    def snapshot(self) -> tuple[int, float, int]:
        with self.lock:
            ru = self.measured_ru if self.measured else self.estimated_ru
            return sum(self.requests.values()), ru, sum(self.messages.values())


def _kb(size: int) -> int:
    return max(1, math.ceil(size / KB))


def estimate(method: str, path: str, is_query: bool, sent: int, answer: bytes) -> float:
    """Request units by the published rules of thumb (module docstring)."""
    if is_query:
        try:
            body = json.loads(answer or b"{}")
        except ValueError:
            body = {}
        documents = body.get("Documents", []) if isinstance(body, dict) else []
        if documents and all(isinstance(d, int | float) for d in documents):
            return 2.5 + 0.5 * sum(documents) / 100  # a COUNT
        return 2.5 + (1.0 * _kb(len(answer)) if documents else 0.0)
    if "/docs" not in path:
        return 1.0  # metadata
    if method == "GET":
        return 1.0 * _kb(len(answer))
    if method in ("PUT", "POST", "PATCH"):
        return 5.5 * _kb(sent)
    if method == "DELETE":
        return 5.0
    return 1.0


class CountingTransport(RequestsTransport):  # type: ignore[misc]
    """The Cosmos SDK's HTTP transport, counting what goes over it."""

    def __init__(self, tally: Tally, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tally = tally

    def send(self, request: Any, **kwargs: Any) -> Any:
        response = super().send(request, **kwargs)
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        answer = response.body()
        charge = response.headers.get("x-ms-request-charge")
        path = request.url.split("?", 1)[0]
        is_query = str(request.headers.get("x-ms-documentdb-isquery", "")).lower() == "true"
        what = "query" if is_query else ("doc" if "/docs/" in path else path.rsplit("/", 1)[-1])
        with self.tally.lock:
            self.tally.requests[f"{request.method} {what}"] += 1
            if charge is not None:
                self.tally.measured_ru += float(charge)
                self.tally.charged += 1
            self.tally.estimated_ru += estimate(request.method, path, is_query, len(body), answer)
        return response


class CountingQueue(ServiceBusWorkQueue):
    def __init__(self, tally: Tally, client: Any, clock: ManualClock) -> None:
        super().__init__(client, clock)
        self.tally = tally

    def send(self, queue: str, body: Any, **kwargs: Any) -> str:
        with self.tally.lock:
            self.tally.messages[queue] += 1
        return super().send(queue, body, **kwargs)


def build(tally: Tally, cosmos: Any, azurite: Any, clock: ManualClock) -> Deps:
    client = CosmosClient(
        cosmos.endpoint,
        cosmos.key,
        connection_verify=False,
        enable_endpoint_discovery=False,
        transport=CountingTransport(tally),
    )
    servicebus = FakeServiceBusClient(clock, stages.QUEUE_SPECS)
    return Deps(
        documents=CosmosDocumentStore(client, database=f"cost{uuid.uuid4().hex[:8]}"),
        blobs=AzureBlobStore(azurite.service_client()),
        queue=CountingQueue(tally, servicebus, clock),
        clock=clock,
        events=ServiceBusTopicPublisher(servicebus, "project-events"),
        dataset_roots=(DatasetRoot(LAKE),),
    )


def drain(deps: Deps) -> None:
    while batch := [(q, m) for q in stages.STAGES for m in deps.queue.receive(q, max_messages=50)]:
        for queue, message in batch:
            stages.handle(deps, queue, message.body)
            deps.queue.complete(message)


@dataclass
class Figure:
    name: str
    units: int
    requests: int
    ru: float
    messages: int
    floor: tuple[float, float]
    """(requests, RU) per unit: the fewest the step could take."""


def measure(
    tally: Tally, name: str, units: int, floor: tuple[float, float], run: Callable[[], None]
) -> Figure:
    before = tally.snapshot()
    run()
    after = tally.snapshot()
    return Figure(
        name, units, after[0] - before[0], after[1] - before[1], after[2] - before[2], floor
    )


def scenario(deps: Deps, items: int, export_items: int, tally: Tally) -> list[Figure]:
    for n in range(items):
        deps.blobs.put(LAKE, f"in/{n:05d}.png", image_bytes(size=(64 + n % 7, 48)))
    creator(deps, "olive")
    fields = {
        "name": "Cost",
        "taskType": "image_multiclass",
        "labelClasses": [{"name": "cat"}, {"name": "dog"}],
        "dataset": Dataset(source=DataSource.BLOB, container=LAKE, path="in/**"),
    }
    settings = ProjectSettings.model_validate(fields)
    arriving = max(1, items // 10)
    holder: dict[str, str] = {}

    def ingest() -> None:
        holder["id"] = projects.create_project(deps, settings=settings, actor="olive").value.id
        drain(deps)
        # Then files arriving one by one, announced by Event Grid (the blob-created queue).
        for n in range(items, items + arriving):
            name = f"in/{n:05d}.png"
            deps.blobs.put(LAKE, name, image_bytes(size=(64, 48)))
            subject = f"/blobServices/default/containers/{LAKE}/blobs/{name}"
            event = {"id": name, "eventType": "Microsoft.Storage.BlobCreated", "subject": subject}
            deps.queue.send(BLOB_CREATED, event, message_id=name)
        drain(deps)

    figures = [
        # Floor: the item written when registered and again with its renditions (1 KB each).
        measure(tally, "ingested item", items + arriving, (2, 2 * 5.5), ingest)
    ]
    project_id = holder["id"]
    for user in ("lee", "rita"):
        create_user(deps, name=user)
    found = deps.documents.container(PROJECTS).read(project_id, project_id)
    project = projects.get_project(deps, project_id=project_id).value
    members = project.members | {"lee": Role.LABELER, "rita": Role.REVIEWER}
    updated = project.model_copy(update={"members": members})
    deps.documents.container(PROJECTS).upsert(updated.to_doc(), if_match=found.etag)
    labeled: list[str] = []

    def label() -> None:
        for n in range(items):
            task = tasks.next_task(deps, project_id=project_id, actor="lee", size=1)
            if not task.items:
                break
            item = task.items[0]
            value = {"label": ("cat", "dog")[n % 2]}
            labeling.submit_annotation(
                deps, project_id=project_id, actor="lee", item_id=item.id, value=value
            )
            labeled.append(item.id)

    # Floor: next = one query page and the lease written; submit = the item read and written.
    figures.append(measure(tally, "labeled item", items, (4, 3.5 + 5.5 + 1 + 5.5), label))
    reviews = labeled[: max(1, items // 2)]

    def reviewing() -> None:
        for item_id in reviews:
            review.review_item(
                deps, project_id=project_id, actor="rita", item_id=item_id, decision="approve"
            )

    figures.append(measure(tally, "review", len(reviews), (2, 1 + 5.5), reviewing))
    big = running_project(deps, name="Export", owner="olive")
    add_items(deps, big, export_items, state=ItemState.LABELED, final={"label": "cat"})

    def export() -> None:
        options = ExportOptions()
        request_export(
            deps, project_id=big.id, actor="olive", format=ExportFormat.CSV, options=options
        )
        drain(deps)

    # Floor: the items read in pages of 1,000 (half a KB each here) and the job written twice.
    pages = math.ceil(export_items / 1000)
    reads = pages * 2.5 + export_items / 2
    floor = ((pages + 2) / export_items, (reads + 2 * 5.5) / export_items)
    figures.append(measure(tally, "export", export_items, floor, export))
    return figures


def item_size(deps: Deps) -> float:
    sizes = [
        len(json.dumps(d.body))
        for d in scan(deps.documents.container(ITEMS), None, Query(page_size=200))
        if d.body.get("state") == "labeled" and d.body.get("derivatives")
    ]
    return sum(sizes) / len(sizes) if sizes else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="100 items, a 2k export (< 1 min)")
    args = parser.parse_args()
    items, export_items = (100, 2000) if args.quick else (1000, 10_000)
    started = time.monotonic()
    tally = Tally()
    clock = ManualClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    with start_cosmos() as cosmos, start_azurite() as azurite:
        deps = build(tally, cosmos, azurite, clock)
        try:
            figures = scenario(deps, items, export_items, tally)
            document = item_size(deps)
        finally:
            deps.close()
    source = (
        "measured (x-ms-request-charge)"
        if tally.measured
        else "estimated by the published rules (the emulator's x-ms-request-charge is always 1)"
        if tally.charged
        else "estimated by the published rules"
    )
    print(f"Cosmos DB request units {source}; Service Bus messages sent")
    print(f"{'per':<16}{'requests':>10}{'floor':>8}{'RU':>10}{'floor':>8}{'messages':>10}")
    result: dict[str, float] = {}
    for figure in figures:
        scale = 10_000 if figure.name == "export" else 1
        label = "10k export" if scale > 1 else figure.name
        requests = figure.requests / figure.units * scale
        ru = figure.ru / figure.units * scale
        # An export's messages are per job, whatever its size.
        messages = figure.messages if scale > 1 else figure.messages / figure.units
        floor_requests, floor_ru = (value * scale for value in figure.floor)
        print(
            f"{label:<16}{requests:>10.1f}{floor_requests:>8.1f}{ru:>10.1f}{floor_ru:>8.1f}"
            f"{messages:>10.2f}"
        )
        key = label.replace(" ", "_")
        result |= {
            f"{key}_cosmos_requests": round(requests, 2),
            f"{key}_cosmos_requests_floor": round(floor_requests, 2),
            f"{key}_ru": round(ru, 2),
            f"{key}_ru_floor": round(floor_ru, 2),
            f"{key}_ru_ratio_to_floor": round(ru / floor_ru, 2),
            f"{key}_servicebus_messages": round(messages, 3),
        }
    print(f"item document: {document:.0f} bytes on average (labeled, with its renditions)")
    print("Cosmos requests by kind:")
    for kind, count in tally.requests.most_common(8):
        print(f"  {count:>7} {kind}")
    result |= {
        "item_document_bytes": round(document),
        "ru_measured": 1.0 if tally.measured else 0.0,
        "items": float(items),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
