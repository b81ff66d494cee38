"""Re-makes azure.json and microsoftgraph.json beside this file from clones of Azure's published Bicep types.

    python tests/bicep_types/extract.py <Azure/bicep-types-az clone> <commit> \\
        <microsoftgraph/msgraph-bicep-types clone> <commit>

It reads the repositories' files at the commits given (git show, so any clone with those commits will do), takes the
resource types that infra/**/*.bicep names, and keeps each with every type reachable from it: nothing else. What it
changes (README.md beside this file says why): the types of a source are renumbered into one array in the order they
are reached, `$ref`s follow, and description texts are dropped.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
INFRA = HERE.parent.parent / "infra"
RESOURCE_TYPE = re.compile(r"^\s*resource\s+\w+\s+'([^'@]+)@([^']+)'", re.MULTILINE)
GRAPH_EXTENSION = "br:mcr.microsoft.com/bicep/extensions/microsoftgraph/"


def git_show(repository: Path, commit: str, path: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repository), "show", f"{commit}:{path}"], capture_output=True, text=True, check=True
    ).stdout


def git_files(repository: Path, commit: str, folder: str) -> list[str]:
    listed = subprocess.run(
        ["git", "-C", str(repository), "ls-tree", "-r", "--name-only", commit, folder],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return listed.splitlines()


def infra_resource_types() -> set[str]:
    """Every type@apiVersion a resource declaration in infra/ names."""
    found = set()
    for path in INFRA.rglob("*.bicep"):
        found |= {f"{name}@{version}" for name, version in RESOURCE_TYPE.findall(path.read_text())}
    return found


def subset(sources: Iterable[tuple[str, list[Any], str]]) -> tuple[dict[str, dict[str, str]], list[Any]]:
    """(resource name, types array of its file, index there) -> the resources' entries and the types they reach,
    renumbered into one array."""
    kept: list[Any] = []
    numbers: dict[tuple[int, int], int] = {}  # (source file, index there) -> index in `kept`
    files: dict[int, list[Any]] = {}

    def visit(file: int, index: int) -> int:
        key = (file, index)
        if key not in numbers:
            numbers[key] = len(kept)
            kept.append(None)
            kept[numbers[key]] = copy(files[file][index], file)
        return numbers[key]

    def copy(value: Any, file: int) -> Any:
        if isinstance(value, dict):
            if set(value) == {"$ref"}:
                match = re.fullmatch(r"#/(\d+)", value["$ref"])
                if match is None:
                    raise ValueError(f"a reference outside its file: {value['$ref']}")
                return {"$ref": f"#/{visit(file, int(match.group(1)))}"}
            return {k: copy(v, file) for k, v in value.items() if not (k == "description" and isinstance(v, str))}
        if isinstance(value, list):
            return [copy(item, file) for item in value]
        return value

    resources = {}
    file_ids: dict[int, int] = {}
    for name, types, index in sorted(sources, key=lambda source: source[0]):
        file = file_ids.setdefault(id(types), len(file_ids))
        files[file] = types
        resources[name] = {"$ref": f"#/{visit(file, int(index))}"}
    return resources, kept


def azure(repository: Path, commit: str, wanted: set[str]) -> dict[str, Any]:
    """bicep-types-az keeps each namespace and API version in generated/<folder>/<namespace>/<version>/types.json;
    where two folders define the same type@version, the first in lower-case path order wins, as Azure/bicep-types'
    index builder has it."""
    all_files = sorted(git_files(repository, commit, "generated"), key=str.lower)
    loaded: dict[str, list[Any]] = {}
    sources = []
    for name in sorted(wanted):
        namespace, version = name.split("/")[0].lower(), name.split("@")[1]
        candidates = [f for f in all_files if f.lower().endswith(f"/{namespace}/{version}/types.json")]
        for path in candidates:
            types = loaded.setdefault(path, json.loads(git_show(repository, commit, path)))
            found = [i for i, t in enumerate(types) if t.get("$type") == "ResourceType" and t.get("name") == name]
            if found:
                sources.append((name, types, str(found[0]), path))
                break
        else:
            raise SystemExit(f"{name} is in none of {candidates}")
    resources, types = subset((name, t, index) for name, t, index, _ in sources)
    return {
        "source": {
            "repository": "Azure/bicep-types-az",
            "commit": commit,
            "files": sorted({path for *_, path in sources}),
        },
        "resources": resources,
        "types": types,
    }


def microsoft_graph(repository: Path, commit: str, wanted: set[str]) -> dict[str, Any]:
    """msgraph-bicep-types keeps each release of the extension in generated/microsoftgraph/microsoft.graph/<channel>/
    <version>/, with an index.json of its resources; infra/bicepconfig.json names the release."""
    config = json.loads((INFRA / "bicepconfig.json").read_text())
    [reference] = [v for v in config["extensions"].values() if v.startswith(GRAPH_EXTENSION)]
    channel, version = reference.removeprefix(GRAPH_EXTENSION).split(":")
    folder = f"generated/microsoftgraph/microsoft.graph/{channel}/{version}"
    index = json.loads(git_show(repository, commit, f"{folder}/index.json"))
    types = json.loads(git_show(repository, commit, f"{folder}/types.json"))
    sources = []
    for name in sorted(wanted):
        file, _, number = index["resources"][name]["$ref"].partition("#/")
        assert file == "types.json", file
        sources.append((name, types, number))
    resources, kept = subset(sources)
    return {
        "source": {
            "repository": "microsoftgraph/msgraph-bicep-types",
            "commit": commit,
            "files": [f"{folder}/index.json", f"{folder}/types.json"],
            "extension": reference,
        },
        "resources": resources,
        "types": kept,
    }


def main(argv: list[str]) -> None:
    azure_repository, azure_commit, graph_repository, graph_commit = argv
    wanted = infra_resource_types()
    graph = {name for name in wanted if name.startswith("Microsoft.Graph/")}
    for file_name, data in (
        ("azure.json", azure(Path(azure_repository), azure_commit, wanted - graph)),
        ("microsoftgraph.json", microsoft_graph(Path(graph_repository), graph_commit, graph)),
    ):
        (HERE / file_name).write_text(dump(data))


def dump(data: dict[str, Any]) -> str:
    """JSON with one type a line: small, and a new API version shows as lines added and removed."""
    head = json.dumps({k: v for k, v in data.items() if k != "types"}, indent=1, sort_keys=True)
    types = ",\n".join(f"  {json.dumps(t, sort_keys=True)}" for t in data["types"])
    return f'{head[:-2]},\n "types": [\n{types}\n ]\n}}\n'


if __name__ == "__main__":
    main(sys.argv[1:])
