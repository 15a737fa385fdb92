"""The shape of `core.services`, kept by reading its source: queries are named by the
repositories (which sit beside the indexes they need), writes that may lose a race go through
`core.store.update`, and ids, chance and time come from `Deps`."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "core" / "services"
DOMAIN = SERVICES.parent / "domain"
STORE = SERVICES.parent / "store"
REPOSITORIES = STORE / "repositories"
WRITE_PATH = STORE / "update.py"


def _modules() -> list[Path]:
    return sorted(SERVICES.rglob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _called(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id
        if isinstance(func, ast.Attribute):
            return func.attr
    return None


def test_services_name_queries_instead_of_spelling_document_fields() -> None:
    spelled = [
        f"{path.relative_to(SERVICES)}:{node.lineno} {_called(node)}(...)"
        for path in _modules()
        for node in ast.walk(_tree(path))
        if _called(node) in {"Where", "Order"}
    ]
    sql = [
        f"{path.relative_to(SERVICES)}:{node.lineno}"
        for path in _modules()
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and "SELECT " in node.value.upper()
    ]
    assert not spelled, f"query conditions belong in core/store/repositories: {spelled}"
    assert not sql, f"SQL belongs in the adapters: {sql}"


def _catches_stale(handler: ast.ExceptHandler) -> bool:
    names = (
        [n.id for n in ast.walk(handler.type) if isinstance(n, ast.Name)] if handler.type else []
    )
    return "PreconditionFailed" in names


def test_no_service_writes_its_own_retry_loop() -> None:
    loops = [
        f"{path.relative_to(SERVICES)}:{loop.lineno}"
        for path in _modules()
        if path != WRITE_PATH
        for loop in ast.walk(_tree(path))
        if isinstance(loop, ast.For | ast.While)
        and any(
            isinstance(node, ast.ExceptHandler) and _catches_stale(node) for node in ast.walk(loop)
        )
    ]
    assert not loops, f"read-change-write-retry loops belong to update(): {loops}"


def _draws(paths: list[Path]) -> list[str]:
    """Where `paths` draw ids, chance or the time themselves."""
    found = []
    for path in paths:
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Import):
                found += [
                    f"{path.name}: import {a.name}"
                    for a in node.names
                    if a.name in {"uuid", "random"}
                ]
            if isinstance(node, ast.ImportFrom) and node.module in {"uuid", "random"}:
                # The type of `deps.random` is no draw.
                found += [
                    f"{path.name}: from {node.module} import {a.name}"
                    for a in node.names
                    if a.name != "Random"
                ]
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and (node.value.id, node.attr) in {("time", "strftime"), ("datetime", "now")}
            ):
                found.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def test_ids_chance_and_time_come_from_deps() -> None:
    found = _draws(_modules())
    assert not found, f"use deps.ids, deps.random and deps.clock: {found}"


def test_the_domain_is_handed_ids_chance_and_time() -> None:
    found = _draws(sorted(DOMAIN.rglob("*.py")))
    assert not found, f"the domain does no I/O; pass ids, chance and time in: {found}"


LONGEST = 40
"""Lines a use case's function may have: a longer one is doing several steps (split them)."""


def test_no_use_case_runs_longer_than_a_screen() -> None:
    found = [
        f"{path.relative_to(SERVICES)}:{node.lineno} {node.name} ({length} lines)"
        for path in _modules()
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (length := (node.end_lineno or node.lineno) - node.lineno + 1) > LONGEST
    ]
    assert not found, f"split these into their steps: {found}"


def test_the_checks_see_the_services() -> None:
    """The source checks above read real modules (a moved folder must not make them pass)."""
    names = {path.name for path in _modules()}
    assert {"labeling.py", "review.py", "tasks.py", "projects.py"} <= names
    assert WRITE_PATH.exists() and (REPOSITORIES / "items.py").exists()
    assert (DOMAIN / "events.py").exists()
