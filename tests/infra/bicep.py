"""Bicep files read with the real grammar (tree-sitter-bicep): declarations, and values as
Python data where they are literals. An expression stays an `Expr` with its source text, so a
test can still say "this property is `queue.lockDuration`"."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import tree_sitter as ts
import tree_sitter_bicep

BICEP_DIR = Path(__file__).resolve().parents[2] / "infra" / "bicep"


@dataclass(frozen=True)
class Expr:
    """A Bicep expression, kept as written."""

    text: str

    def refers_to(self, name: str) -> bool:
        return re.search(rf"(?<![\w.]){re.escape(name)}\b", self.text) is not None


@dataclass(frozen=True)
class Resource:
    symbol: str
    type: str
    api_version: str
    body: dict[str, Any]
    existing: bool = False
    loop: tuple[str, Expr] | None = None
    """(item variable, what it iterates) for a `[for x in xs: {...}]` declaration."""
    condition: Expr | None = None
    node: ts.Node | None = field(default=None, compare=False, repr=False)
    """The declaration's syntax node, for `objects_in`."""


@dataclass(frozen=True)
class Module:
    symbol: str
    path: str
    body: dict[str, Any]
    condition: Expr | None = None


@dataclass
class BicepFile:
    path: Path
    params: dict[str, Any] = field(default_factory=dict)
    """Parameter name → its default (None where it has none)."""
    variables: dict[str, Any] = field(default_factory=dict)
    variable_nodes: dict[str, ts.Node] = field(default_factory=dict)
    resources: list[Resource] = field(default_factory=list)
    modules: list[Module] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def resources_of(self, type_: str, *, existing: bool = False) -> list[Resource]:
        return [r for r in self.resources if r.type == type_ and r.existing == existing]

    def resource(self, type_: str) -> Resource:
        (found,) = self.resources_of(type_)
        return found

    def module(self, path: str) -> Module:
        (found,) = [m for m in self.modules if m.path == path]
        return found


@cache
def _parser() -> ts.Parser:
    return ts.Parser(ts.Language(tree_sitter_bicep.language()))


def syntax_errors(node: ts.Node) -> list[str]:
    """Where the grammar found an error or had to invent a missing token."""
    found = []
    if node.type == "ERROR" or node.is_missing:
        found.append(f"line {node.start_point[0] + 1}: {node.text.decode()[:60]!r}")
    for child in node.children:
        found += syntax_errors(child)
    return found


def parse_tree(path: Path) -> ts.Tree:
    return _parser().parse(path.read_bytes())


def _named(node: ts.Node) -> list[ts.Node]:
    return [child for child in node.named_children if child.type != "comment"]


def value(node: ts.Node) -> Any:
    """A literal as Python data; anything else as an `Expr`."""
    kind = node.type
    if kind == "object":
        result: dict[str, Any] = {}
        for prop in _named(node):
            if prop.type != "object_property":
                continue
            key_node, *_, value_node = _named(prop)
            key = value(key_node) if key_node.type == "string" else key_node.text.decode()
            result[key.text if isinstance(key, Expr) else str(key)] = value(value_node)
        return result
    if kind == "array":
        return [value(item) for item in _named(node)]
    if kind == "string":
        parts = _named(node)
        if any(part.type == "interpolation" for part in parts):
            return Expr(node.text.decode())
        return "".join(
            part.text.decode().encode().decode("unicode_escape")
            if part.type == "escape_sequence"
            else part.text.decode()
            for part in parts
        )
    if kind == "number":
        return int(node.text)
    if kind == "boolean":
        return node.text == b"true"
    if kind == "null":
        return None
    return Expr(node.text.decode())


def objects_in(node: ts.Node) -> Iterator[dict[str, Any]]:
    """Every object literal anywhere under `node` (e.g. inside a `concat(...)`)."""
    if node.type == "object":
        yield value(node)
    for child in node.named_children:
        yield from objects_in(child)


def _resource_body(node: ts.Node) -> tuple[dict[str, Any], tuple[str, Expr] | None, Expr | None]:
    if node.type == "object":
        return value(node), None, None
    if node.type == "if_statement":
        condition, body = _named(node)[0], _named(node)[-1]
        inner, loop, _ = _resource_body(body)
        return inner, loop, Expr(condition.text.decode())
    if node.type == "for_statement":
        parts = _named(node)
        variable, iterable, body = parts[0], parts[1], parts[-1]
        inner, _, condition = _resource_body(body)
        return inner, (variable.text.decode(), Expr(iterable.text.decode())), condition
    raise AssertionError(f"unexpected declaration body {node.type}")


@cache
def load(path: Path) -> BicepFile:
    tree = parse_tree(path)
    errors = syntax_errors(tree.root_node)
    if errors:
        raise AssertionError(f"{path} does not parse as Bicep: {errors}")
    file = BicepFile(path=path, source=path.read_text())
    for node in _named(tree.root_node):
        parts = _named(node)
        if node.type == "parameter_declaration":
            default = parts[2] if len(parts) > 2 else None
            file.params[parts[0].text.decode()] = None if default is None else value(default)
        elif node.type == "variable_declaration":
            file.variables[parts[0].text.decode()] = value(parts[-1])
            file.variable_nodes[parts[0].text.decode()] = parts[-1]
        elif node.type == "output_declaration":
            file.outputs[parts[0].text.decode()] = value(parts[-1])
        elif node.type == "resource_declaration":
            type_, _, version = str(value(parts[1])).partition("@")
            body, loop, condition = _resource_body(parts[-1])
            existing = any(child.type == "existing" for child in node.children)
            file.resources.append(
                Resource(
                    parts[0].text.decode(), type_, version, body, existing, loop, condition, node
                )
            )
        elif node.type == "module_declaration":
            body, _, condition = _resource_body(parts[-1])
            file.modules.append(
                Module(parts[0].text.decode(), str(value(parts[1])), body, condition)
            )
    return file


def all_files() -> list[Path]:
    return sorted(BICEP_DIR.rglob("*.bicep"))


def main() -> BicepFile:
    return load(BICEP_DIR / "main.bicep")


def module_file(name: str) -> BicepFile:
    return load(BICEP_DIR / "modules" / name)
