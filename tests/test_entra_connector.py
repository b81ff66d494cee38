"""The connector variant whose connection signs in with Microsoft Entra ID: derived from the key definition by the one
helper the OpenApi function serves it with, committed for file import, and served per CALLER_AUTH mode."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import azure.functions as func
import pytest
from openapi_spec_validator import OpenAPIV2SpecValidator, validate

from devhost.host import load_function, route_pattern
from shared.openapi import ENTRA_SECURITY_NAME, entra_variant
from tests.conftest import APP_ROOT

CONNECTOR = APP_ROOT / "connector"
KEYS: dict[str, Any] = json.loads((CONNECTOR / "apiDefinition.swagger.json").read_text(encoding="utf-8"))
ENTRA_FILE = CONNECTOR / "entra" / "apiDefinition.swagger.json"
ENTRA_PROPERTIES: dict[str, Any] = json.loads((CONNECTOR / "entra" / "apiProperties.json").read_text(encoding="utf-8"))
KEY_PROPERTIES: dict[str, Any] = json.loads((CONNECTOR / "apiProperties.json").read_text(encoding="utf-8"))


def test_the_committed_file_is_the_helpers_variant_of_the_key_definition():
    sys.path.insert(0, str(CONNECTOR))
    try:
        import entra_variant as writer
    finally:
        sys.path.remove(str(CONNECTOR))
    assert ENTRA_FILE.read_text(encoding="utf-8") == writer.text(), "run: python3 connector/entra_variant.py"


def test_the_variant_differs_from_the_key_definition_only_in_how_callers_get_in():
    entra = entra_variant(KEYS)
    validate(entra, cls=OpenAPIV2SpecValidator)
    assert entra["basePath"] == "/api/entra" and entra["info"]["title"] == "GetJoinUrl (Entra ID)"
    scheme = entra["securityDefinitions"][ENTRA_SECURITY_NAME]
    assert scheme["type"] == "oauth2" and scheme["flow"] == "accessCode" and scheme["scopes"] == {}
    assert scheme["authorizationUrl"] == "https://login.windows.net/common/oauth2/authorize"
    assert scheme["tokenUrl"] == "https://login.windows.net/common/oauth2/token"
    assert entra["security"] == [{ENTRA_SECURITY_NAME: []}] and "x-functions-key" not in json.dumps(entra)
    for path, item in entra["paths"].items():
        for method, operation in item.items():
            key_operation = KEYS["paths"][path][method]
            responses = dict(operation["responses"])
            assert "401" in responses and "schema" not in responses["401"]  # the platform's 401 has no JSON body
            assert "CallerRoleMissing" in responses["403"]["description"]
            assert responses.pop("403")["description"].startswith(key_operation["responses"]["403"]["description"])
            del responses["401"]
            assert responses == {k: v for k, v in key_operation["responses"].items() if k != "403"}
            assert {k: v for k, v in operation.items() if k != "responses"} == {
                k: v for k, v in key_operation.items() if k != "responses"
            }
    same = {"info", "basePath", "securityDefinitions", "security", "paths"}
    assert {k: v for k, v in entra.items() if k not in same} == {k: v for k, v in KEYS.items() if k not in same}
    assert json.loads((CONNECTOR / "apiDefinition.swagger.json").read_text()) == KEYS  # the helper copies


def test_the_variants_paths_are_the_entra_functions_routes():
    routes = {}
    for name in ("GetJoinUrlEntra", "DiagnoseEntra"):
        bindings = json.loads((APP_ROOT / name / "function.json").read_text())["bindings"]
        [trigger] = [b for b in bindings if b["type"] == "httpTrigger"]
        assert trigger["authLevel"] == "anonymous"  # App Service Authentication guards it, not a key
        routes[name] = route_pattern(trigger["route"])
    base = entra_variant(KEYS)["basePath"].removeprefix("/api/")
    for path in KEYS["paths"]:
        assert routes["GetJoinUrlEntra"].fullmatch(f"{base}{path}"), path
    assert routes["DiagnoseEntra"].fullmatch("entra/diagnose")
    assert not route_pattern("GetJoinUrl/{action?}").fullmatch("entra/GetJoinUrl")


def test_the_entra_connection_signs_in_with_the_aad_identity_provider():
    parameters = ENTRA_PROPERTIES["properties"]["connectionParameters"]
    assert set(parameters) == {"token"} and parameters["token"]["type"] == "oauthSetting"
    settings = parameters["token"]["oAuthSettings"]
    assert settings["identityProvider"] == "aad"
    custom = settings["customParameters"]
    # What the published apiProperties schema allows for aad: resourceUri (required), loginUri, tenantId, each a value.
    assert "resourceUri" in custom and set(custom) <= {"resourceUri", "loginUri", "tenantId"}
    assert all(set(value) == {"value"} and isinstance(value["value"], str) for value in custom.values())
    assert settings["scopes"] == [f"{custom['resourceUri']['value']}/user_impersonation"]
    assert custom["loginUri"]["value"] == "https://login.microsoftonline.com"
    # The published schema knows only Global and Direct; Global is the shared redirect Microsoft retires for new
    # connectors, so the file names none and connector/README.md says how to switch to the per-connector one.
    assert "redirectMode" not in settings and "redirectUrl" not in settings
    assert "clientSecret" not in settings  # Power Platform keeps the secret; it is never in a file
    shared = {k: v for k, v in ENTRA_PROPERTIES["properties"].items() if k != "connectionParameters"}
    assert shared == {k: v for k, v in KEY_PROPERTIES["properties"].items() if k != "connectionParameters"}


# --- served per mode --------------------------------------------------------------------------------------------


@pytest.fixture
def serve(configure, monkeypatch) -> Callable[..., func.HttpResponse]:
    entry, _ = load_function("OpenApi", APP_ROOT)
    monkeypatch.setenv("WEBSITE_HOSTNAME", "contoso-join.azurewebsites.net")

    def get(mode: str, params: dict[str, str] | None = None, **headers: str) -> func.HttpResponse:
        configure(CALLER_AUTH=mode)
        url = "https://contoso-join.azurewebsites.net/api/openapi.json"
        return entry(func.HttpRequest(method="GET", url=url, headers=headers, params=params or {}, body=b""))

    return get


def served(response: func.HttpResponse) -> dict[str, Any]:
    assert response.status_code == 200 and response.headers["Cache-Control"].startswith("public")
    return json.loads(response.get_body())


@pytest.mark.parametrize(
    ("mode", "asked", "base_path"),
    [
        ("keys", None, "/api"),
        ("keys", "keys", "/api"),
        ("entra", None, "/api/entra"),
        ("entra", "entra", "/api/entra"),
        ("both", None, "/api"),
        ("both", "keys", "/api"),
        ("both", "entra", "/api/entra"),
    ],
)
def test_the_app_serves_the_variant_of_its_mode(serve, mode, asked, base_path):
    body = served(serve(mode, {"auth": asked} if asked else None, host="evil.example", **{"x-forwarded-host": "x"}))
    assert body["basePath"] == base_path and body["host"] == "contoso-join.azurewebsites.net"
    expected = entra_variant(KEYS) if base_path == "/api/entra" else KEYS
    assert body == {**expected, "host": "contoso-join.azurewebsites.net"}


@pytest.mark.parametrize(
    ("mode", "asked", "status"), [("keys", "entra", 404), ("entra", "keys", 404), ("both", "x", 400)]
)
def test_a_variant_the_mode_does_not_serve_is_refused(serve, mode, asked, status):
    response = serve(mode, {"auth": asked})
    assert response.status_code == status and response.headers["Cache-Control"] == "no-store"
    error = json.loads(response.get_body())["error"]
    assert error["code"] == ("NotFound" if status == 404 else "InvalidRequest")
    if status == 404:
        assert f"CALLER_AUTH is {mode}" in error["message"]
