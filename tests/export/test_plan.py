"""The plan of an export in parts, made in slices, decides as one pass over the items does:
the same validation set as `split.validation_keys` (a kept split's items left out, its
validation items added), the same sides, the same VOC ids as `voc.VocIds`, however the items
are cut."""

from __future__ import annotations

import random

from core.domain.exports import ExportFormat
from core.export import voc
from core.export.plan import Plan, combine, slice_of
from core.export.records import KeptSplit, Options, Record, record
from core.export.split import split_key, validation_keys

CLASSES = ["cat", "dog", "bird", "fish", "ant"]


def items(count: int, rng: random.Random) -> list[Record]:
    found = []
    for i in range(count):
        labels = rng.sample(CLASSES, rng.choice([0, 1, 1, 1, 2, 3]))
        folder = rng.choice(["a/", "a_", "b/", ""])
        suffix = rng.choice([".jpg", ".png"])
        body = {
            "id": f"{i:05d}",
            "path": f"{folder}{rng.randrange(count // 3)}{suffix}",
            "state": "labeled",
            "final": {"labels": labels} if labels else None,
        }
        found.append(record(body, Options()))
    return found


def sliced(format: ExportFormat, options: Options, recs: list[Record], rng: random.Random) -> Plan:
    cuts, at = [], 0
    while at < len(recs):
        size = rng.randint(1, 40)
        cuts.append(slice_of(format, options, recs[at : at + size]))
        at += size
    return Plan.from_bytes(combine(format, options, cuts).to_bytes())


def test_the_plan_in_slices_is_the_split_one_pass_chooses() -> None:
    rng = random.Random(3)
    recs = items(700, rng)
    kept = KeptSplit(
        validation=frozenset(r.id for r in recs[:50] if rng.random() < 0.3),
        train=frozenset(r.id for r in recs[:50]),
    )
    for fraction, seed, keep in [(0.2, 1, None), (0.35, 7, kept), (0.05, 2, None)]:
        options = Options(validation=fraction, seed=seed, kept=keep)
        plan = sliced(ExportFormat.COCO, options, recs, rng)
        new = [(r.id, r.value) for r in recs if keep is None or keep.side(r.id) is None]
        expected = validation_keys(new, fraction=fraction, seed=seed)
        kept_validation = {split_key(seed, i) for i in keep.validation} if keep else set()
        assert plan.validation.tolist() == sorted(expected | kept_validation)
        sides = [plan.split(r, options).split for r in recs]
        one_pass = [
            (keep.side(r.id) if keep else None)
            or ("validation" if split_key(seed, r.id) in expected else "train")
            for r in recs
        ]
        assert sides == one_pass
        if keep is not None:  # kept items the plan did not see (labeled again meanwhile)
            unseen = sliced(
                ExportFormat.COCO, options, [r for r in recs if r.id not in keep.train], rng
            )
            assert unseen.validation.tolist() == plan.validation.tolist()
            assert [unseen.split(r, options).split for r in recs] == one_pass


def test_the_plan_in_slices_gives_the_voc_ids_one_pass_gives() -> None:
    rng = random.Random(4)
    recs = items(600, rng)
    plan = sliced(ExportFormat.VOC, Options(), recs, rng)
    ids = voc.VocIds()
    expected = [ids.id(r.path) for r in recs]
    assert [plan.voc_id(r) for r in recs] == expected
    assert len(set(expected)) == len(recs)
    assert sum("~" in i for i in expected) == len(plan.names) > 100  # many paths meet
