"""Fifty labelers at once on ten thousand items, through the HTTP API of a real `loupe serve`:
no item is ever handed to two labelers, no answer is lost, and the counts come out exact."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.domain.projects import Role
from tests.support.deps import local_deps
from tests.support.labeling import add_items, running_project, users
from tests.support.servers import LoupeProcess, start_loupe

LABELERS = 50
ITEMS = 10_000
CLASSES = ("cat", "dog", "bird")


def choice(item_id: str) -> str | None:
    """What a simulated labeler answers: a label, or None to skip (about one in ten)."""
    digest = int(hashlib.sha256(item_id.encode()).hexdigest()[:8], 16)
    return None if digest % 10 == 0 else CLASSES[digest % 3]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[LoupeProcess, str, dict[str, str]]]:
    deps = local_deps(tmp_path)
    names = [f"labeler{n:02d}" for n in range(LABELERS)]
    tokens = users(deps, "olive", *names)
    project = running_project(
        deps, owner="olive", members=dict.fromkeys(names, Role.LABELER), classes=CLASSES
    )
    add_items(deps, project, ITEMS)
    deps.close()
    process = start_loupe(tmp_path, "--no-demo")
    try:
        process.wait_for("Loupe is running")
        yield process, project.id, tokens
    finally:
        assert process.stop() == 0


@pytest.mark.slow
def test_fifty_labelers_ten_thousand_items(
    server: tuple[LoupeProcess, str, dict[str, str]],
) -> None:
    process, project_id, tokens = server
    base = f"{process.url}/api/projects/{project_id}"
    received: dict[str, list[str]] = {}
    answered: dict[str, Counter[str]] = {}
    failures: list[str] = []

    def work(name: str) -> None:
        mine: list[str] = []
        tally: Counter[str] = Counter()
        headers = {"Authorization": f"Bearer {tokens[name]}"}
        with httpx.Client(headers=headers, timeout=60) as http:
            while True:
                task = http.post(f"{base}/tasks/next", json={"size": 9})
                if task.status_code != 200:
                    failures.append(f"{name} next: {task.status_code} {task.text}")
                    return
                ids = [item["id"] for item in task.json()["items"]]
                if not ids:
                    break
                mine += ids
                answers = []
                for item_id in ids:
                    label = choice(item_id)
                    if label is None:
                        skipped = http.post(f"{base}/items/{item_id}/skip", json={})
                        if skipped.status_code != 200:
                            failures.append(f"{name} skip: {skipped.text}")
                        tally["(skipped)"] += 1
                    else:
                        answers.append({"itemId": item_id, "value": {"label": label}})
                        tally[label] += 1
                if answers:
                    done = http.post(f"{base}/annotations", json={"answers": answers})
                    if done.status_code != 200:
                        failures.append(f"{name} submit: {done.status_code} {done.text}")
        received[name] = mine
        answered[name] = tally

    threads = [threading.Thread(target=work, args=(name,)) for name in tokens if name != "olive"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    everything = [item_id for ids in received.values() for item_id in ids]
    assert len(everything) == ITEMS  # every item handed out exactly once:
    assert len(set(everything)) == ITEMS  # never to two labelers
    expected = Counter(choice(item_id) or "(skipped)" for item_id in everything)
    owner = {"Authorization": f"Bearer {tokens['olive']}"}
    board = httpx.get(f"{base}/dashboard", headers=owner, timeout=60).json()
    assert board["states"] == {
        "unlabeled": 0,
        "labeled": ITEMS - expected["(skipped)"],
        "skipped": expected["(skipped)"],
        "needs_review": 0,
        "error": 0,
    }
    assert board["queue"]["in_progress"] == 0
    assert board["labels"] == {label: expected[label] for label in CLASSES}
    per_labeler = {p["user"]: p for p in board["labelers"]}
    for name, tally in answered.items():
        assert per_labeler[name]["submitted"] == sum(tally.values()) - tally["(skipped)"]
        assert per_labeler[name]["skipped"] == tally["(skipped)"]
