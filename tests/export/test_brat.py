"""BRAT standoff export of spans and relations, read back by a strict parser of the format as
brat's documentation defines it (no BRAT reader is installed): `annotation.conf` declares every
type used, each `T` line's text is the text at its offsets, each `R` line joins two `T`s of the
types its relation allows, and the spans and relations that went in come out."""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from core.domain.exports import ExportFormat
from core.domain.items import ItemState
from core.domain.projects import Role
from core.domain.relations import RelationClass
from core.export import bundle, loupe_jsonl
from core.export.jsonl import json_lines
from core.export.records import Imported, Options, record
from core.ports import Deps
from core.services import exports
from core.services.exports import ExportOptions
from tests.export.test_export_parts import export_job, members
from tests.support.labeling import add_items, running_project

TEXT = "Ada Lovelace met Charles\nBabbage in London ."
SPANS = [
    {"label": "Person/Named one", "start": 0, "end": 12},
    {"label": "Person/Named one", "start": 17, "end": 32},  # across the line break
    {"label": "LOC", "start": 36, "end": 42},
]
RELATIONS = [
    {"label": "met", "from": 0, "to": 17},
    {"label": "born in", "from": 0, "to": 36},
]
CLASSES = ["Person/Named one", "LOC"]
RELATION_CLASSES = (
    RelationClass(name="born in", heads=["Person/Named one"], tails=["LOC"]),
    RelationClass(name="met", directed=False),
)


@dataclass
class Conf:
    entities: list[str] = field(default_factory=list)
    relations: dict[str, tuple[set[str] | None, set[str] | None, bool]] = field(
        default_factory=dict
    )
    """type → (Arg1 types, Arg2 types; None: any entity), symmetric."""
    names: dict[str, str] = field(default_factory=dict)
    """BRAT type → Loupe name, from the comments Loupe writes."""


_TYPE = r"[A-Za-z0-9_-]+"


def parse_conf(text: str) -> Conf:
    conf = Conf()
    section = None
    for line in text.splitlines():
        if comment := re.fullmatch(rf"# ({_TYPE}) = (.+)", line):
            conf.names[comment[1]] = comment[2]
            continue
        if not line.strip() or line.startswith("#"):
            continue
        if re.fullmatch(r"\[(entities|relations|events|attributes)\]", line):
            section = line[1:-1]
            continue
        assert section is not None, f"{line!r} before any section"
        if section == "entities":
            assert re.fullmatch(_TYPE, line), line
            conf.entities.append(line)
        elif section == "relations":
            found = re.fullmatch(
                rf"({_TYPE})\s+Arg1:(\S+), Arg2:(\S+?)(, <REL-TYPE>:symmetric)?", line
            )
            assert found, line

            def types(arg: str) -> set[str] | None:
                if arg == "<ENTITY>":
                    return None
                listed = set(arg.split("|"))
                assert listed <= set(conf.entities), arg
                return listed

            conf.relations[found[1]] = (types(found[2]), types(found[3]), bool(found[4]))
        else:
            raise AssertionError(f"unexpected {section} line {line!r}")
    return conf


def parse_ann(text: str, ann: str, conf: Conf) -> dict[str, Any]:
    """A `.ann` as Loupe's value (names through the conf's comments), checked line by line."""
    spans: dict[str, dict[str, Any]] = {}
    relations = []
    for line in ann.splitlines():
        if found := re.fullmatch(rf"(T\d+)\t({_TYPE}) (\d+ \d+(?:;\d+ \d+)*)\t(.*)", line):
            key, kind, where, covered = found.groups()
            assert key not in spans and kind in conf.entities
            pieces = [tuple(map(int, piece.split())) for piece in where.split(";")]
            assert all(start < end for start, end in pieces)
            assert " ".join(text[start:end] for start, end in pieces) == covered
            assert "\n" not in covered
            label = conf.names.get(kind, kind)
            spans[key] = {"label": label, "start": pieces[0][0], "end": pieces[-1][1]}
        elif found := re.fullmatch(rf"R\d+\t({_TYPE}) Arg1:(T\d+) Arg2:(T\d+)", line):
            kind, head, tail = found.groups()
            heads, tails, _ = conf.relations[kind]
            head_type = next(k for k, n in conf.names.items() if n == spans[head]["label"])
            assert heads is None or head_type in heads
            assert tails is None or spans[tail]["label"] in {conf.names.get(t, t) for t in tails}
            label = conf.names.get(kind, kind)
            relations.append(
                {"label": label, "from": spans[head]["start"], "to": spans[tail]["start"]}
            )
        else:
            raise AssertionError(f"not a T or R line: {line!r}")
    value: dict[str, Any] = {"spans": list(spans.values())}
    return value | ({"relations": relations} if relations else {})


def text_doc(path: str, value: dict[str, Any] | None, text: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"id-{path}",
        "projectId": "p",
        "path": path,
        "kind": "text",
        "text": text,
        "state": "labeled",
        "rank": 0.5,
        "createdAt": "2026-11-01T09:00:00.000000Z",
        "updatedAt": "2026-11-01T09:00:00.000000Z",
    }
    return body | ({"final": value} if value is not None else {})


def brat_zip(options: Options, *documents: dict[str, Any]) -> dict[str, str]:
    target = bundle.Target(
        ExportFormat.BRAT,
        "text_ner",
        CLASSES,
        options,
        lambda p: p,
        "people",
        relation_classes=RELATION_CLASSES,
    )
    records = [record(document, options) for document in documents]
    out = io.BytesIO()
    bundle.write(target, lambda: iter(records), out, io.BytesIO)
    assert bundle.file_name(target) == "people-brat.zip"
    with zipfile.ZipFile(out) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


def test_spans_and_relations_come_back_from_the_standoff_files() -> None:
    files = brat_zip(
        Options(),
        text_doc("news/a.txt", {"spans": SPANS, "relations": RELATIONS}, TEXT),
        text_doc("news_a.txt", {"spans": []}, "Nothing here."),
    )
    assert sorted(files) == sorted(
        ["annotation.conf", "news_a.txt", "news_a.ann", "news_a~2.txt", "news_a~2.ann"]
    )
    conf = parse_conf(files["annotation.conf"])
    assert conf.entities == ["Person-Named_one", "LOC"]
    assert conf.relations == {
        "born_in": ({"Person-Named_one"}, {"LOC"}, False),
        "met": (None, None, True),
    }
    assert files["news_a.txt"] == TEXT
    back = parse_ann(TEXT, files["news_a.ann"], conf)
    assert back == {"spans": SPANS, "relations": RELATIONS}
    assert "T2\tPerson-Named_one 17 24;25 32\tCharles Babbage\n" in files["news_a.ann"]
    assert files["news_a~2.ann"] == ""


def test_a_tab_inside_a_span_is_left_out_as_a_line_break_is() -> None:
    text = "Ada\tLovelace"
    value = {"spans": [{"label": "LOC", "start": 0, "end": 12}]}
    files = brat_zip(Options(), text_doc("t.txt", value, text))
    assert files["t.ann"] == "T1\tLOC 0 3;4 12\tAda Lovelace\n"
    assert parse_ann(text, files["t.ann"], parse_conf(files["annotation.conf"])) == value


def test_a_class_subset_drops_the_relations_to_spans_left_out() -> None:
    files = brat_zip(
        Options(labels=("Person/Named one",)),
        text_doc("a.txt", {"spans": SPANS, "relations": RELATIONS}, TEXT),
    )
    back = parse_ann(TEXT, files["a.ann"], parse_conf(files["annotation.conf"]))
    assert back == {"spans": SPANS[:2], "relations": RELATIONS[:1]}


def test_a_split_puts_the_documents_in_train_and_validation() -> None:
    documents = [text_doc(f"d{n}.txt", {"spans": SPANS}, TEXT) for n in range(10)]
    files = brat_zip(Options(validation=0.3, seed=1), *documents)
    sides = {name.split("/")[0] for name in files if name != "annotation.conf"}
    assert sides == {"train", "validation"}
    assert sum(name.startswith("validation/") for name in files) == 2 * 3


def test_an_export_job_in_parts_is_the_one_part_zip(deps: Deps) -> None:
    project = running_project(
        deps,
        task_type="text_ner",
        classes=CLASSES,
        members={"lee": Role.LABELER},
        relationClasses=[r.to_doc() for r in RELATION_CLASSES],
    )
    value = {"spans": SPANS, "relations": RELATIONS}
    add_items(deps, project, 9, text=TEXT, state=ItemState.LABELED, final=value)
    add_items(deps, project, 3, prefix="img_", text=TEXT, state=ItemState.LABELED, final=value)
    whole, _ = export_job(deps, project.id, ExportFormat.BRAT, times=1, items=12)
    deps.export_part_items = 4
    parted, _ = export_job(deps, project.id, ExportFormat.BRAT, times=2, items=12)
    assert members(parted) == members(whole)
    _, _, body = exports.open_export(
        deps,
        project_id=project.id,
        actor="olive",
        format=ExportFormat.BRAT,
        options=ExportOptions(),
    )
    assert members(b"".join(body)) == members(whole)
    found = dict(members(whole))
    conf = parse_conf(found.pop("annotation.conf").decode())
    assert "img_000000~2.ann" in found  # `img/000000.txt` and `img_000000.txt` share a flat id
    for name, content in found.items():
        if name.endswith(".ann"):
            assert parse_ann(TEXT, content.decode(), conf) == value


def test_loupe_jsonl_carries_the_relations_and_reads_them_back() -> None:
    value = {"spans": SPANS, "relations": RELATIONS}
    document = text_doc("a.txt", value, TEXT)
    target = bundle.Target(
        ExportFormat.LOUPE_JSONL, "text_ner", CLASSES, Options(), lambda p: p, "people"
    )
    out = io.BytesIO()
    bundle.write(target, lambda: iter([record(document, Options())]), out, io.BytesIO)
    (line,) = out.getvalue().splitlines()
    assert json.loads(line)["final"] == value
    (back,) = loupe_jsonl.read_loupe_jsonl(json_lines(io.BytesIO(out.getvalue())))
    assert isinstance(back, Imported) and back.value == value
