"""infra/ against Azure's published Bicep types (tests/bicep_types/, checked by tests/bicep_typecheck.py): what
`bicep build` would refuse in a resource body or a module's parameters fails here, and the type data holds exactly the
resource types infra names, with where it came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .bicep import INFRA, parse
from .bicep_typecheck import TYPES_FOLDER, PublishedTypes, check_modules, check_resources, load_published

BICEP_PATHS = sorted(INFRA.rglob("*.bicep"))


@pytest.fixture(scope="module")
def published() -> dict[str, PublishedTypes]:
    return load_published()


@pytest.mark.parametrize("path", BICEP_PATHS, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_every_resource_body_fits_its_published_type(published: dict[str, PublishedTypes], path: Path) -> None:
    assert check_resources(parse(path), published) == []


def test_every_module_gets_the_parameters_its_file_declares() -> None:
    files = {file.name: file for file in map(parse, BICEP_PATHS)}
    assert check_modules(files) == []


def problems(published: dict[str, PublishedTypes], source: str) -> list[str]:
    snippet = parse(INFRA / "app" / "snippet.bicep", source.encode())
    assert not snippet.root.has_error, "the snippet must parse, or it tests the grammar instead"
    return check_resources(snippet, published)


SITE = """
resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: 'x'
  location: 'westeurope'
  properties: {
    %s
  }
}
"""
AUTH = """
resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  name: 'authsettingsV2'
  properties: {
    %s
  }
}
"""
APPLICATION = """
extension microsoftGraphV1
resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: 'x'
  displayName: 'x'
  %s
}
"""

GOOD = [
    SITE % "httpsOnly: true\n    siteConfig: {\n      minTlsVersion: '1.2'\n    }",
    AUTH % "globalValidation: {\n      unauthenticatedClientAction: x ? 'Return401' : 'Return403'\n    }",
    APPLICATION % "api: {\n    requestedAccessTokenVersion: 2\n  }\n  appRoles: [\n    {\n      value: 'A'\n    }\n  ]",
    "extension microsoftGraphV1\nresource u 'Microsoft.Graph/users@v1.0' existing = [for upn in upns: {\n"
    "  userPrincipalName: upn\n}]",
]


@pytest.mark.parametrize("source", GOOD)
def test_the_checker_passes_what_fits(published: dict[str, PublishedTypes], source: str) -> None:
    assert problems(published, source) == []


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ((SITE % "httpsOnly: true").replace("properties:", "propertes:"), "site.propertes: no such property"),
        (SITE % "httpsonly: true", "site.properties.httpsonly: no such property (did you mean httpsOnly?)"),
        (SITE % "siteConfig: {\n      ftpState: 'Disabled'\n    }", "site.properties.siteConfig.ftpState"),
        (SITE % "defaultHostName: 'x'", "site.properties.defaultHostName: read-only"),
        (SITE % "httpsOnly: 'true'", "a string where the type wants boolean"),
        (
            SITE % "functionAppConfig: {\n      scaleAndConcurrency: {\n        alwaysReady: [\n"
            "          {\n            name: 'http'\n            count: 1\n          }\n        ]\n      }\n    }",
            "alwaysReady[].count: no such property",
        ),
        (AUTH % "globalValidation: {\n      requireAuth: true\n    }", "globalValidation.requireAuth: no such"),
        (
            AUTH % "globalValidation: {\n      unauthenticatedClientAction: 'Return402'\n    }",
            "'Return402' is none of 'RedirectToLoginPage', 'AllowAnonymous', 'Return401', 'Return403'",
        ),
        (
            AUTH % "globalValidation: {\n      unauthenticatedClientAction: x ? 'Return401' : 'return401'\n    }",
            "'return401' is none of",
        ),
        (AUTH.replace("authsettingsV2", "authsettingsV3") % "", "'authsettingsV3' is none of"),
        (APPLICATION % "appId: 'x'", "app.appId: read-only"),
        (APPLICATION % "api: {\n    requestedAccessTokenVersion: '2'\n  }", "a string where the type wants integer"),
        (
            APPLICATION % "appRoles: [for r in roles: {\n    allowedMemberType: ['User']\n  }]",
            "app.appRoles[].allowedMemberType: no such property",
        ),
        (APPLICATION.replace("  displayName: 'x'\n", ""), "app.displayName: required, and missing"),
        (
            "extension microsoftGraphV1\nresource u 'Microsoft.Graph/users@v1.0' = {\n  userPrincipalName: 'a@b'\n}",
            "can only be declared `existing`",
        ),
        (
            "extension microsoftGraphV1\nresource u 'Microsoft.Graph/users@v1.0' existing = {\n"
            "  userPrincipalName: 'a@b'\n  displayName: 'A'\n}",
            "an existing resource names only what identifies it",
        ),
        ("resource s 'Microsoft.Web/sites@2099-01-01' = {\n  name: 'x'\n}", "is not in the published types"),
    ],
    ids=[
        "top-level",
        "case",
        "nested",
        "read-only",
        "literal-kind",
        "array-of-objects",
        "auth-settings",
        "literal-union",
        "ternary-branch",
        "discriminator",
        "graph-read-only",
        "graph-literal-kind",
        "for-body",
        "required",
        "read-only-resource",
        "existing-extra",
        "api-version",
    ],
)
def test_the_checker_fails_what_bicep_would_refuse(
    published: dict[str, PublishedTypes], source: str, words: str
) -> None:
    found = problems(published, source)
    assert any(words in problem for problem in found), found


def test_a_module_parameter_must_be_declared_and_a_required_one_given(tmp_path: Path) -> None:
    files = {file.name: file for file in map(parse, BICEP_PATHS)}
    main = files["main.bicep"]
    bad = main.source.replace(b"    pythonVersion: pythonVersion\n", b"    pythonVersio: pythonVersion\n", 1)
    assert bad != main.source
    files["main.bicep"] = parse(main.path, bad)
    found = check_modules(files)
    assert any("params.pythonVersio: app/api.bicep has no such parameter" in p for p in found), found
    assert any("params.pythonVersion: required by app/api.bicep, and missing" in p for p in found), found


def reachable(types: PublishedTypes) -> set[int]:
    seen: set[int] = set()
    stack = list(types.resources.values())
    while stack:
        index = stack.pop()
        if index in seen:
            continue
        seen.add(index)
        stack += [int(ref.removeprefix("#/")) for ref in refs(types.types[index])]
    return seen


def refs(value: object) -> list[str]:
    if isinstance(value, dict):
        if set(value) == {"$ref"}:
            return [value["$ref"]]
        return [ref for item in value.values() for ref in refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in refs(item)]
    return []


def test_the_type_data_holds_exactly_what_infra_uses(published: dict[str, PublishedTypes]) -> None:
    """Every resource type@version infra/ declares, and nothing that none of them reaches (keep it small: re-run
    tests/bicep_types/extract.py when infra/ changes its types)."""
    named = {resource.type for path in BICEP_PATHS for resource in parse(path).resources()}
    held = {name for types in published.values() for name in types.resources}
    assert held == named
    for name, types in published.items():
        assert reachable(types) == set(range(len(types.types))), f"{name}.json holds types no resource reaches"


def test_the_type_data_says_where_it_came_from_under_its_licence(published: dict[str, PublishedTypes]) -> None:
    readme = (TYPES_FOLDER / "README.md").read_text()
    assert "MIT License" in readme and "Copyright (c) Microsoft Corporation." in readme
    for types in published.values():
        source = types.source
        assert len(source["commit"]) == 40
        assert f"https://github.com/{source['repository']}" in readme
        assert source["commit"] in readme
        for file in source["files"]:
            assert file in readme
    config = json.loads((INFRA / "bicepconfig.json").read_text())
    assert published["microsoftgraph"].source["extension"] in config["extensions"].values()
