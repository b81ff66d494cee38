"""The function's side of Microsoft Entra ID sign-in, called as the worker calls it: reading the platform's principal,
tying it to the caller's bearer token, the trust rule of the Entra ID routes, and key routes that never look at a
principal. The same callers behind App Service Authentication's stand-in, over HTTP: tests/test_entra.py."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import azure.functions as func
import pytest

from devhost.entra_id import (
    ADMIN_USER,
    API_CLIENT_ID,
    CALLER_APP,
    DIAGNOSE_APP,
    LOGIC_APP_IDENTITY,
    TENANT_ID,
    SigningKey,
)
from devhost.host import load_function
from shared import caller_identity
from shared.caller_access import APP_ROLES, DIAGNOSE_RUN, JOIN_URL_GET, USER_IMPERSONATION_SCOPE_ID
from shared.caller_identity import CallerPrincipal, bound_to_token, read_principal
from shared.settings import CALLER_AUTH_MODES, Settings, read_caller_auth
from shared.validation import GUID_RE
from tests.conftest import APP_ROOT, ORGANIZER_ID

ROLE_TYPE = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
OID_TYPE = "http://schemas.microsoft.com/identity/claims/objectidentifier"
TID_TYPE = "http://schemas.microsoft.com/identity/claims/tenantid"
EVERY_ROLE = [role.value for role in APP_ROLES]
ENTRA_FUNCTIONS = ("GetJoinUrlEntra", "DiagnoseEntra")
KEY_FUNCTIONS = ("GetJoinUrl", "Diagnose")


def principal_header(claims: list[tuple[str, str]], role_typ: str | None = ROLE_TYPE, auth_typ: str = "aad") -> str:
    """An X-MS-CLIENT-PRINCIPAL value of the platform's shape, written here (not by the stand-in) on purpose."""
    document: dict[str, Any] = {"auth_typ": auth_typ, "claims": [{"typ": t, "val": v} for t, v in claims]}
    if role_typ is not None:
        document |= {"name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", "role_typ": role_typ}
    return base64.b64encode(json.dumps(document).encode()).decode()


def claims_of(principal: Any, roles: list[str], role_claim: str = "roles", app_claim: str = "azp") -> list[Any]:
    return [
        (OID_TYPE, principal.object_id),
        (TID_TYPE, TENANT_ID),
        (app_claim, principal.client_id or "04b07795-8ddb-461a-bbee-02f9e1bf7b46"),
        *((role_claim, role) for role in roles),
        *([("http://schemas.microsoft.com/identity/claims/scope", "user_impersonation")] if principal.is_user else []),
    ]


def forged(principal: Any = CALLER_APP) -> dict[str, str]:
    """What a client that could reach the function would send: every role, every way roles are written."""
    claims = claims_of(principal, EVERY_ROLE) + [(ROLE_TYPE, role) for role in EVERY_ROLE]
    return {
        "x-ms-client-principal": principal_header(claims),
        "x-ms-client-principal-id": principal.object_id,
        "x-ms-client-principal-name": "attacker@contoso.example",
        "x-ms-client-principal-idp": "aad",
    }


def request(route: str, headers: dict[str, str], params: dict[str, str] | None = None) -> func.HttpRequest:
    return func.HttpRequest(
        method="GET", url=f"http://localhost:7071/api/{route}", headers=headers, params=params or {}, body=b""
    )


def answer_of(response: func.HttpResponse) -> tuple[int, Any]:
    assert response.mimetype == "application/json"
    return response.status_code, json.loads(response.get_body())


@pytest.fixture
def functions(configure) -> dict[str, Any]:
    return {name: load_function(name, APP_ROOT)[0] for name in ENTRA_FUNCTIONS + KEY_FUNCTIONS}


# --- the principal -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role_claim", ["roles", ROLE_TYPE, "http://example.com/claims/role"])
def test_roles_are_read_from_the_role_type_the_principal_names_and_from_roles(role_claim):
    role_typ = role_claim if role_claim != "roles" else ROLE_TYPE
    value = principal_header(claims_of(CALLER_APP, EVERY_ROLE, role_claim), role_typ=role_typ)
    principal = read_principal(value)
    assert principal is not None and principal.roles == frozenset(EVERY_ROLE)
    assert (principal.object_id, principal.app_id, principal.tenant_id) == (
        CALLER_APP.object_id,
        CALLER_APP.client_id,
        TENANT_ID,
    )


def test_roles_of_another_claim_type_are_not_roles():
    value = principal_header(claims_of(CALLER_APP, EVERY_ROLE, "groups"))
    assert read_principal(value).roles == frozenset()
    without_role_typ = principal_header(claims_of(CALLER_APP, EVERY_ROLE, ROLE_TYPE), role_typ=None)
    assert read_principal(without_role_typ).roles == frozenset()  # only `roles` is read then


@pytest.mark.parametrize("app_claim", ["appid", "azp"])
def test_the_callers_app_comes_from_appid_or_azp_and_the_object_id_from_either_name(app_claim):
    for oid_name in (OID_TYPE, "oid"):
        claims = [(oid_name, CALLER_APP.object_id.upper()), (app_claim, CALLER_APP.client_id), ("tid", TENANT_ID)]
        principal = read_principal(principal_header(claims))
        assert (principal.object_id, principal.app_id) == (CALLER_APP.object_id, CALLER_APP.client_id)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "not base64!",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b"[]").decode(),
        base64.b64encode(json.dumps({"claims": []}).encode()).decode(),  # no auth_typ
        principal_header(claims_of(CALLER_APP, EVERY_ROLE), auth_typ="github"),
        base64.b64encode(json.dumps({"auth_typ": "aad", "claims": "x"}).encode()).decode(),
        base64.b64encode(json.dumps({"auth_typ": "aad", "claims": [{"typ": "roles", "val": 1}]}).encode()).decode(),
        principal_header(claims_of(CALLER_APP, EVERY_ROLE)) + "," + principal_header([]),  # two headers, joined
        "A" * (caller_identity.PRINCIPAL_MAX_CHARS + 4),
    ],
)
def test_anything_but_an_entra_principal_of_the_platforms_shape_is_no_principal(value):
    assert read_principal(value) is None


def test_ids_that_are_not_guids_are_not_kept_so_no_name_reaches_a_log_line():
    claims = [(OID_TYPE, "megan.bowen@contoso.example"), ("appid", "Megan Bowen"), ("roles", "JoinUrl.Get")]
    principal = read_principal(principal_header(claims))
    assert (principal.object_id, principal.app_id) == (None, None)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def test_a_principal_counts_only_with_the_unexpired_token_it_came_from(emulator, configure):
    tenant = emulator.state.entra
    principal = read_principal(principal_header(claims_of(CALLER_APP, [JOIN_URL_GET.value])))
    now = time.time()
    assert bound_to_token(principal, bearer(tenant.issue(CALLER_APP)), now) == principal
    for authorization in (
        None,
        "",
        "Bearer",
        "Basic " + base64.b64encode(b"a:b").decode(),
        "Bearer not.a.jwt",
        bearer(tenant.issue(DIAGNOSE_APP)),  # another caller's token
        bearer(tenant.issue(CALLER_APP, issued_at=now - 7200)),  # expired an hour ago
        bearer(tenant.issue(CALLER_APP, changes={"tid": "11111111-2222-3333-4444-555555555555"})),
    ):
        assert bound_to_token(principal, authorization, now) is None, authorization
    # within the platform's five minutes of skew, as the platform lets it through
    assert bound_to_token(principal, bearer(tenant.issue(CALLER_APP, issued_at=now - 3600 - 200)), now) is not None


def test_a_principal_keeps_only_the_roles_its_token_carries(emulator, configure):
    tenant = emulator.state.entra
    claims = claims_of(DIAGNOSE_APP, EVERY_ROLE, app_claim="azp")
    principal = read_principal(principal_header(claims))
    bound = bound_to_token(principal, bearer(tenant.issue(DIAGNOSE_APP)), time.time())
    assert bound.roles == frozenset({DIAGNOSE_RUN.value})


# --- the settings and the constants ----------------------------------------------------------------------------------


def test_caller_auth_is_keys_by_default_and_refuses_anything_but_the_three_modes():
    assert Settings().caller_auth == "keys" and CALLER_AUTH_MODES == ("keys", "entra", "both")
    assert read_caller_auth({}) == "keys" and read_caller_auth({"CALLER_AUTH": " Entra "}) == "entra"
    assert Settings.from_env({"CALLER_AUTH": "both"}).caller_auth == "both"
    with pytest.raises(Exception, match="CALLER_AUTH is invalid: 'key' is not one of keys, entra, both"):
        read_caller_auth({"CALLER_AUTH": "key"})


def test_the_app_roles_and_the_scope_have_fixed_guid_ids():
    ids = [role.id for role in APP_ROLES] + [USER_IMPERSONATION_SCOPE_ID]
    assert all(GUID_RE.fullmatch(value) for value in ids) and len(set(ids)) == 3
    assert (JOIN_URL_GET.value, DIAGNOSE_RUN.value) == ("JoinUrl.Get", "Diagnose.Run")


# --- the trust rule, called as the worker calls the functions --------------------------------------------------------


@pytest.mark.parametrize("mode", CALLER_AUTH_MODES)
@pytest.mark.parametrize("platform", [None, "true", "True", "false", "1"])
@pytest.mark.parametrize("authorization", ["none", "garbage", "expired", "other caller"])
@pytest.mark.parametrize("name", ENTRA_FUNCTIONS)
def test_a_forged_principal_with_every_role_gets_no_join_url_called_directly(
    functions, configure, emulator, meeting, mode, platform, authorization, name
):
    """Past the platform (as if a client reached the function itself), a principal header holding every role,
    without the valid token it came from, gets nothing its token does not give: 404 with the route off, 500 while
    the platform does not say authentication is on, else 401, or 403 from the roles of another caller's token."""
    configure(CALLER_AUTH=mode, WEBSITE_AUTH_ENABLED=platform, WEBSITE_AUTH_CLIENT_ID=API_CLIENT_ID)
    tenant = emulator.state.entra
    tokens = {
        "none": None,
        "garbage": "Bearer eyJhbGciOiJub25lIn0.eyJvaWQiOiJ4In0.",
        "expired": bearer(tenant.issue(CALLER_APP, issued_at=time.time() - 7200)),
        "other caller": bearer(tenant.issue(DIAGNOSE_APP)),
    }
    headers = forged(DIAGNOSE_APP if authorization == "other caller" else CALLER_APP)
    if tokens[authorization] is not None:
        headers["authorization"] = tokens[authorization]
    params = {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}
    status, body = answer_of(functions[name](request("entra/x", headers, params)))
    assert "joinWebUrl" not in json.dumps(body)
    platform_on = (platform or "").lower() == "true"
    if mode == "keys":
        expected = (404, "NotFound")
    elif not platform_on:
        expected = (500, "ConfigurationError")
    elif authorization == "other caller" and name == "DiagnoseEntra":
        expected = (200, None)  # that caller's own token holds Diagnose.Run: the forged roles added nothing
    elif authorization == "other caller":
        expected = (403, "CallerRoleMissing")
    else:
        expected = (401, "Unauthenticated")
    assert (status, body.get("error", {}).get("code")) == expected
    if expected[0] != 200:
        assert emulator.state.graph_requests == [] and emulator.state.identity_requests == []


@pytest.mark.parametrize("mode", CALLER_AUTH_MODES)
def test_a_route_whose_mode_is_off_is_a_json_not_found_naming_the_routes_this_app_serves(functions, configure, mode):
    configure(CALLER_AUTH=mode, WEBSITE_AUTH_ENABLED="true")
    answers = {name: answer_of(functions[name](request("x", {}))) for name in ENTRA_FUNCTIONS + KEY_FUNCTIONS}
    off = {name for name, (status, _) in answers.items() if status == 404}
    assert off == {"keys": set(ENTRA_FUNCTIONS), "entra": set(KEY_FUNCTIONS), "both": set()}[mode]
    for name in off:
        message = answers[name][1]["error"]["message"]
        assert f"CALLER_AUTH is {mode}" in message
        assert ("/api/entra/GetJoinUrl" if mode == "entra" else "/api/GetJoinUrl") in message


def test_a_bad_caller_auth_shuts_every_route_with_a_configuration_error(functions, configure):
    configure(CALLER_AUTH="entra-and-keys", WEBSITE_AUTH_ENABLED="true")
    for name, main in functions.items():
        status, body = answer_of(main(request("x", forged())))
        assert (status, body["error"]["code"]) == (500, "ConfigurationError"), name
        assert "CALLER_AUTH" in body["error"]["message"]


def test_without_the_platform_saying_authentication_is_on_no_one_is_signed_in(functions, configure, emulator):
    configure(CALLER_AUTH="entra", WEBSITE_AUTH_ENABLED=None)
    headers = {**forged(), "authorization": bearer(emulator.state.entra.issue(CALLER_APP))}  # even a genuine token
    status, body = answer_of(functions["GetJoinUrlEntra"](request("entra/GetJoinUrl", headers)))
    assert (status, body["error"]["code"]) == (500, "ConfigurationError")
    message = body["error"]["message"]
    assert "WEBSITE_AUTH_ENABLED" in message and "App Service Authentication" in message and "keys" in message


@pytest.mark.parametrize("mode", ["keys", "both"])
def test_key_routes_never_read_a_principal_header(functions, configure, emulator, meeting, monkeypatch, mode):
    """Whatever principal a key caller sends, the key route answers as if none were sent, and never parses it."""
    configure(CALLER_AUTH=mode, WEBSITE_AUTH_ENABLED="true")

    def no_principal_here(value: str | None) -> CallerPrincipal | None:
        raise AssertionError("a key route read a principal header")

    monkeypatch.setattr("shared.caller_identity.read_principal", no_principal_here)  # where admit() finds it
    params = {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}
    with_header = answer_of(functions["GetJoinUrl"](request("GetJoinUrl", forged(), params)))
    without = answer_of(functions["GetJoinUrl"](request("GetJoinUrl", {}, params)))
    assert with_header == without and with_header[0] == 200
    assert answer_of(functions["Diagnose"](request("diagnose", forged())))[0] == 200


@pytest.mark.parametrize(
    ("caller", "route", "role"),
    [
        (DIAGNOSE_APP, "GetJoinUrlEntra", JOIN_URL_GET),
        (ADMIN_USER, "GetJoinUrlEntra", JOIN_URL_GET),
        (CALLER_APP, "DiagnoseEntra", DIAGNOSE_RUN),
        (LOGIC_APP_IDENTITY, "DiagnoseEntra", DIAGNOSE_RUN),
    ],
)
def test_caller_role_missing_names_the_role_the_command_and_when_it_arrives(
    functions, configure, emulator, caller, route, role
):
    configure(CALLER_AUTH="entra", WEBSITE_AUTH_ENABLED="True", WEBSITE_AUTH_CLIENT_ID=API_CLIENT_ID)
    token = emulator.state.entra.issue(caller)
    claims = claims_of(caller, sorted(caller.roles), app_claim="azp")
    headers = {"x-ms-client-principal": principal_header(claims), "authorization": bearer(token)}
    status, body = answer_of(functions[route](request("entra/x", headers)))
    assert (status, body["error"]["code"]) == (403, "CallerRoleMissing")
    message = body["error"]["message"]
    assert f"does not hold the app role {role.value}" in message
    assert f"`python3 scripts/grant_app_roles.py --api {API_CLIENT_ID} {caller.object_id} {role.value}`" in message
    portal = (
        "or in the Azure portal: Enterprise applications, the API, Users and groups"
        if caller.is_user
        else "the Azure portal cannot assign an app role to a managed identity"
    )
    assert portal in message
    assert "The role arrives with the caller's next token" in message
    assert ("signs in again" in message) == caller.is_user
    assert ("a managed identity's may be cached for up to 24 hours" in message) != caller.is_user
    assert ("signed-in user" in message) == caller.is_user
    assert token not in message and caller.name.split(" (")[0] not in message and "@" not in message


def test_without_the_platforms_client_id_the_command_says_what_to_fill_in(functions, configure, emulator):
    configure(CALLER_AUTH="entra", WEBSITE_AUTH_ENABLED="true", WEBSITE_AUTH_CLIENT_ID=None)
    headers = {
        "x-ms-client-principal": principal_header(claims_of(DIAGNOSE_APP, [DIAGNOSE_RUN.value])),
        "authorization": bearer(emulator.state.entra.issue(DIAGNOSE_APP)),
    }
    _, body = answer_of(functions["GetJoinUrlEntra"](request("entra/GetJoinUrl", headers)))
    assert f"--api <API client ID> {DIAGNOSE_APP.object_id} JoinUrl.Get" in body["error"]["message"]


def test_a_token_signed_by_anyone_is_not_checked_here_the_platform_checks_it(functions, configure, emulator, meeting):
    """The documented limit: past the platform, a principal with a token of the same claims signed by any key is
    taken. The signature is the platform's to check; the function only ties the principal to a token."""
    configure(CALLER_AUTH="entra", WEBSITE_AUTH_ENABLED="true")
    token = emulator.state.entra.issue(CALLER_APP, key=SigningKey.generate())
    headers = {
        "x-ms-client-principal": principal_header(claims_of(CALLER_APP, [JOIN_URL_GET.value])),
        "authorization": bearer(token),
    }
    params = {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}
    assert answer_of(functions["GetJoinUrlEntra"](request("entra/GetJoinUrl", headers, params)))[0] == 200


def test_the_app_is_the_tokens_and_a_principal_naming_another_app_is_refused(emulator, configure):
    tenant = emulator.state.entra
    token = bearer(tenant.issue(CALLER_APP))
    without_app = read_principal(principal_header([(OID_TYPE, CALLER_APP.object_id), (TID_TYPE, TENANT_ID)]))
    assert bound_to_token(without_app, token, time.time()).app_id == CALLER_APP.client_id
    claims = [(OID_TYPE, CALLER_APP.object_id), (TID_TYPE, TENANT_ID), ("appid", DIAGNOSE_APP.client_id)]
    assert bound_to_token(read_principal(principal_header(claims)), token, time.time()) is None
