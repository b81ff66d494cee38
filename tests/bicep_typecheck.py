"""Resource bodies checked against Azure's published Bicep types (tests/bicep_types/), as `bicep build` checks them.

For every resource declaration, the type@apiVersion must be in the published data, and its body must fit the type:
each property name exists in the object type it sits in (nested objects, arrays of objects, both branches of a
`cond ? a : b`, the body of a `for`, the value of a variable a property names included; Microsoft.Web/sites/config
picks its type by `name`), no read-only property is written, a string, number or boolean literal has the type the
property wants, a string literal is one of the allowed values where the type is a union of literals, and an object
literal holds the required properties. An `existing` resource may name only what identifies it. Anything computed (a
parameter, a function call) is taken on trust: Bicep checks it at compile time, this does not.

The type data's format is bicep-types' (Azure/bicep-types, `src/bicep-types/src/types.ts`): `$type` ObjectType,
DiscriminatedObjectType, ArrayType, UnionType, StringLiteralType, StringType, IntegerType, BooleanType, AnyType,
ResourceType; property flags Required 1, ReadOnly 2, WriteOnly 4, DeployTimeConstant 8, Identifier 16; a resource
type's flags ReadOnly 1 (it can only be `existing`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tree_sitter import Node

from .bicep import BicepFile, body_object, is_plain_string, string_value, text, walk

TYPES_FOLDER = Path(__file__).resolve().parent / "bicep_types"
REQUIRED, READ_ONLY, IDENTIFIER = 1, 2, 16
RESOURCE_READ_ONLY = 1
# Properties of a resource declaration that are Bicep's own, not the resource type's.
BICEP_RESOURCE_KEYWORDS = frozenset({"parent", "scope", "dependsOn"})
MODULE_KEYWORDS = frozenset({"name", "scope", "params", "dependsOn"})
LITERAL_KINDS = {"string": "StringType", "number": "IntegerType", "boolean": "BooleanType"}

TypeDef = dict[str, Any]


@dataclass(frozen=True)
class PublishedTypes:
    """One type file of tests/bicep_types: resource name -> its ResourceType, and the types it reaches."""

    source: dict[str, Any]
    resources: dict[str, int]
    types: list[TypeDef]

    @classmethod
    def load(cls, path: Path) -> PublishedTypes:
        data = json.loads(path.read_text())
        resources = {name: ref_index(ref) for name, ref in data["resources"].items()}
        return cls(data["source"], resources, data["types"])

    def at(self, ref: dict[str, str]) -> TypeDef:
        return self.types[ref_index(ref)]


def ref_index(ref: dict[str, str]) -> int:
    match = re.fullmatch(r"#/(\d+)", ref["$ref"])
    assert match is not None, ref
    return int(match.group(1))


def load_published() -> dict[str, PublishedTypes]:
    """Azure's resource types and the Microsoft Graph extension's, by the name of their file."""
    return {path.stem: PublishedTypes.load(path) for path in sorted(TYPES_FOLDER.glob("*.json"))}


def types_for(resource_type: str, published: dict[str, PublishedTypes]) -> PublishedTypes:
    return published["microsoftgraph" if resource_type.startswith("Microsoft.Graph/") else "azure"]


class Checker:
    """Collects every mismatch between a file's resource bodies and their published types."""

    def __init__(self, file: BicepFile, published: dict[str, PublishedTypes]) -> None:
        self.file = file
        self.published = published
        self.types = published["azure"]
        self.problems: list[str] = []

    def problem(self, node: Node, where: str, message: str) -> None:
        self.problems.append(f"{self.file.name}:{node.start_point[0] + 1}: {where}: {message}")

    def check(self) -> list[str]:
        for resource in self.file.resources():
            name = resource.type
            if "/" not in name.split("@")[0]:
                self.problem(resource.declaration, resource.symbol, f"write the full type name, not {name}")
                continue
            self.types = types_for(name, self.published)
            if name not in self.types.resources:
                self.problem(
                    resource.declaration,
                    resource.symbol,
                    f"{name} is not in the published types of tests/bicep_types (a typo in the type or API "
                    "version, or one to add with tests/bicep_types/extract.py)",
                )
                continue
            definition = self.types.types[self.types.resources[name]]
            if definition.get("flags", 0) & RESOURCE_READ_ONLY and not resource.existing:
                self.problem(resource.declaration, resource.symbol, f"{name} can only be declared `existing`")
            self.resource_body(resource.body, definition["body"], resource.symbol, resource.existing)
        return self.problems

    def resource_body(self, node: Node, ref: dict[str, str], where: str, existing: bool) -> None:
        definition = self.types.at(ref)
        if definition["$type"] == "DiscriminatedObjectType":
            properties = self.discriminated(node, definition, where)
            if properties is None:
                return
        else:
            properties = definition["properties"]
        own = {key: value for key, value in entries(node) if key not in BICEP_RESOURCE_KEYWORDS}
        if existing:
            for key, (key_node, _) in own.items():
                flags = properties.get(key, {}).get("flags", 0)
                if key != "name" and not flags & IDENTIFIER:
                    self.problem(key_node, f"{where}.{key}", "an existing resource names only what identifies it")
            return
        self.object_entries(node, own, properties, definition.get("additionalProperties"), where)

    def discriminated(self, node: Node, definition: TypeDef, where: str) -> dict[str, Any] | None:
        """The properties of the member of a discriminated type the object literal's discriminator picks."""
        discriminator = definition["discriminator"]
        value = dict(entries(node)).get(discriminator)
        if value is None or not is_plain_string(value[1]):
            self.problem(node, where, f"{discriminator} must be a string literal: it picks the type")
            return None
        picked = string_value(value[1])
        if picked not in definition["elements"]:
            known = ", ".join(sorted(definition["elements"]))
            self.problem(value[1], f"{where}.{discriminator}", f"{picked!r} is none of {known}")
            return None
        member = self.types.at(definition["elements"][picked])
        return {**definition["baseProperties"], **member["properties"]}

    def object_entries(
        self,
        node: Node,
        entries: dict[str, tuple[Node, Node]],
        properties: dict[str, Any],
        additional: dict[str, str] | None,
        where: str,
    ) -> None:
        for key, (key_node, value) in entries.items():
            path = f"{where}.{key}"
            if key in properties:
                if properties[key]["flags"] & READ_ONLY:
                    self.problem(key_node, path, "read-only: Azure sets it")
                    continue
                self.value(value, properties[key]["type"], path)
            elif additional is not None:
                self.value(value, additional, path)
            else:
                close = [name for name in properties if name.lower() == key.lower()]
                hint = f" (did you mean {close[0]}?)" if close else ""
                self.problem(key_node, path, f"no such property{hint}")
        for name, definition in properties.items():
            if definition["flags"] & REQUIRED and not definition["flags"] & READ_ONLY and name not in entries:
                self.problem(node, f"{where}.{name}", "required, and missing")

    def value(self, node: Node, ref: dict[str, str], where: str) -> None:
        variables = self.file.variables()
        while node.type == "parenthesized_expression" or (node.type == "identifier" and text(node) in variables):
            # A variable is checked where it is used, against the type of the property it fills, as Bicep does.
            node = node.named_children[0] if node.type == "parenthesized_expression" else variables[text(node)]
        if node.type == "ternary_expression":
            for branch in node.named_children[1:]:
                self.value(branch, ref, where)
            return
        definition = self.types.at(ref)
        kind = definition["$type"]
        if kind == "ObjectType":
            if node.type == "object":
                own = dict(entries(node))
                self.object_entries(node, own, definition["properties"], definition.get("additionalProperties"), where)
            elif node.type in ("array", *LITERAL_KINDS):
                self.problem(node, where, f"expects an object ({definition.get('name')})")
        elif kind == "DiscriminatedObjectType":
            if node.type == "object":
                properties = self.discriminated(node, definition, where)
                if properties is not None:
                    self.object_entries(node, dict(entries(node)), properties, None, where)
        elif kind == "ArrayType":
            if node.type == "array":
                for item in node.named_children:
                    if item.type != "comment":
                        self.value(item, definition["itemType"], f"{where}[]")
            elif node.type == "for_statement":
                self.value(loop_body(node), definition["itemType"], f"{where}[]")
            elif node.type in ("object", *LITERAL_KINDS):
                self.problem(node, where, "expects an array")
        elif kind == "UnionType":
            self.union(node, [self.types.at(member) for member in definition["elements"]], definition, where)
        elif kind in ("StringLiteralType", "StringType", "IntegerType", "BooleanType"):
            self.scalar(node, definition, where)

    def union(self, node: Node, members: list[TypeDef], definition: TypeDef, where: str) -> None:
        if node.type in LITERAL_KINDS:
            kinds = {m["$type"] for m in members}
            if "AnyType" in kinds or LITERAL_KINDS[node.type] in kinds:
                return
            allowed = [m["value"] for m in members if m["$type"] == "StringLiteralType"]
            if node.type == "string" and allowed:
                if is_plain_string(node) and string_value(node) not in allowed:
                    self.problem(node, where, f"{string_value(node)!r} is none of {', '.join(map(repr, allowed))}")
                return
            self.problem(node, where, f"a {node.type} where the type allows {', '.join(sorted(kinds))}")
        elif node.type == "object":
            outcomes = []
            for index, member in enumerate(definition["elements"]):
                if self.types.at(member)["$type"] in ("ObjectType", "DiscriminatedObjectType"):
                    trial = Checker(self.file, self.published)
                    trial.types = self.types
                    trial.value(node, member, where)
                    outcomes.append((index, trial.problems))
            if outcomes and all(problems for _, problems in outcomes):
                self.problems.extend(outcomes[0][1])

    def scalar(self, node: Node, definition: TypeDef, where: str) -> None:
        kind = definition["$type"]
        if node.type not in LITERAL_KINDS:
            return
        wanted = "StringType" if kind == "StringLiteralType" else kind
        if LITERAL_KINDS[node.type] != wanted:
            self.problem(node, where, f"a {node.type} where the type wants {wanted.removesuffix('Type').lower()}")
            return
        if node.type == "string" and is_plain_string(node):
            value = string_value(node)
            if kind == "StringLiteralType" and value != definition["value"]:
                self.problem(node, where, f"{value!r} is not {definition['value']!r}")
            if len(value) < definition.get("minLength", 0) or len(value) > definition.get("maxLength", len(value)):
                self.problem(node, where, f"{value!r} has a length outside what the type allows")
            if "pattern" in definition and not re.search(definition["pattern"], value):
                self.problem(node, where, f"{value!r} does not match {definition['pattern']}")
        if node.type == "number":
            number = int(text(node))
            if not definition.get("minValue", number) <= number <= definition.get("maxValue", number):
                self.problem(
                    node, where, f"{number} is outside {definition.get('minValue')}..{definition.get('maxValue')}"
                )


def entries(node: Node) -> list[tuple[str, tuple[Node, Node]]]:
    """(key, (key node, value node)) of an object literal; a computed key is named by its source text."""
    found = []
    for prop in node.named_children:
        if prop.type != "object_property":
            continue
        key, value = prop.named_children[0], prop.named_children[-1]
        found.append((string_value(key) if is_plain_string(key) else text(key), (key, value)))
    return found


def loop_body(node: Node) -> Node:
    """What a `[for ...: body]` yields for each item (the object inside `if (...)` when there is one)."""
    body = node.child_by_field_name("body")
    assert body is not None, text(node)
    if body.type == "if_statement":
        return body.named_children[-1]
    return body


def check_resources(file: BicepFile, published: dict[str, PublishedTypes]) -> list[str]:
    return Checker(file, published).check()


def check_modules(files: dict[str, BicepFile]) -> list[str]:
    """A module gets only parameters its file declares, and every one without a default."""
    problems = []
    for file in files.values():
        for node in walk(file.root):
            if node.type != "module_declaration":
                continue
            symbol = text(node.named_children[0])
            target = (file.path.parent / string_value(node.named_children[1])).resolve()
            where = f"{file.name}:{node.start_point[0] + 1}: {symbol}"
            module = next((f for f in files.values() if f.path.resolve() == target), None)
            if module is None:
                problems.append(f"{where}: no file {target}")
                continue
            body = dict(entries(body_object(node)))
            problems += [f"{where}.{key}: no such module property" for key in body if key not in MODULE_KEYWORDS]
            if "params" not in body or body["params"][1].type != "object":
                continue
            given = {key for key, _ in entries(body["params"][1])}
            declared = module.params()
            problems += [f"{where}.params.{key}: {module.name} has no such parameter" for key in given - set(declared)]
            problems += [
                f"{where}.params.{key}: required by {module.name}, and missing"
                for key, default in declared.items()
                if default is None and key not in given
            ]
    return problems
