"""Bicep read with tree-sitter-bicep, for tests that check infra/ without a Bicep compiler.

The grammar predates the `extension` statement that Bicep 0.30+ requires for the Microsoft Graph extension (the older
`provider`/`import` forms are gone from Bicep). Before parsing, a line that is exactly `extension <alias>` is blanked
out (same length, so positions stay) and its alias recorded; tests/test_infra.py checks each alias against
infra/bicepconfig.json. Nothing else is masked. The grammar knows lambdas (`filter`, `map`), for-expressions and
resource loops, and parses `.?` as if it were `.`: infra/ does without `.?`. Without an ERROR node, it misreads a call
that is the first item of an array in an object (`{ a: [deployer().objectId] }` reads as the identifier `deployer`,
then `().objectId`): infra/ names such a value with a variable first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import tree_sitter_bicep
from tree_sitter import Language, Node, Parser

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
EXTENSION_LINE = re.compile(rb"^[ \t]*extension[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]*$", re.MULTILINE)
PARSER = Parser(Language(tree_sitter_bicep.language()))


@dataclass
class Resource:
    symbol: str
    type: str
    existing: bool
    body: Node  # the object literal (inside `if (...)` or `[for ...]` when there is one)
    declaration: Node


@dataclass
class BicepFile:
    path: Path
    source: bytes  # after masking extension lines
    root: Node
    extensions: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.relative_to(INFRA).as_posix() if self.path.is_relative_to(INFRA) else self.path.name

    def declarations(self, kind: str) -> Iterator[Node]:
        return (child for child in self.root.named_children if child.type == kind)

    def decorators(self, param: str) -> dict[str, list[Node]]:
        """A parameter's decorators: name -> argument nodes (`@allowed([...])` -> [the array])."""
        [node] = [n for n in self.declarations("parameter_declaration") if text(n.named_children[0]) == param]
        found: dict[str, list[Node]] = {}
        previous = node.prev_named_sibling
        if previous is not None and previous.type == "decorators":
            for decorator in previous.named_children:
                call = decorator.named_children[0]
                function, arguments = call.child_by_field_name("function"), call.child_by_field_name("arguments")
                assert function is not None and arguments is not None
                found[text(function)] = arguments.named_children
        return found

    def params(self) -> dict[str, Node | None]:
        """Parameter name -> default value node (None when the parameter has no default)."""
        found = {}
        for node in self.declarations("parameter_declaration"):
            named = node.named_children
            found[text(named[0])] = named[2] if len(named) > 2 else None
        return found

    def variables(self) -> dict[str, Node]:
        return {text(n.named_children[0]): n.named_children[1] for n in self.declarations("variable_declaration")}

    def outputs(self) -> dict[str, Node]:
        return {text(n.named_children[0]): n.named_children[-1] for n in self.declarations("output_declaration")}

    def resources(self) -> list[Resource]:
        """Every resource declaration, nested ones included."""
        return [
            Resource(
                symbol=text(node.named_children[0]),
                type=string_value(node.named_children[1]),
                existing=any(child.type == "existing" for child in node.children),
                body=body_object(node),
                declaration=node,
            )
            for node in walk(self.root)
            if node.type == "resource_declaration"
        ]

    def modules(self) -> dict[str, tuple[str, Node]]:
        """Module symbol -> (path relative to infra/, body object)."""
        found = {}
        for node in self.declarations("module_declaration"):
            path = (self.path.parent / string_value(node.named_children[1])).resolve().relative_to(INFRA)
            found[text(node.named_children[0])] = (path.as_posix(), body_object(node))
        return found


def parse(path: Path, source: bytes | None = None) -> BicepFile:
    """A .bicep file (or `source` given as if it were that file), with its extension lines masked."""
    raw = path.read_bytes() if source is None else source
    aliases = [m.decode() for m in EXTENSION_LINE.findall(raw)]
    masked = EXTENSION_LINE.sub(lambda m: b" " * len(m.group(0)), raw)
    return BicepFile(path, masked, PARSER.parse(masked).root_node, aliases)


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def text(node: Node) -> str:
    return (node.text or b"").decode()


def is_plain_string(node: Node) -> bool:
    """A string literal without interpolation."""
    return node.type == "string" and not any(c.type == "interpolation" for c in node.named_children)


def string_value(node: Node) -> str:
    """The value of a string literal without interpolation."""
    assert node.type == "string", f"expected a string literal, got {node.type}: {text(node)}"
    assert is_plain_string(node), f"interpolated: {text(node)}"
    return text(node)[1:-1]


def body_object(declaration: Node) -> Node:
    for node in walk(declaration.named_children[-1]):
        if node.type == "object":
            return node
    raise AssertionError(f"no object body in {text(declaration)[:80]}")


def props(obj: Node) -> dict[str, Node]:
    """Key -> value node of an object literal's own properties."""
    assert obj.type == "object", f"expected an object literal, got {obj.type}: {text(obj)[:80]}"
    found = {}
    for prop in obj.named_children:
        if prop.type != "object_property":
            continue
        key, value = prop.named_children[0], prop.named_children[-1]
        found[string_value(key) if key.type == "string" else text(key)] = value
    return found


def literal(node: Node) -> object:
    """Python value of a literal string, number or boolean."""
    if node.type == "string":
        return string_value(node)
    if node.type == "number":
        return int(text(node))
    if node.type == "boolean":
        return text(node) == "true"
    raise AssertionError(f"not a literal: {text(node)}")


def evaluate(node: Node, file: BicepFile, names: Mapping[str, object]) -> object:
    """The value of an expression made of literals, arrays, `==`, `!=`, `&&`, `||`, `!`, `cond ? a : b`, lambdas and
    a few functions (concat, contains, empty, filter, join, map, split, trim, union), with `names` for parameters and
    anything else named by its source text (a module's output), and the file's variables for the rest: enough to see
    what a template computes without a Bicep compiler. Anything else raises."""
    kind = node.type
    if text(node) in names:
        return names[text(node)]
    if kind in ("string", "number", "boolean"):
        return literal(node)
    if kind == "parenthesized_expression":
        return evaluate(node.named_children[0], file, names)
    if kind == "array":
        return [evaluate(item, file, names) for item in node.named_children if item.type != "comment"]
    if kind == "identifier":
        return evaluate(file.variables()[text(node)], file, names)
    if kind == "ternary_expression":
        condition, consequence, alternative = node.named_children
        return evaluate(consequence if evaluate(condition, file, names) else alternative, file, names)
    if kind == "unary_expression" and text(node.children[0]) == "!":
        return not evaluate(node.named_children[0], file, names)
    if kind == "binary_expression":
        left, right = (evaluate(side, file, names) for side in node.named_children)
        operators = {"==": left == right, "!=": left != right, "&&": bool(left and right), "||": bool(left or right)}
        return operators[text(node.children[1])]
    if kind == "call_expression":
        function, arguments = node.child_by_field_name("function"), node.child_by_field_name("arguments")
        assert function is not None and arguments is not None
        return call(text(function), arguments.named_children, file, names)
    raise AssertionError(f"cannot evaluate {kind}: {text(node)[:80]}")


def call(function: str, arguments: list[Node], file: BicepFile, names: Mapping[str, object]) -> object:
    if function in ("filter", "map"):
        items = evaluate(arguments[0], file, names)
        assert isinstance(items, list)
        lambda_ = arguments[1]
        assert lambda_.type == "lambda_expression", text(lambda_)
        parameter, body = lambda_.named_children
        results = [evaluate(body, file, {**names, text(parameter): item}) for item in items]
        return [item for item, kept in zip(items, results, strict=True) if kept] if function == "filter" else results
    values = [evaluate(argument, file, names) for argument in arguments]
    if function == "concat":
        return [item for value in values for item in cast(list[object], value)]
    if function == "union":
        merged: list[object] = []
        for value in values:
            merged += [item for item in cast(list[object], value) if item not in merged]
        return merged
    if function == "contains":
        return values[1] in cast(list[object], values[0])
    if function == "empty":
        return not values[0]
    if function == "split":
        return cast(str, values[0]).split(cast(str, values[1]))
    if function == "trim":
        return cast(str, values[0]).strip()
    if function == "join":
        return cast(str, values[1]).join(cast(list[str], values[0]))
    raise AssertionError(f"cannot evaluate {function}()")
