"""Partial writes, as a careless or hostile owner would try them over HTTP: bad label files in
every import format (a hand-made corpus of truncated, random, empty, wrong-shape and wrong-type
files, then hypothesis' random bytes, random JSON and truncations of a good file) and bad
label-class changes. Every one must answer 4xx with a problem+json body and change nothing: not
one item, not the project. `HARDENING_FUZZ_EXAMPLES=100 make hardening` tries more."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.domain.items import ItemState, MediaFacts
from core.domain.projects import Project, Role
from core.http.app import create_app
from core.ports import Deps, Query
from core.settings import Settings
from core.store.collections import IMPORTS, ITEMS, PROJECTS, scan
from tests.support.deps import memory_deps
from tests.support.labeling import add_items, running_project, users
from tests.support.reliability import Recorder, Row

EXAMPLES = int(os.environ.get("HARDENING_FUZZ_EXAMPLES", "4")) * 10
MEDIA = MediaFacts(format="jpeg", bytes=1000, width=640, height=480)
ITEMS_N = 120
FORMATS = ("coco", "azureml_jsonl", "loupe_jsonl")


@dataclass
class Tally:
    requests: int = 0
    refused: int = 0
    server_errors: int = 0
    changed: int = 0
    kinds: set[str] = field(default_factory=set)


@dataclass
class World:
    deps: Deps
    client: TestClient
    project: Project
    tally: Tally

    def state(self) -> tuple[Any, ...]:
        """Every document a refused request could have touched, with its etag."""
        items = scan(self.deps.documents.container(ITEMS), self.project.id, Query(page_size=500))
        stored = self.deps.documents.container(PROJECTS).read(self.project.id, self.project.id)
        jobs = self.deps.documents.container(IMPORTS).count(self.project.id)
        return sorted((d.id, d.etag) for d in items), stored.etag, jobs

    def refused(self, kind: str, response: Any, before: tuple[Any, ...]) -> None:
        self.tally.requests += 1
        self.tally.kinds.add(kind)
        self.tally.server_errors += response.status_code >= 500
        self.tally.changed += self.state() != before
        assert 400 <= response.status_code < 500, (kind, response.status_code, response.text)
        assert response.headers["content-type"] == "application/problem+json", kind
        body = response.json()
        assert body["status"] == response.status_code and body["detail"], kind
        assert self.state() == before, f"{kind} changed something"
        self.tally.refused += 1

    def send(self, kind: str, fmt: str, data: bytes) -> None:
        before = self.state()
        response = self.client.post(
            f"/api/projects/{self.project.id}/imports",
            params={"format": fmt, "mode": "final"},
            content=data,
        )
        self.refused(f"import {kind}", response, before)


@pytest.fixture(scope="module")
def tally() -> Tally:
    return Tally()


@pytest.fixture
def world(tally: Tally) -> Iterator[World]:
    deps = memory_deps()
    tokens = users(deps, "olive", "lee")
    project = running_project(
        deps, task_type="image_bounding_box", classes=("cat", "dog"), members={"lee": Role.LABELER}
    )
    add_items(deps, project, ITEMS_N // 2, media=MEDIA)
    final = {"boxes": [{"label": "dog", "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}]}
    add_items(
        deps,
        project,
        ITEMS_N // 2,
        prefix="done/",
        media=MEDIA,
        state=ItemState.LABELED,
        final=final,
        annotations=[{"user": "lee", "at": deps.clock.now(), "value": final}],
    )
    app = create_app(lambda: deps, Settings(webui_dir=None, secret="s"))
    headers = {"Authorization": f"Bearer {tokens['olive']}"}
    with TestClient(app, headers=headers) as client:  # type: ignore[arg-type]
        yield World(deps, client, project, tally)


def good(fmt: str) -> bytes:
    """A file the project would take (every image boxed as a cat)."""
    paths = [f"{prefix}/{i:06d}.jpg" for prefix in ("img", "done") for i in range(ITEMS_N // 2)]
    box = {"label": "cat", "x": 0.25, "y": 0.25, "w": 0.5, "h": 0.5}
    if fmt == "coco":
        return json.dumps(
            {
                "images": [
                    {"id": i, "file_name": p, "width": 640, "height": 480}
                    for i, p in enumerate(paths)
                ],
                "annotations": [
                    {"id": i, "image_id": i, "category_id": 1, "bbox": [160, 120, 320, 240]}
                    for i in range(len(paths))
                ],
                "categories": [{"id": 1, "name": "cat"}],
            }
        ).encode()
    if fmt == "azureml_jsonl":
        corners = {"topX": 0.25, "topY": 0.25, "bottomX": 0.75, "bottomY": 0.75}
        lines = [{"image_url": p, "label": [{"label": "cat", **corners}]} for p in paths]
    else:
        lines = [{"path": p, "final": {"boxes": [box]}} for p in paths]
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def truncated(whole: bytes, fraction: float) -> bytes:
    """`whole` cut inside a line (a cut between lines leaves a good, shorter file)."""
    at = int(len(whole) * fraction)
    while at > 0 and b"\n" in (whole[at - 1 : at], whole[at : at + 1]):
        at -= 1
    return whole[:at]


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def corpus(fmt: str) -> dict[str, bytes]:
    """The bad files people bring, hand-made: each must be refused whole."""
    whole = good(fmt)
    lines = whole.splitlines(keepends=True)
    files = {
        "empty": b"",
        "whitespace": b" \n\n\t\n",
        "random bytes": bytes(range(256)) * 8,
        "utf-16": whole.decode().encode("utf-16"),
        "bom and garbage": b"\xef\xbb\xbf}{",
        "a json list": b"[1, 2, 3]\n",
        "a json string": b'"labels"\n',
        "not a zip": b"PK\x03\x04 but nothing of a zip",
        "a zip without jsonl": zipped({"MLTable": b"paths: []"}),
        "a zip with a broken jsonl": zipped({"data.jsonl": whole[: whole.index(b"}") + 1]}),
        "nested 100k deep": b'{"images": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
        "a 5000-digit number": b'{"path": ' + b"9" * 5000 + b"}\n",
        "truncated at 10%": truncated(whole, 0.1),
        "truncated at 99%": truncated(whole, 0.99),
        "NaN inside": whole.replace(b"0.25", b"NaN", 1).replace(b"160", b"NaN", 1),
    }
    if fmt == "coco":
        doc = json.loads(whole)
        wrong: dict[str, Any] = {
            "images not a list": {**doc, "images": {"id": 1}},
            "image id a float": {**doc, "images": [{**doc["images"][0], "id": 1.5}]},
            "file_name a number": {**doc, "images": [{**doc["images"][0], "file_name": 7}]},
            "no width": {**doc, "images": [{"id": 0, "file_name": "img/000000.jpg"}]},
            "bbox of 3": {**doc, "annotations": [{**doc["annotations"][0], "bbox": [1, 2, 3]}]},
            "bbox of strings": {
                **doc,
                "annotations": [{**doc["annotations"][0], "bbox": ["1", "2", "3", "4"]}],
            },
            "unknown category": {**doc, "categories": [{"id": 2, "name": "cat"}]},
            "category not a class": {**doc, "categories": [{"id": 1, "name": "zebra"}]},
            "unknown image": {**doc, "annotations": [{**doc["annotations"][0], "image_id": 999}]},
            "score of 7": {**doc, "annotations": [{**doc["annotations"][0], "score": 7}]},
            "box off the image": {
                **doc,
                "annotations": [{**doc["annotations"][0], "bbox": [600, 400, 320, 240]}],
            },
            "duplicate file": {**doc, "images": [*doc["images"], {**doc["images"][0], "id": 9e3}]},
            "matches nothing": {
                **doc,
                "images": [{**i, "file_name": "x/" + i["file_name"]} for i in doc["images"]],
            },
        }
        files |= {name: json.dumps(value).encode() for name, value in wrong.items()}
    else:
        record = json.loads(lines[0])
        key = "label" if fmt == "azureml_jsonl" else "final"
        path = "image_url" if fmt == "azureml_jsonl" else "path"
        wrong_lines: dict[str, Any] = {
            "path a number": {**record, path: 7},
            "labels a string": {**record, key: "cat"},
            "labels a number": {**record, key: 3},
            "an unknown class": json.loads(json.dumps(record).replace('"cat"', '"zebra"')),
            "coordinates as strings": json.loads(json.dumps(record).replace("0.25", '"0.25"')),
            "pixels instead of fractions": json.loads(json.dumps(record).replace("0.75", "480")),
            "a path twice": None,
            "matches nothing": {**record, path: "elsewhere/" + record[path]},
        }
        for name, bad in wrong_lines.items():
            changed = [json.dumps(bad).encode() + b"\n" if bad is not None else lines[0]]
            if name == "matches nothing":
                files[name] = b"".join(changed)
            else:  # one bad line past the first batch of 100 good ones (line 121)
                files[name] = b"".join([*lines[:1], *lines[1:], *changed])
    return files


@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_import_files_are_refused_whole(world: World, fmt: str) -> None:
    for name, data in corpus(fmt).items():
        world.send(f"{fmt}: {name}", fmt, data)
    good_response = world.client.post(
        f"/api/projects/{world.project.id}/imports",
        params={"format": fmt, "mode": "final"},
        content=good(fmt),
    )
    assert good_response.status_code == 200 and good_response.json()["updated"] == ITEMS_N


_json = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(fmt=st.sampled_from(FORMATS), data=st.binary(max_size=2048))
def test_random_bytes_are_refused(world: World, fmt: str, data: bytes) -> None:
    world.send("random bytes", fmt, data)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(fmt=st.sampled_from(FORMATS), values=st.lists(_json, min_size=1, max_size=5))
def test_random_json_is_refused(world: World, fmt: str, values: list[Any]) -> None:
    if fmt == "coco":
        data = json.dumps({"images": values[0], "annotations": values[1:]}).encode()
    else:
        data = b"".join(json.dumps(v).encode() + b"\n" for v in values)
    world.send("random json", fmt, data)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(fmt=st.sampled_from(FORMATS), cut=st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_truncated_files_are_refused(world: World, fmt: str, cut: float) -> None:
    world.send("truncated", fmt, truncated(good(fmt), cut))


def test_bad_class_changes_are_refused_whole(world: World) -> None:
    base = f"/api/projects/{world.project.id}"
    rename, add = f"{base}/label-classes/rename", f"{base}/label-classes/add"
    keep = {"existingLabels": "keep"}
    running = [
        ("add while running", add, {"classes": [{"name": "fox"}], **keep}),
        ("rename while running", rename, {"from": "cat", "to": "kitten"}),
    ]
    for kind, url, body in running:
        before = world.state()
        world.refused(kind, world.client.post(url, json=body), before)
    world.client.post(f"{base}/pause").raise_for_status()
    paused = [
        ("rename to an existing class", rename, {"from": "cat", "to": "dog"}),
        ("rename of an unknown class", rename, {"from": "zebra", "to": "horse"}),
        ("rename to a bad name", rename, {"from": "cat", "to": "a//b"}),
        ("add an existing class", add, {"classes": [{"name": "dog"}], **keep}),
        ("add an empty list", add, {"classes": [], **keep}),
        ("add a bad name", add, {"classes": [{"name": " fox"}], **keep}),
        ("add without saying what to keep", add, {"classes": [{"name": "fox"}]}),
        ("set classes removing one", f"{base}/label-classes", [{"name": "cat"}]),
    ]
    for kind, url, body in paused:
        before = world.state()
        method = world.client.put if url.endswith("label-classes") else world.client.post
        headers = {"If-Match": world.client.get(base).headers.get("ETag", "*")}
        world.refused(kind, method(url, json=body, headers=headers), before)
    started = world.client.post(rename, json={"from": "cat", "to": "kitten"})
    assert started.status_code == 200, started.text
    before = world.state()
    second = world.client.post(rename, json={"from": "dog", "to": "puppy"})
    world.refused("a second change while the first rewrites items", second, before)
    lee = world.client.post(
        add,
        json={"classes": [{"name": "fox"}], **keep},
        headers={"Authorization": "Bearer nobody"},
    )
    world.refused("a change by a stranger", lee, before)


def test_zz_record(tally: Tally, reliability: Recorder) -> None:
    assert tally.requests > 0
    assert (tally.server_errors, tally.changed) == (0, 0)
    reliability.record(
        Row(
            suite="Security: partial writes",
            test="imports and class changes",
            load=f"one owner over HTTP, a project of {ITEMS_N} items (half labeled)",
            inputs=(
                f"{len(tally.kinds)} kinds of bad request: truncated, random, empty, wrong-shape "
                "and wrong-type files in COCO, Azure ML JSONL (and zips) and Loupe JSONL, bad "
                "records past the first batch of 100, unknown classes, unmatched paths; random "
                "bytes, random JSON and truncations (hypothesis); bad renames and additions, a "
                "second change during a rewrite, a stranger"
            ),
            result={
                "attempts": tally.requests,
                "answered 4xx": tally.refused,
                "items changed by refused requests": tally.changed,
                "5xx": tally.server_errors,
            },
        )
    )
