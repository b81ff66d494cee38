"""Callers signed in with Microsoft Entra ID, end to end over real HTTP: tokens from the emulator's Entra ID (the
tenant's issuer, signing with RS256), App Service Authentication's stand-in configured per mode as infra configures
it, the dev host honouring AzureWebJobs.<name>.Disabled, and the functions loaded as the worker loads them."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization

from devhost.__main__ import mode_settings
from devhost.easy_auth import ROLE_TYPE, AppServiceAuthentication, AuthSettings
from devhost.emulator import GraphEmulator
from devhost.emulator.state import Fault, Meeting
from devhost.entra_id import (
    ADMIN_USER,
    API_APP_ID_URI,
    API_CLIENT_ID,
    AZURE_CLI_CLIENT_ID,
    CALLER_APP,
    DIAGNOSE_APP,
    LOGIC_APP_IDENTITY,
    TENANT_ID,
    UNASSIGNED_APP,
    Principal,
    SigningKey,
    issuer,
    tenant_signing_key,
)
from devhost.host import is_disabled, serve
from tests.conftest import APP_ROOT, ORGANIZER_ID, ORGANIZER_UPN, serving

OTHER_TENANT = "11111111-2222-4333-8444-555555555555"
CLIENT_REQUEST_ID = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"


@dataclass
class Stack:
    mode: str
    api: str  # http://127.0.0.1:<port>/api
    front: AppServiceAuthentication | None


@pytest.fixture
def stack(configure, emulator) -> Iterator[Callable[..., Stack]]:
    """The dev host in a CALLER_AUTH mode, behind App Service Authentication's stand-in where infra turns it on."""
    servers = ExitStack()

    def start(mode: str, **options: Any) -> Stack:
        off = {"WEBSITE_AUTH_ENABLED": None, "WEBSITE_AUTH_CLIENT_ID": None, "WEBSITE_AUTH_OPENID_ISSUER": None}
        configure(**off, **mode_settings(mode))
        front = None
        if mode != "keys":
            front = AppServiceAuthentication(AuthSettings.as_infra_writes(mode), emulator.base_url, **options).start()
            configure(**front.platform_variables())
        server = servers.enter_context(serving(serve("127.0.0.1", 0, front=front)))
        return Stack(mode, f"http://127.0.0.1:{server.server_address[1]}/api", front)

    with servers:
        yield start


def token_for(emulator: GraphEmulator, principal: Principal = CALLER_APP, **options: Any) -> str:
    return emulator.state.entra.issue(principal, **options)


def signed_in(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def by_id(meeting: Meeting) -> dict[str, str]:
    return {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}


def no_graph_call(emulator: GraphEmulator) -> bool:
    return emulator.state.graph_requests == [] and emulator.state.identity_requests == []


# --- what a caller with the role gets -------------------------------------------------------------------------------


def calls(meeting: Meeting) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path under GetJoinUrl, requests' keyword arguments): answers, errors and a batch."""
    return [
        ("GET", "", {"params": by_id(meeting), "headers": {"client-request-id": CLIENT_REQUEST_ID}}),
        ("POST", "", {"json": {"joinUrl": meeting.teams_link}, "headers": {"Accept-Language": "fr-FR"}}),
        (
            "POST",
            "/batch",
            {
                "json": {
                    "meetings": [
                        by_id(meeting),
                        {"meetingId": "../x"},
                        {"joinMeetingId": "123 456 789 012", "organizerId": ORGANIZER_UPN},
                    ]
                }
            },
        ),
        ("GET", "", {"params": {"meetingId": "../x", "organizerId": ORGANIZER_ID}}),
        ("GET", "", {"params": {"meetingId": "MSpub3RoZXJl", "organizerId": ORGANIZER_ID}}),
        ("GET", "/b4tch", {"params": by_id(meeting)}),
        ("POST", "", {"data": b"{not json", "headers": {"Content-Type": "application/json"}}),
    ]


def answers(base: str, meeting: Meeting, emulator: GraphEmulator, headers: dict[str, str]) -> list[Any]:
    """Each call's status, JSON, the headers a caller reads, and Graph's request-id present or not; one more call
    that Graph throttles, so its 429 and Retry-After come through as well."""
    seen = []
    for method, path, options in calls(meeting):
        options = {**options, "headers": {**options.get("headers", {}), **headers}}
        answer = requests.request(method, f"{base}/GetJoinUrl{path}", timeout=10, **options)
        kept = {name: answer.headers.get(name) for name in ("Content-Type", "Cache-Control", "Retry-After")}
        sent_id = options["headers"].get("client-request-id")
        kept["client-request-id"] = answer.headers["client-request-id"] if sent_id else "(made)"
        seen.append((answer.status_code, answer.json(), kept, "request-id" in answer.headers))
    emulator.state.graph_faults.append(Fault(status=429, retry_after="60"))
    throttled = requests.get(f"{base}/GetJoinUrl", params=by_id(meeting), headers=headers, timeout=10)
    seen.append((throttled.status_code, throttled.json(), throttled.headers.get("Retry-After")))
    return seen


@pytest.mark.parametrize("mode", ["entra", "both"])
def test_a_caller_with_the_role_gets_exactly_what_a_key_caller_gets(stack, emulator, meeting, mode):
    entra = stack(mode)
    signed = answers(f"{entra.api}/entra", meeting, emulator, signed_in(token_for(emulator)))
    keys = stack("keys")
    by_key = answers(keys.api, meeting, emulator, {"x-functions-key": "key"})
    assert [answer[0] for answer in signed] == [200, 200, 200, 400, 404, 404, 400, 429]
    assert signed[2][1]["results"][0]["joinWebUrl"] == meeting.appointment_url
    assert signed[-1][2] == "60"
    # the unknown action's message names the route it came to, the only difference
    not_found = signed[5][1]["error"]
    assert "/api/entra/GetJoinUrl/batch" in not_found["message"]
    not_found["message"] = not_found["message"].replace("/api/entra/", "/api/")
    assert signed == by_key


def test_in_both_modes_the_key_routes_stay_as_they_were(stack, emulator, meeting):
    both = stack("both")
    answer = requests.get(f"{both.api}/GetJoinUrl", params=by_id(meeting), timeout=10)  # excluded from sign-in
    assert answer.status_code == 200 and answer.json()["joinWebUrl"] == meeting.appointment_url
    assert requests.get(f"{both.api}/diagnose", timeout=10).status_code == 200


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("principal", [CALLER_APP, LOGIC_APP_IDENTITY])
@pytest.mark.parametrize("audience", [API_APP_ID_URI, API_CLIENT_ID])
def test_v1_and_v2_tokens_with_either_audience_sign_in(stack, emulator, meeting, logs, version, principal, audience):
    """Entra ID issues v1 tokens (issuer sts.windows.net, the audience asked for, the app in appid) unless the API
    asks for v2 (issuer login.microsoftonline.com/.../v2.0, the client ID as audience, the app in azp)."""
    entra = stack("entra")
    token = token_for(emulator, principal, version=version, resource=audience)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == issuer(version) and ("appid" if version == 1 else "azp") in claims
    assert claims["aud"] == (audience if version == 1 else API_CLIENT_ID)
    answer = requests.get(f"{entra.api}/entra/GetJoinUrl", params=by_id(meeting), headers=signed_in(token), timeout=10)
    assert answer.status_code == 200, answer.text
    [line] = [r.getjoinurl for r in logs.records if getattr(r, "getjoinurl", {}).get("event") == "invocation"]
    assert (line["callerObjectId"], line["callerAppId"]) == (principal.object_id, principal.client_id)


@pytest.mark.parametrize("api_version", [None, 2])
def test_tokens_from_the_token_endpoint_sign_in_as_the_api_asks(stack, emulator, meeting, api_version):
    """The API's requestedAccessTokenVersion decides the version, whichever endpoint or audience the caller used."""
    emulator.state.entra.api_token_version = api_version
    entra = stack("entra")
    for scope in (f"{API_APP_ID_URI}/.default", f"{API_CLIENT_ID}/.default"):
        token = fetch_token(emulator, CALLER_APP, scope)
        assert jwt.decode(token, options={"verify_signature": False})["ver"] == ("2.0" if api_version else "1.0")
        answer = requests.get(f"{entra.api}/entra/GetJoinUrl", params=by_id(meeting), headers=signed_in(token))
        assert answer.status_code == 200, answer.text


def fetch_token(emulator: GraphEmulator, principal: Principal, scope: str) -> str:
    if principal.is_user:
        form = {"client_id": AZURE_CLI_CLIENT_ID, "username": principal.username, "password": principal.password}
        form["grant_type"] = "password"
    else:
        form = {"client_id": principal.client_id, "client_secret": principal.secret, "grant_type": "client_credentials"}
    answer = requests.post(f"{emulator.base_url}/{TENANT_ID}/oauth2/v2.0/token", data={**form, "scope": scope})
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


@pytest.mark.parametrize(
    ("form", "status", "code"),
    [
        ({"client_id": UNASSIGNED_APP.client_id, "client_secret": UNASSIGNED_APP.secret}, 400, 501051),
        ({"client_id": CALLER_APP.client_id, "client_secret": "wrong"}, 401, 7000215),
        ({"client_id": "00000000-0000-4000-8000-000000000000", "client_secret": "x"}, 401, 700016),
        ({"client_id": CALLER_APP.client_id, "client_secret": CALLER_APP.secret, "scope": "api://other/.default"}, 400,
         500011),
        ({"grant_type": "password", "client_id": CALLER_APP.client_id, "username": ADMIN_USER.username,
          "password": ADMIN_USER.password}, 400, 65001),
        ({"grant_type": "password", "client_id": AZURE_CLI_CLIENT_ID, "username": ADMIN_USER.username,
          "password": "wrong"}, 400, 50126),
    ],
)  # fmt: skip
def test_the_token_issuer_refuses_as_entra_id_does(emulator, configure, form, status, code):
    """Assignment is required on the API: a principal with no role gets no token at all."""
    sent = {"grant_type": "client_credentials", "scope": f"{API_APP_ID_URI}/.default", **form}
    answer = requests.post(f"{emulator.base_url}/{TENANT_ID}/oauth2/v2.0/token", data=sent, timeout=10)
    assert (answer.status_code, answer.json()["error_codes"]) == (status, [code])
    assert answer.json()["error_description"].startswith(f"AADSTS{code}: ")
    assert "access_token" not in answer.json()


def test_the_tenant_publishes_its_keys_and_issuers_as_entra_id_does(emulator, configure):
    v2 = requests.get(f"{emulator.base_url}/{TENANT_ID}/v2.0/.well-known/openid-configuration", timeout=10).json()
    v1 = requests.get(f"{emulator.base_url}/{TENANT_ID}/.well-known/openid-configuration", timeout=10).json()
    assert (v2["issuer"], v1["issuer"]) == (issuer(2), issuer(1))
    keys = requests.get(v2["jwks_uri"], timeout=10).json()["keys"]
    [key] = [k for k in keys if k["kid"] == tenant_signing_key().kid]
    public = jwt.PyJWK(key).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = jwt.decode(token_for(emulator), public, algorithms=["RS256"], audience=API_CLIENT_ID, issuer=issuer(2))
    assert claims["roles"] == ["JoinUrl.Get"] and claims["tid"] == TENANT_ID


# --- no valid token: the platform's 401, no join URL -----------------------------------------------------------------


def tampered(token: str) -> str:
    """The payload changed after signing: every role added."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["JoinUrl.Get", "Diagnose.Run"]
    changed = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{changed}.{signature}"


def unsigned(emulator: GraphEmulator, algorithm: str) -> str:
    """A token of the right claims but no RS256 signature: `none`, or HS256 keyed with the tenant's public key."""
    claims = jwt.decode(token_for(emulator), options={"verify_signature": False})
    public = (
        tenant_signing_key()
        .private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = {"alg": algorithm, "typ": "JWT", "kid": tenant_signing_key().kid}
    encode = lambda part: base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")  # noqa: E731
    signing_input = f"{encode(header)}.{encode(claims)}"
    if algorithm == "none":
        return f"{signing_input}."
    import hmac

    signature = hmac.new(public, signing_input.encode(), "sha256").digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"


NOW = time.time()
INVALID_TOKENS: dict[str, tuple[Callable[[GraphEmulator], str | None], str]] = {
    "none": (lambda e: None, "no bearer token"),
    "empty": (lambda e: "Bearer ", "no bearer token"),
    "basic": (lambda e: "Basic " + base64.b64encode(b"user:pass").decode(), "no bearer token"),
    "not a JWT": (lambda e: "Bearer abc.def.ghi", "not a JWT"),
    "a key the tenant does not publish": (
        lambda e: "Bearer " + token_for(e, key=SigningKey.generate()),
        "not one the tenant publishes",
    ),
    "signed by another key under the tenant's key ID": (
        lambda e: "Bearer " + token_for(e, key=SigningKey(SigningKey.generate().private, tenant_signing_key().kid)),
        "Signature verification failed",
    ),
    "tampered": (lambda e: "Bearer " + tampered(token_for(e, principal=DIAGNOSE_APP)), "Signature verification"),
    "alg none": (lambda e: "Bearer " + unsigned(e, "none"), "algorithm 'none'"),
    "alg HS256 with the public key": (lambda e: "Bearer " + unsigned(e, "HS256"), "algorithm 'HS256'"),
    "expired": (lambda e: "Bearer " + token_for(e, issued_at=time.time() - 7200), "token expired"),
    "expired past the clock skew": (
        lambda e: "Bearer " + token_for(e, issued_at=time.time() - 3600 - 301),
        "token expired",
    ),
    "not yet valid": (lambda e: "Bearer " + token_for(e, issued_at=time.time() + 600), "not yet valid"),
    "another audience": (lambda e: "Bearer " + token_for(e, changes={"aud": "api://another-api"}), "Audience"),
    "another app's client ID as audience": (
        lambda e: "Bearer " + token_for(e, changes={"aud": "00000003-0000-0000-c000-000000000000"}),
        "Audience",
    ),
    "another tenant's issuer": (
        lambda e: "Bearer " + token_for(e, changes={"iss": issuer(2, OTHER_TENANT)}),
        "Invalid issuer",
    ),
    "another cloud's issuer": (
        lambda e: "Bearer " + token_for(e, changes={"iss": f"https://login.microsoftonline.us/{TENANT_ID}/v2.0"}),
        "Invalid issuer",
    ),
    "another tenant": (lambda e: "Bearer " + token_for(e, changes={"tid": OTHER_TENANT}), "not allowed"),
    "no expiry": (lambda e: "Bearer " + token_for(e, changes={"exp": None}), 'missing the "exp" claim'),
}
ENTRA_CALLS = [
    ("GET", "entra/GetJoinUrl"),
    ("POST", "entra/GetJoinUrl/batch"),
    ("GET", "entra/diagnose"),
    ("GET", "ENTRA/GETJOINURL"),
    ("GET", "entra//GetJoinUrl"),
]
# Paths as sent, which requests would normalize: dot segments, escapes, double slashes, a query naming a route.
RAW_PATHS = [
    "/api/openapi.json/../entra/GetJoinUrl",
    "/api/GetJoinUrl/../entra/GetJoinUrl",
    "/api/GetJoinUrl/batch/../../entra/GetJoinUrl",
    "/api/entra/./GetJoinUrl",
    "/api/entra/%2e%2e/entra/GetJoinUrl",
    "/api/entra%2FGetJoinUrl",
    "/api/%65ntra/GetJoinUrl",
    "//api/entra/GetJoinUrl",
    "/api/openapi.json?/api/entra/GetJoinUrl",
    "/api/GetJoinUrl?x=/api/entra/GetJoinUrl",
    "/API/Entra/GetJoinUrl/BATCH",
    "/api/entra/diagnose/",
]


@pytest.mark.parametrize("mode", ["entra", "both"])
@pytest.mark.parametrize("case", INVALID_TOKENS)
def test_no_valid_token_is_the_platforms_401_and_no_join_url(stack, emulator, meeting, mode, case):
    entra = stack(mode)
    make, why = INVALID_TOKENS[case]
    authorization = make(emulator)
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in ENTRA_CALLS:
        body = {"meetings": [by_id(meeting)]} if method == "POST" else None
        answer = requests.request(method, f"{entra.api}/{path}", params=by_id(meeting), json=body, headers=headers)
        assert answer.status_code == 401, (path, answer.text)
        assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="')
        assert "joinWebUrl" not in answer.text and "json" not in answer.headers["Content-Type"]
        assert why in entra.front.refusals[-1], entra.front.refusals[-1]
    assert no_graph_call(emulator)


def raw_get(api: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """GET with the path exactly as given (http.client sends it as it is)."""
    host, port = api.removeprefix("http://").split("/")[0].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


@pytest.mark.parametrize("mode", ["entra", "both"])
def test_no_spelling_of_a_path_reaches_a_join_url_without_a_valid_token(stack, emulator, meeting, mode):
    """Case, dot segments, escapes, double slashes and queries, with no token and with a forged principal: the
    platform's 401, or a 404 or an answer of a route that gives no join URL; Graph is never asked."""
    entra = stack(mode)
    forged = {"X-MS-CLIENT-PRINCIPAL": forged_principal("roles"), "Authorization": "Bearer abc.def.ghi"}
    for path in RAW_PATHS:
        for headers in ({}, forged):
            status, body = raw_get(entra.api, path, headers)
            assert b"visit.teams.microsoft.com" not in body, path  # a join URL's host
            assert status in (400, 401, 404) or path.startswith("/api/openapi.json"), (path, status, body[:200])
    assert emulator.graph_calls() == []


def test_no_path_the_platform_leaves_open_is_the_start_of_an_entra_route():
    """Microsoft does not spell out how excludedPaths match: compared whole, by prefix, in any case, no excluded
    path of any mode covers /api/entra/...."""
    for mode in ("entra", "both"):
        for excluded in AuthSettings.as_infra_writes(mode).excluded_paths:
            for route in ("/api/entra/GetJoinUrl", "/api/entra/GetJoinUrl/batch", "/api/entra/diagnose"):
                assert not route.lower().startswith(excluded.lower().rstrip("/")), (excluded, route)


@pytest.mark.parametrize("seconds", [-3600 - 299, 299])
def test_the_platforms_clock_skew_is_allowed(stack, emulator, meeting, seconds):
    """Five minutes either way, as the platform's token library allows: expired 299 s ago, or valid in 299 s."""
    entra = stack("entra")
    token = token_for(emulator, issued_at=time.time() + seconds)
    answer = requests.get(f"{entra.api}/entra/GetJoinUrl", params=by_id(meeting), headers=signed_in(token))
    assert answer.status_code == 200, entra.front.refusals


def test_expiry_follows_the_platforms_clock_not_the_wall(stack, emulator, meeting):
    """An injected clock: a token valid now is expired once the platform's clock is past exp plus the skew."""
    now = [time.time()]
    entra = stack("entra", clock=lambda: now[0])
    token = token_for(emulator)
    assert requests.get(f"{entra.api}/entra/GetJoinUrl", params=by_id(meeting), headers=signed_in(token)).ok
    now[0] += 3600 + 301
    answer = requests.get(f"{entra.api}/entra/GetJoinUrl", params=by_id(meeting), headers=signed_in(token))
    assert answer.status_code == 401 and entra.front.refusals[-1] == "token expired"


# --- signed in, without the role: 403 -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["entra", "both"])
@pytest.mark.parametrize(
    "caller",
    [
        DIAGNOSE_APP,  # an app holding only Diagnose.Run
        ADMIN_USER,  # a user with the delegated scope, and Diagnose.Run
        Principal("A user with the scope and no role", "8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d", frozenset(),
                  username="adele@contoso.example", password="x"),
    ],
    ids=["diagnose-only app", "admin user", "scope only"],
)  # fmt: skip
def test_a_signed_in_caller_without_the_role_gets_caller_role_missing(stack, emulator, meeting, mode, caller):
    entra = stack(mode)
    headers = signed_in(token_for(emulator, caller))
    single = requests.get(f"{entra.api}/entra/GetJoinUrl", params=by_id(meeting), headers=headers)
    batch = requests.post(f"{entra.api}/entra/GetJoinUrl/batch", json={"meetings": [by_id(meeting)]}, headers=headers)
    for answer in (single, batch):
        assert answer.status_code == 403 and answer.headers["Content-Type"].startswith("application/json")
        error = answer.json()["error"]
        assert error["code"] == "CallerRoleMissing"
        assert f"--api {API_CLIENT_ID} {caller.object_id} JoinUrl.Get" in error["message"]
    assert no_graph_call(emulator)


def test_diagnose_wants_diagnose_run_and_an_admin_with_it_runs_it(stack, emulator, meeting):
    entra = stack("entra")
    refused = requests.get(f"{entra.api}/entra/diagnose", headers=signed_in(token_for(emulator, CALLER_APP)))
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "CallerRoleMissing")
    assert "Diagnose.Run" in refused.json()["error"]["message"]
    admin = fetch_token(emulator, ADMIN_USER, f"{API_APP_ID_URI}/user_impersonation")
    answer = requests.get(f"{entra.api}/entra/diagnose", params=by_id(meeting), headers=signed_in(admin))
    assert answer.status_code == 200 and answer.json()["ok"] is True


# --- forged principals ---------------------------------------------------------------------------------------------


def forged_principal(roles_as: str) -> str:
    claims = [
        {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": CALLER_APP.object_id},
        {"typ": "http://schemas.microsoft.com/identity/claims/tenantid", "val": TENANT_ID},
        {"typ": "azp", "val": CALLER_APP.client_id},
    ] + [{"typ": roles_as, "val": role} for role in ("JoinUrl.Get", "Diagnose.Run")]
    document = {"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": ROLE_TYPE}
    return base64.b64encode(json.dumps(document).encode()).decode()


@pytest.mark.parametrize("mode", ["keys", "entra", "both"])
@pytest.mark.parametrize("token", ["none", "garbage", "expired", "another caller's"])
@pytest.mark.parametrize("spelling", ["X-MS-CLIENT-PRINCIPAL", "x-ms-client-principal", "X-Ms-Client-Principal"])
def test_a_forged_principal_with_every_role_gets_no_join_url_from_any_entra_route(
    stack, emulator, meeting, mode, token, spelling
):
    entra = stack(mode)
    authorization = {
        "none": None,
        "garbage": "Bearer abc.def.ghi",
        "expired": "Bearer " + token_for(emulator, issued_at=time.time() - 7200),
        "another caller's": "Bearer " + token_for(emulator, DIAGNOSE_APP),
    }[token]
    for roles_as in ("roles", ROLE_TYPE):
        headers = {
            spelling: forged_principal(roles_as),
            "X-MS-CLIENT-PRINCIPAL-ID": CALLER_APP.object_id,
            "X-MS-CLIENT-PRINCIPAL-IDP": "aad",
            "X-MS-CLIENT-PRINCIPAL-NAME": "someone@contoso.example",
        }
        if authorization is not None:
            headers["Authorization"] = authorization
        for method, path in ENTRA_CALLS[:3]:
            body = {"meetings": [by_id(meeting)]} if method == "POST" else None
            answer = requests.request(method, f"{entra.api}/{path}", params=by_id(meeting), json=body, headers=headers)
            assert "joinWebUrl" not in answer.text
            expected = {"keys": 404, "entra": 401, "both": 401}[mode]
            if token == "another caller's" and mode != "keys":
                expected = 200 if path.endswith("diagnose") else 403  # that caller's own token, its own roles
            assert answer.status_code == expected, (path, answer.text)
    assert emulator.graph_calls() == [] or token == "another caller's"


def test_the_stand_in_strips_every_platform_header_a_client_sends(stack, emulator, meeting, monkeypatch):
    """Behind the stand-in the function sees only the principal the platform made from the token."""
    seen: list[dict[str, str]] = []
    from shared import caller_access

    admit = caller_access.admit

    def spy(door: Any, headers: Any, invocation: Any) -> None:
        seen.append(dict(headers))
        admit(door, headers, invocation)

    monkeypatch.setattr("shared.http.admit", spy)
    entra = stack("both")
    headers = {
        **signed_in(token_for(emulator, DIAGNOSE_APP)),
        "X-MS-CLIENT-PRINCIPAL": forged_principal("roles"),
        "X-MS-CLIENT-PRINCIPAL-NAME": "forged",
        "X-MS-TOKEN-AAD-ACCESS-TOKEN": "forged",
        "x-ms-client-anything": "forged",
    }
    requests.get(f"{entra.api}/entra/GetJoinUrl", params=by_id(meeting), headers=headers)
    requests.get(f"{entra.api}/GetJoinUrl", params=by_id(meeting), headers=headers)  # excluded: stripped all the same
    assert len(seen) == 2
    assert all("forged" not in json.dumps(each) for each in seen)
    principal = json.loads(base64.b64decode(seen[0]["x-ms-client-principal"]))
    assert {c["val"] for c in principal["claims"] if c["typ"] == "roles"} == {"Diagnose.Run"}
    assert seen[0]["x-ms-client-principal-id"] == DIAGNOSE_APP.object_id and seen[0]["x-ms-client-principal-idp"]
    assert not any(name.startswith("x-ms-client") for name in seen[1])


@pytest.mark.parametrize("roles_claim", ["roles", ROLE_TYPE])
def test_roles_passed_either_way_sign_in(stack, emulator, meeting, roles_claim):
    entra = stack("entra", roles_claim=roles_claim)
    answer = requests.get(
        f"{entra.api}/entra/GetJoinUrl", params=by_id(meeting), headers=signed_in(token_for(emulator))
    )
    assert answer.status_code == 200


# --- modes, the host and the log ------------------------------------------------------------------------------------


def test_in_entra_mode_the_key_routes_are_off_even_for_a_signed_in_caller(stack, emulator, meeting):
    entra = stack("entra")
    no_token = requests.get(f"{entra.api}/GetJoinUrl", params=by_id(meeting))
    assert no_token.status_code == 401  # not excluded: the platform wants a token first
    with_token = requests.get(f"{entra.api}/GetJoinUrl", params=by_id(meeting), headers=signed_in(token_for(emulator)))
    assert (with_token.status_code, with_token.content) == (404, b"")  # turned off: the host's own 404
    assert requests.get(f"{entra.api}/openapi.json").json()["basePath"] == "/api/entra"  # excluded, anonymous


def test_in_keys_mode_the_entra_routes_are_off_and_nothing_is_in_front(stack, emulator, meeting):
    keys = stack("keys")
    for path in ("entra/GetJoinUrl", "entra/diagnose"):
        answer = requests.get(f"{keys.api}/{path}", headers=signed_in(token_for(emulator)))
        assert (answer.status_code, answer.content) == (404, b"")
    assert requests.get(f"{keys.api}/GetJoinUrl", params=by_id(meeting)).status_code == 200


@pytest.mark.parametrize(
    ("env", "disabled"),
    [
        ({"AzureWebJobs.X.Disabled": "true"}, True),
        ({"AzureWebJobs.X.Disabled": "TRUE"}, True),
        ({"AzureWebJobs.X.Disabled": "1"}, True),
        ({"AzureWebJobs_X_Disabled": "True"}, True),
        ({"AzureWebJobs.X.Disabled": "false"}, False),
        ({"AzureWebJobs.X.Disabled": "0"}, False),
        ({"AzureWebJobs.X.Disabled": " true"}, False),
        ({"AzureWebJobs.Y.Disabled": "true"}, False),
        ({}, False),
    ],
)
def test_the_host_reads_the_disabled_setting_as_the_functions_host_does(env, disabled):
    assert is_disabled("X", env) is disabled


def test_the_log_line_names_the_callers_object_and_app_ids_and_nothing_else_of_them(stack, emulator, meeting, caplog):
    caplog.set_level(logging.DEBUG)
    entra = stack("entra")
    token = fetch_token(emulator, ADMIN_USER, f"{API_APP_ID_URI}/.default")
    requests.get(f"{entra.api}/entra/diagnose", params=by_id(meeting), headers=signed_in(token))
    requests.get(f"{entra.api}/entra/GetJoinUrl", params=by_id(meeting), headers=signed_in(token))
    requests.get(f"{entra.api}/entra/GetJoinUrl", params=by_id(meeting))  # the platform's 401: the function never ran
    lines = [r.getjoinurl for r in caplog.records if getattr(r, "getjoinurl", {}).get("event") == "invocation"]
    assert [(line["function"], line["outcome"]) for line in lines] == [
        ("DiagnoseEntra", "OK"),
        ("GetJoinUrlEntra", "CallerRoleMissing"),
    ]
    assert all((line["callerObjectId"], line["callerAppId"]) == (ADMIN_USER.object_id, AZURE_CLI_CLIENT_ID)
               for line in lines)  # fmt: skip
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (token, "eyJ", ADMIN_USER.username, "Megan", "Bowen", "contoso.example"):
        assert secret not in logged, secret


def test_key_lines_name_no_caller(stack, emulator, meeting, logs):
    keys = stack("keys")
    requests.get(f"{keys.api}/GetJoinUrl", params=by_id(meeting), headers={"X-MS-CLIENT-PRINCIPAL": "forged"})
    [line] = [r.getjoinurl for r in logs.records if getattr(r, "getjoinurl", {}).get("event") == "invocation"]
    assert "callerObjectId" not in line and "callerAppId" not in line


def test_loading_the_entra_functions_loads_no_token_library_and_no_dev_host():
    """Nothing of the sign-in is on the cold path: the platform validates the token, the function reads headers."""
    script = (
        "import json, sys; import azure.functions; sys.path.insert(0, sys.argv[1]);"
        "from devhost.host import load_function;"
        "[load_function(name) for name in ('GetJoinUrlEntra', 'DiagnoseEntra', 'OpenApi')];"
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = json.loads(subprocess.check_output([sys.executable, "-I", "-c", script, str(APP_ROOT)], timeout=60))
    assert not [m for m in loaded if m == "jwt" or m.startswith(("jwt.", "devhost.emulator", "devhost.e"))]
