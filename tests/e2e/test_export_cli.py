"""`loupe export` and `loupe import` as a user runs them against `loupe serve`: an export job
run by the embedded runtime's workers and downloaded by its signed link, labels imported back,
and a streamed download of them."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

from tests.e2e.test_embedded_runtime import TOKEN_LINE, wait_until_running
from tests.support.servers import LOUPE, start_loupe


def loupe(token: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOUPE_")}
    done = subprocess.run(
        [str(LOUPE), *args],
        env=env | {"LOUPE_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_export_job_import_and_streamed_export(tmp_path: Path) -> None:
    server = start_loupe(tmp_path / "data")
    try:
        url, token = server.wait_for(TOKEN_LINE).groups()
        demo = wait_until_running(server, token)
        coco = tmp_path / "demo.json"
        common = ("--server", url)
        loupe(
            token,
            "export",
            demo["id"],
            "--format",
            "coco",
            "--state",
            "unlabeled",
            "--job",
            "--out",
            str(coco),
            *common,
        )
        data = json.loads(coco.read_text())
        assert len(data["images"]) == 12 and data["annotations"] == []
        paths = sorted(image["file_name"] for image in data["images"])
        labels = tmp_path / "labels.jsonl"
        lines = [
            {"path": p, "final": {"label": p.rsplit("/", 1)[-1].split("-")[0]}} for p in paths[:3]
        ]
        lines.append({"path": "missing.png", "final": {"label": "circle"}})
        labels.write_text("".join(json.dumps(line) + "\n" for line in lines))
        out = loupe(
            token,
            "import",
            demo["id"],
            str(labels),
            "--format",
            "loupe_jsonl",
            "--mode",
            "final",
            *common,
        )
        assert (
            "3 item(s) updated" in out
            and "match no item of the project, skipped:\n    missing.png" in out
        )
        loupe(token, "export", demo["id"], "--format", "csv", "--out", str(tmp_path), *common)
        (table,) = tmp_path.glob("*.csv")
        rows = list(csv.DictReader(table.open()))
        assert sorted((r["path"], r["labels"]) for r in rows) == sorted(
            (line["path"], line["final"]["label"]) for line in lines[:3]
        )
    finally:
        server.stop()
