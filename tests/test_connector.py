"""The Power Automate custom connector (connector/) and the OpenApi function that serves its definition
(shared/openapi.py).

The definition must describe the real API exactly: its patterns are the very strings in shared/validation.py, and
they accept and refuse the same good and hostile values as the function's validators (here with Python's `re`, and
with a real ECMAScript engine when node is installed, since Power Automate evaluates them as ECMAScript).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from jsonschema import Draft4Validator  # OpenAPI 2.0's schemas are JSON Schema draft 4 (and x- keys)
from openapi_spec_validator import OpenAPIV2SpecValidator, validate

from devhost.host import load_function, route_pattern
from shared import validation
from shared.appointment_urls import BATCH_MAX_ITEMS
from shared.errors import ApiError
from shared.http import BODY_MAX_BYTES
from shared.json_body import BODY_TEXT_MAX_BYTES, BODY_VALUES_MAX, JSON_MAX_DEPTH
from shared.openapi import entra_variant

APP_ROOT = Path(__file__).resolve().parent.parent
CONNECTOR = APP_ROOT / "connector"
SPEC: dict[str, Any] = json.loads((CONNECTOR / "apiDefinition.swagger.json").read_text(encoding="utf-8"))
PROPERTIES: dict[str, Any] = json.loads((CONNECTOR / "apiProperties.json").read_text(encoding="utf-8"))

OPERATIONS = {
    ("get", "/GetJoinUrl"): "GetJoinUrl",
    ("post", "/GetJoinUrl"): "GetJoinUrlFromBody",
    ("post", "/GetJoinUrl/batch"): "GetJoinUrls",
}
ERROR_STATUSES = ("400", "403", "404", "429", "500", "502", "503", "504")
# Words that keep their capitals inside a sentence-case summary.
PROPER_WORDS = {"URL", "URLs", "ID", "IDs", "Teams", "Microsoft", "Graph"}

RULES = {
    "meetingId": (validation.MEETING_ID_PATTERN, validation.MEETING_ID_MAX, validation.validate_meeting_id),
    "organizerId": (validation.ORGANIZER_ID_PATTERN, validation.ORGANIZER_ID_MAX, validation.validate_organizer_id),
    "joinUrl": (validation.TEAMS_LINK_PATTERN, validation.TEAMS_LINK_MAX, validation.validate_teams_link),
    "joinMeetingId": (
        validation.JOIN_MEETING_ID_PATTERN,
        validation.JOIN_MEETING_ID_MAX,
        validation.validate_join_meeting_id,
    ),
}

GUID = "8b1f6c3e-2a4d-4e9b-a7c1-5d3e2f1a0b9c"
CLASSIC = (
    "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjkxMGI0ZTEtZDA4Ni00NzE1LWE5ZjYtZDcxZTI0N2Q1ZTQ2%40thread.v2"
    "/0?context=%7b%22Tid%22%3a%2272f988bf-86f1-41af-91ab-2d7cd011db47%22%2c%22Oid%22%3a%22" + GUID + "%22%7d"
)
SHORT = "https://teams.microsoft.com/meet/123456789012?p=AbCdEf123"

# Hostile to every field: separators, escapes, control characters, quotes, look-alikes, sheer length.
HOSTILE_EVERYWHERE = [
    "",
    "../../etc/passwd",
    "..%2F..%2Fusers",
    "a?b=c",
    "a#frag",
    "a%2Fb",
    "a/b",
    "a\\b",
    "a b",
    "\x00",
    "a\x00b",
    "a\tb",
    "\r\nSet-Cookie: x=1",
    "'",
    '"',
    "a'b",
    'a"b',
    "' or 1 eq 1 or '",
    "<script>alert(1)</script>",
    "\u202eabc",  # right-to-left override
    "a\u200bb",  # zero-width space
    "\ufeffabc",  # byte order mark
    "x" * 5000,
]

GOOD = {
    "meetingId": [
        "MSpkYzE3Njc0Yy04MWQ5LTRhZGItYmZi",
        "MSo4YjFmNmMzZS0yYTRkLTRlOWItYTdjMS01ZDNlMmYxYTBiOWMqMCoqMTk6bWVldGluZ19hYmNAdGhyZWFkLnYy==",
        "a",
        "A-b_c+d=",
        "x" * validation.MEETING_ID_MAX,
    ],
    "organizerId": [
        GUID,
        GUID.upper(),
        "adele.vance@contoso.example",
        "o'brien@contoso.com",  # a quote is legal in a UPN; organizerId only ever goes into a URL path, encoded
        "first.last+tag@sub.contoso.co.uk",
        "a" * 64 + "@" + "b" * 40 + ".example",  # 113 characters, the limit
    ],
    "joinUrl": [
        CLASSIC,
        SHORT,
        "https://teams.microsoft.com/meet/123456",
        "https://gov.teams.microsoft.us/l/meetup-join/19%3ameeting_abc%40thread.v2/0",
        "https://dod.teams.microsoft.us/meet/12345678901234567890?p=x",
        "https://teams.microsoftonline.cn/l/meetup-join/x",
        # Dots and slashes are part of classic links; the link is only ever an OData string literal, never a path.
        "https://teams.microsoft.com/l/meetup-join/../../users",
        "https://teams.microsoft.com/l/meetup-join/" + "a" * (validation.TEAMS_LINK_MAX - 42),  # 2048, the limit
        "https://teams.microsoft.com/l/meetup-join/x/0?context=a:b@c",  # only the path must have no raw ':' or '@'
    ],
    "joinMeetingId": [
        "123456789012",
        "123 456 789 012",
        " 123456 ",
        "123456",
        "1" * 20,
        "1 2 3 4 5 6",
        "123\u00a0456\u00a0789\u00a0012",  # no-break spaces, as some invites print the groups
        "123\u202f456\u2009789",  # narrow no-break and thin spaces
        "\u3000123456\u205f",
    ],
}

HOSTILE = {
    "meetingId": [
        "x" * (validation.MEETING_ID_MAX + 1),
        "abc\n",  # Python's `$` alone would let the newline through; ECMAScript's does not
        "abc.def",
        "abc:def",
        "abc@def",
        "\u0430bc",  # Cyrillic a
        "\uff41bc",  # fullwidth a
        "abc%3D",
        "abc=\n",
    ],
    "organizerId": [
        "adele@contoso",
        "@contoso.com",
        "adele@",
        "a..b@contoso.com",
        ".adele@contoso.com",
        "adele@-contoso.com",
        "adele@contoso-.com",
        "adele@contoso..com",
        "adele@contoso.com\n",
        "adele@contoso.com/../../users",
        "adele@contoso.com?$filter=x",
        "adele@contoso.com#",
        "{" + GUID + "}",
        GUID + "\n",
        GUID[:-1],
        GUID.replace("8", "\uff18"),  # fullwidth digit
        "adele@c\u043entoso.com",  # Cyrillic o
        "adele@contoso.com'",
        "a" * 65 + "@" + "b" * 40 + ".example",  # 114 characters: the pattern allows it, maxLength does not
    ],
    "joinUrl": [
        "http://teams.microsoft.com/l/meetup-join/x",
        "https://teams.microsoft.com/l/meetup-join/",
        "https://teams.microsoft.com/l/meetup-join/x'y",
        "https://teams.microsoft.com/l/meetup-join/x'%20or%20'1'%20eq%20'1",
        'https://teams.microsoft.com/l/meetup-join/x"y',
        "https://teams.microsoft.com/l/meetup-join/x y",
        "https://teams.microsoft.com/l/meetup-join/x#frag",
        "https://teams.microsoft.com/l/meetup-join/x\n",
        "https://teams.microsoft.com/l/meetup-join/x\\y",
        "https://teams.microsoft.com/l/meetup-join/x<y>",
        "https://teams.microsoft.com.evil.example/l/meetup-join/x",
        "https://teams.microsoft.com@evil.example/l/meetup-join/x",
        "https://evil.example/teams.microsoft.com/l/meetup-join/x",
        "https://evil.example/?u=https://teams.microsoft.com/l/meetup-join/x",
        "https://teams.microsoft.com:8443/l/meetup-join/x",
        "https://TEAMS.MICROSOFT.COM/l/meetup-join/x",
        "https://teams.microsoft.com/l/meetup-join/\uff58",  # fullwidth x
        "https://teams.microsoft.com/meet/12345",
        "https://teams.microsoft.com/meet/" + "1" * 21,
        "https://teams.microsoft.com/meet/123456?p=a'b",
        "https://teams.microsoft.com/meet/123456?p=a/b",
        "https://teams.microsoft.com/meet/123456/../../x",
        "https://teams.microsoft.com/meet/\uff11\uff12\uff13\uff14\uff15\uff16",  # fullwidth digits
        "https://teams.microsoft.com/l/meetup-join/" + "a" * (validation.TEAMS_LINK_MAX - 41),  # 2049
        "javascript:alert(1)//https://teams.microsoft.com/l/meetup-join/x",
        # Decoded: Teams writes a classic link's thread as 19%3ameeting_...%40thread.v2.
        "https://teams.microsoft.com/l/meetup-join/19:meeting_abc@thread.v2/0",
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc@thread.v2/0",
        "https://teams.microsoft.com/l/meetup-join/19:meeting_abc%40thread.v2/0?context=%7b%7d",
        "https://teams.microsoft.com/l/meetup-join/?context=%7b%7d",
    ],
    "joinMeetingId": [
        "12345",
        "1" * 21,
        "\uff11\uff12\uff13\uff14\uff15\uff16",  # fullwidth digits
        "\u0661\u0662\u0663\u0664\u0665\u0666",  # Arabic-Indic digits: Python's \d would take them, [0-9] does not
        "123456\n",
        "123-456-789",
        "123456'",
        "123\t456",  # a tab, a line end or a zero-width space is no group separator (a body's surrounding ones are
        "123\r\n456",  # trimmed before the value is checked)
        "123\u200b456",
        "\ufeff123456",  # ECMAScript's \s would take a byte order mark: the pattern names each space instead
        " " * 58 + "123456",  # 64 characters: allowed
        " " * 59 + "123456",  # 65 characters: the pattern allows it, maxLength does not
        "0x123456",
        "+123456",
    ],
}
HOSTILE["joinMeetingId"].remove(" " * 58 + "123456")
GOOD["joinMeetingId"].append(" " * 58 + "123456")


def cases() -> Iterator[tuple[str, str, bool]]:
    for field in RULES:
        yield from ((field, value, True) for value in GOOD[field])
        yield from ((field, value, False) for value in HOSTILE[field] + HOSTILE_EVERYWHERE)


CASES = list(cases())


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, name = node["$ref"].removeprefix("#/").split("/")
        node = SPEC[section][name]
    return node


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def parameters(operation: dict[str, Any]) -> list[dict[str, Any]]:
    return [resolve(parameter) for parameter in operation["parameters"]]


def query_rules(name: str) -> tuple[str, int]:
    [parameter] = [p for p in parameters(SPEC["paths"]["/GetJoinUrl"]["get"]) if p["name"] == name]
    return parameter["pattern"], parameter["maxLength"]


def swagger_accepts(field: str, value: str) -> bool:
    """JSON Schema's maxLength and pattern. The patterns are anchored (^...$), so ECMAScript's RegExp.test is
    re.fullmatch: under re.search, Python's `$` would also match just before a final newline."""
    pattern, max_length = query_rules(field)
    return len(value) <= max_length and re.fullmatch(pattern, value) is not None


def function_accepts(field: str, value: str) -> bool:
    try:
        RULES[field][2](value)
    except ApiError as error:
        assert (error.status, error.code) == (400, "InvalidRequest")
        return False
    return True


def schema_properties(schema: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Every property below a schema, as (where, the property as written, the property resolved)."""
    schema = resolve(schema)
    if schema.get("type") == "array":
        yield from schema_properties(schema["items"], f"{where}[]")
    for name, written in schema.get("properties", {}).items():
        resolved = resolve(written)
        yield f"{where}.{name}", written, resolved
        yield from schema_properties(resolved, f"{where}.{name}")


# --- the definition ----------------------------------------------------------------------------------------------


def test_definition_is_valid_openapi_2():
    validate(SPEC, cls=OpenAPIV2SpecValidator)
    assert SPEC["swagger"] == "2.0"
    assert SPEC["basePath"] == "/api"
    assert SPEC["schemes"] == ["https"]
    assert SPEC["host"].endswith(".example.com")  # a placeholder that can never receive a function key
    assert SPEC["info"]["title"] and len(SPEC["info"]["description"]) >= 30


def test_operations_and_their_names():
    found = {(method, path): operation["operationId"] for method, path, operation in operations()}
    assert found == OPERATIONS
    for method, path, operation in operations():
        assert re.fullmatch(r"(?:[A-Z][a-z0-9]*)+", operation["operationId"]), operation["operationId"]
        words = operation["summary"].split()
        assert words[0][0].isupper() and not operation["summary"].endswith("."), (method, path)
        assert all(word.islower() or word in PROPER_WORDS for word in words[1:]), operation["summary"]
        assert len(operation["description"]) > len(operation["summary"]), (method, path)
    summaries = [operation["summary"] for _, _, operation in operations()]
    assert len(set(summaries)) == len(summaries)


def test_every_parameter_has_a_summary_and_a_description():
    for method, path, operation in operations():
        for parameter in parameters(operation):
            where = (method, path, parameter["name"])
            assert parameter.get("x-ms-summary"), where
            assert parameter.get("description"), where
            if parameter["in"] == "body":
                assert parameter["required"] is True
                for name, written, resolved in schema_properties(parameter["schema"], "body"):
                    assert written.get("x-ms-summary") or resolved.get("x-ms-summary"), (method, path, name)


def test_advanced_inputs_are_marked_advanced():
    for method, path, operation in operations():
        for parameter in parameters(operation):
            if parameter["in"] == "header":
                assert parameter["x-ms-visibility"] == "advanced", (method, path, parameter["name"])
                assert parameter["required"] is False
        names = {parameter["name"]: parameter for parameter in parameters(operation)}
        assert {"client-request-id", "Accept-Language"} <= set(names)
    assert resolve({"$ref": "#/definitions/MeetingQuery"})["properties"]["organizerId"]["x-ms-visibility"] == "advanced"
    assert resolve({"$ref": "#/definitions/BatchItem"})["properties"]["organizerId"]["x-ms-visibility"] == "advanced"
    batch_organizer = resolve({"$ref": "#/definitions/BatchRequest"})["properties"]["organizerId"]
    assert (batch_organizer["x-ms-visibility"], batch_organizer["x-ms-summary"]) == ("advanced", "Organizer ID")
    [organizer] = [p for p in parameters(SPEC["paths"]["/GetJoinUrl"]["get"]) if p["name"] == "organizerId"]
    assert organizer["x-ms-visibility"] == "advanced" and organizer["required"] is False


def test_every_response_property_has_a_summary():
    for method, path, operation in operations():
        for status, response in operation["responses"].items():
            assert response.get("description"), (method, path, status)
            for name, written, resolved in schema_properties(response["schema"], f"{status}"):
                assert written.get("x-ms-summary") or resolved.get("x-ms-summary"), (method, path, name)
                assert written.get("description") or resolved.get("description"), (method, path, name)


def test_responses_cover_success_and_every_error_status():
    for method, path, operation in operations():
        responses = operation["responses"]
        errors = (*ERROR_STATUSES, "413") if method == "post" else ERROR_STATUSES  # only a POST has a body
        assert set(responses) == {"200", *errors}, (method, path)
        for status in errors:
            assert responses[status]["schema"] == {"$ref": "#/definitions/Error"}
        assert all("Retry-After" in responses[status]["headers"] for status in ("429", "503", "504"))
        assert "client-request-id" in responses["200"]["headers"]
    error = resolve({"$ref": "#/definitions/Error"})
    assert error["required"] == ["error"]
    detail = resolve(error["properties"]["error"])
    assert detail["required"] == ["code", "message"]
    assert detail["properties"]["retryAfterSeconds"]["type"] == "integer"  # the wait, in the body too
    single = resolve({"$ref": "#/definitions/JoinUrlResult"})
    assert set(single["required"]) == {"joinWebUrl", "meetingId", "organizerId"}


def test_the_body_limits_are_the_functions_own():
    for method, _, operation in operations():
        if method == "post":
            too_large = operation["responses"]["413"]["description"]
            assert f"{BODY_MAX_BYTES:,} bytes" in too_large and "RequestTooLarge" in too_large
            assert f"more than {BODY_VALUES_MAX:,} JSON values" in too_large and "RequestTooComplex" in too_large
            assert f"more than {BODY_TEXT_MAX_BYTES:,} bytes as text once decoded" in too_large
            assert f"deeper than {JSON_MAX_DEPTH} levels" in operation["responses"]["400"]["description"]


def test_the_function_key_is_an_api_key_connection_parameter():
    [(name, scheme)] = SPEC["securityDefinitions"].items()
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "x-functions-key"}
    assert SPEC["security"] == [{name: []}]
    parameter = PROPERTIES["properties"]["connectionParameters"][name]
    assert parameter["type"] == "securestring"
    ui = parameter["uiDefinition"]
    assert ui["displayName"] and ui["description"] and ui["constraints"]["required"] == "true"
    assert ui["constraints"]["clearText"] is False


# --- the patterns and the function's own rules ------------------------------------------------------------------


def test_patterns_are_the_functions_own_strings():
    body = resolve({"$ref": "#/definitions/MeetingQuery"})["properties"]
    for field, (pattern, max_length, _) in RULES.items():
        assert query_rules(field) == (pattern, max_length), field
        assert (body[field]["pattern"], body[field]["maxLength"]) == (pattern, max_length), field
        assert pattern.startswith("^") and pattern.endswith("$")
    batch_organizer = resolve({"$ref": "#/definitions/BatchRequest"})["properties"]["organizerId"]
    assert (batch_organizer["pattern"], batch_organizer["maxLength"]) == RULES["organizerId"][:2]


def test_batch_items_carry_no_pattern_but_the_list_is_bounded():
    meetings = resolve({"$ref": "#/definitions/BatchRequest"})["properties"]["meetings"]
    assert (meetings["minItems"], meetings["maxItems"]) == (1, BATCH_MAX_ITEMS)
    item = resolve(meetings["items"])
    assert set(item["properties"]) == set(RULES)
    for name, prop in item["properties"].items():
        assert not {"pattern", "maxLength", "minLength", "format", "enum"} & set(prop), name
        assert prop["type"] == "string"


def test_batch_answers_match_the_definition_and_each_result_names_its_item(get_join_url, meeting):
    """A flow that filters the results finds each one's meeting by its index, which every result has, first."""
    result = resolve({"$ref": "#/definitions/BatchResult"})
    index = result["properties"]["index"]
    assert (index["type"], index["minimum"], index["x-ms-summary"]) == ("integer", 0, "Index")
    assert "meetings" in index["description"] and result["required"] == ["index"]
    items = [{"meetingId": meeting.meeting_id, "organizerId": GUID}, {"meetingId": "../x"}, 7]
    answer = get_join_url("POST", body={"meetings": [*items, {"meetingId": "MSpub3RoZXJl", "organizerId": GUID}]})
    schema = {"$ref": "#/definitions/BatchResponse", "definitions": SPEC["definitions"]}
    assert [error.message for error in Draft4Validator(schema).iter_errors(answer.body)] == []
    for position, given in enumerate(answer.body["results"]):
        assert set(given) <= set(result["properties"]) and given["index"] == position


def test_the_stated_leniencies_are_the_functions():
    """What OpenAPI 2.0 cannot say for a body property, the definition says in words; the function does it."""
    body = resolve({"$ref": "#/definitions/MeetingQuery"})["properties"]
    for field in RULES:
        [parameter] = [p for p in parameters(SPEC["paths"]["/GetJoinUrl"]["get"]) if p["name"] == field]
        assert parameter["allowEmptyValue"] is True and "empty value counts as left out" in parameter["description"]
        assert body[field]["x-nullable"] is True
        assert "empty or null value counts as left out" in body[field]["description"]
    batch_organizer = resolve({"$ref": "#/definitions/BatchRequest"})["properties"]["organizerId"]
    assert batch_organizer["x-nullable"] is True
    assert "empty or null value counts as left out" in batch_organizer["description"]
    for item in (body, resolve({"$ref": "#/definitions/BatchItem"})["properties"]):
        assert f"123456789012.0, only below {validation.FLOAT_EXACT_BELOW}," in item["joinMeetingId"]["description"]
        for field in RULES:  # what the pattern cannot say: the value is checked without its surrounding whitespace
            assert "Surrounding whitespace (any space, tab or line end) is trimmed" in item[field]["description"]
    assert "Surrounding whitespace (any space, tab or line end) is trimmed" in batch_organizer["description"]
    fields = {"meetingId": GOOD["meetingId"][0], "joinUrl": "", "joinMeetingId": None, "organizerId": ""}
    assert validation.parse_meeting_query(fields, GUID).meeting_id == GOOD["meetingId"][0]
    for number in (123456789012, 123456789012.0, float(validation.FLOAT_EXACT_BELOW - 1)):
        assert validation.parse_meeting_query({"joinMeetingId": number}, GUID).join_meeting_id == str(int(number))
    with pytest.raises(ApiError, match="exactly only below 9007199254740992"):
        validation.parse_meeting_query({"joinMeetingId": float(validation.FLOAT_EXACT_BELOW)}, GUID)


@pytest.mark.parametrize(("field", "value", "good"), CASES, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(CASES)])
def test_definition_and_function_agree(field, value, good):
    assert swagger_accepts(field, value) == function_accepts(field, value) == good


def test_the_patterns_mean_the_same_in_ecmascript():
    """Power Automate checks patterns as ECMAScript regular expressions; node runs the same cases."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    rules = {field: query_rules(field) for field in RULES}
    script = (
        "const {rules, cases} = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "const out = cases.map(([f, v]) => [...v].length <= rules[f][1] && new RegExp(rules[f][0]).test(v));"
        "process.stdout.write(JSON.stringify(out));"
    )
    payload = json.dumps({"rules": rules, "cases": [(field, value) for field, value, _ in CASES]})
    result = subprocess.run([node, "-e", script], input=payload, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    verdicts = json.loads(result.stdout)
    disagreements = [(f, v[:80], good) for (f, v, good), ok in zip(CASES, verdicts, strict=True) if ok != good]
    assert disagreements == []


# --- the OpenApi function ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def serve() -> Callable[..., func.HttpResponse]:
    entry, config = load_function("OpenApi", APP_ROOT)
    [trigger] = [binding for binding in config["bindings"] if binding["type"] == "httpTrigger"]
    assert trigger["authLevel"] == "anonymous"
    assert trigger["methods"] == ["get"]
    assert trigger["route"] == "openapi.json"

    def get(url: str = "https://contoso-join.azurewebsites.net/api/openapi.json", **headers: str) -> func.HttpResponse:
        return entry(func.HttpRequest(method="GET", url=url, headers=headers, params={}, body=b""))

    return get


def served(response: func.HttpResponse) -> dict[str, Any]:
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return json.loads(response.get_body())


@pytest.fixture
def platform_host(monkeypatch) -> Callable[[str | None], None]:
    """Set (or unset) WEBSITE_HOSTNAME as App Service sets it for the app."""

    def apply(value: str | None) -> None:
        if value is None:
            monkeypatch.delenv("WEBSITE_HOSTNAME", raising=False)
        else:
            monkeypatch.setenv("WEBSITE_HOSTNAME", value)

    apply(None)
    return apply


def test_served_definition_is_the_file_with_the_apps_host(serve, platform_host):
    platform_host("contoso-join.azurewebsites.net")
    response = serve(host="contoso-join.azurewebsites.net")
    body = served(response)
    assert body == {**SPEC, "host": "contoso-join.azurewebsites.net"}
    assert list(body) == list(SPEC)  # same order: host stays where the file has it
    assert response.headers["Cache-Control"].startswith("public")
    assert response.headers["client-request-id"]


CLIENT_HOSTS = ["evil.example", "[1.2.3.4]", "[1:2]", "[", "evil.example/x", 'a"b', "a\r\nb", "x" * 300, ""]


@pytest.mark.parametrize("header", ["host", "x-forwarded-host"])
@pytest.mark.parametrize("app_host", ["contoso-join.azurewebsites.net", None])
@pytest.mark.parametrize("client_host", CLIENT_HOSTS)
def test_no_host_a_client_sends_reaches_the_definition(serve, platform_host, header, app_host, client_host):
    """The definition is anonymous and publicly cached: a host taken from the request could be kept by a cache and
    served to everyone. Whatever the client sends, the answer is a 200 with the app's own host, or none."""
    platform_host(app_host)
    body = served(serve(**{header: client_host}))
    assert body.get("host") == app_host  # without one, OpenAPI 2.0 means the host serving the definition
    assert body["schemes"] == ["https"]
    assert body["paths"] == SPEC["paths"]


def test_served_definition_for_the_local_dev_host_says_http(serve, platform_host):
    platform_host("localhost:7071")
    body = served(serve("http://localhost:7071/api/openapi.json", host="localhost:7071"))
    assert (body["host"], body["schemes"]) == ("localhost:7071", ["http"])


@pytest.mark.parametrize("value", ["evil.example/x", "[1.2.3.4]", "a b", "-bad.example", "h:999999", "x" * 300])
def test_a_website_hostname_that_is_no_host_name_is_left_out(serve, platform_host, value):
    platform_host(value)
    assert "host" not in served(serve())


def test_the_file_is_read_once_and_a_missing_one_is_a_configuration_error(serve, platform_host, monkeypatch):
    from shared import openapi

    served(serve(host="a.example"))
    served(serve(host="b.example"))
    assert openapi._definition.cache_info().currsize == 1
    missing = CONNECTOR / "missing.swagger.json"
    monkeypatch.setattr(openapi, "definition_for", partial(openapi.definition_for, path=missing))
    module = sys.modules["__app__.OpenApi"]
    monkeypatch.setattr(module, "definition_for", openapi.definition_for)
    response = serve(host="a.example")
    assert response.status_code == 500
    assert response.headers["Cache-Control"] == "no-store"
    assert json.loads(response.get_body())["error"]["code"] == "ConfigurationError"


def test_routes_do_not_collide_and_the_connector_is_deployed():
    definition = route_pattern("openapi.json")
    config = json.loads((APP_ROOT / "GetJoinUrl" / "function.json").read_text())
    teams_link = route_pattern(config["bindings"][0]["route"])
    assert definition.fullmatch("openapi.json") and not definition.fullmatch("openapiXjson")
    assert not teams_link.fullmatch("openapi.json") and not definition.fullmatch("GetJoinUrl/batch")
    ignored = {line.strip().strip("/") for line in (APP_ROOT / ".funcignore").read_text().splitlines()}
    assert "connector" not in ignored and "OpenApi" not in ignored


def readme_section(readme: str, heading: str) -> str:
    """A README section: from its heading to the next heading of the same level."""
    start = readme.index(heading)
    end = readme.find("\n## ", start + len(heading))
    return readme[start : end if end != -1 else len(readme)]


def test_every_error_code_in_the_readme_is_in_the_connector_definition():
    readme = (APP_ROOT / "README.md").read_text()
    table = readme_section(readme, "## Errors")
    codes = set(re.findall(r"\| `([A-Za-z]+)` \|\s*$", table, re.MULTILINE))
    assert {"GraphPermissionMissing", "AccessPolicyMissing", "GraphAccessDenied", "InvalidRequest"} <= codes
    assert {"CallerRoleMissing", "Unauthenticated"} <= codes  # a signed-in caller's, in the Entra ID variant
    definitions = (CONNECTOR / "apiDefinition.swagger.json").read_text() + json.dumps(entra_variant(SPEC))
    assert [code for code in sorted(codes) if not re.search(rf"\b{code}\b", definitions)] == []
    troubleshooting = readme_section(readme, "## Troubleshooting")
    for code in ("GraphPermissionMissing", "AccessPolicyMissing", "GraphAccessDenied", "IdentityUnavailable"):
        assert f"| `{code}` |" in troubleshooting, code


# --- the flow builder's recipe and notes (connector/README.md) ----------------------------------------------------


class Outputs(dict):
    """An action's outputs as a flow expression reads them: `?['name']` is null when the name is missing, and so is
    anything read from null."""

    def get_(self, name: str) -> Any:
        return self.get(name, NULL)


NULL = Outputs()  # null, as `?[...]` gives it


def flow_expression(text: str, status: int | None, tries: int, wait: int | None = None) -> Any:
    """A Power Automate expression of the recipe, evaluated in Python for one action outcome: its functions as
    Microsoft's reference defines them (or, and, not, contains, createArray, coalesce, greater, greaterOrEquals,
    less, lessOrEquals)."""
    action = Outputs({} if status is None else {"statusCode": status})  # a timed-out action has no status
    body = Outputs({} if wait is None else {"error": Outputs({"retryAfterSeconds": wait})})
    functions = {
        "or_": lambda *a: any(a),
        "and_": lambda *a: all(a),
        "less": lambda a, b: a < b,
        "lessOrEquals": lambda a, b: a <= b,
        "greater": lambda a, b: a > b,
        "not_": lambda a: not a,
        "contains": lambda items, x: x in items,
        "createArray": lambda *a: list(a),
        "coalesce": lambda *a: next((x for x in a if x is not NULL), NULL),
        "greaterOrEquals": lambda a, b: a >= b,
        "outputs": lambda name: action,
        "body": lambda name: body,
        "variables": lambda name: tries,
    }
    python = re.sub(r"\b(or|not|and)\(", r"\1_(", text.removeprefix("@"))
    python = re.sub(r"\?\['(\w+)'\]", r".get_('\1')", python)
    return eval(python, {"__builtins__": {}}, functions)  # the README's own text, not input


def test_the_retry_recipe_counts_a_timed_out_try_as_a_504_and_stays_within_its_bound():
    recipe = readme_section((CONNECTOR / "README.md").read_text(), "## Errors in a flow")
    [until] = re.findall(r"`(@or\(not\(contains.*?)`", recipe)
    [retry] = re.findall(r"`(@and\(contains\(createArray.*?)`", recipe)
    [delay] = re.findall(r"`(@coalesce\(body.*?)`", recipe)
    for status in (429, 503, 504, None):  # None: the action timed out
        assert flow_expression(until, status, tries=1) is False, status  # goes round again
        assert flow_expression(retry, status, tries=1) is True, status  # after the Delay
        assert flow_expression(until, status, tries=4) is True, status  # and not past 4 tries
        assert flow_expression(retry, status, tries=4) is False, status  # with no wait after the last
    for status in (200, 400, 403, 404, 413, 500, 502):
        assert flow_expression(until, status, tries=1) is True, status  # a wait mends none of these
        assert flow_expression(retry, status, tries=1) is False, status
    assert flow_expression(delay, None, tries=1) == 5 and flow_expression(delay, 503, tries=1, wait=30) == 30
    for status in (429, 503):  # a wait of more than a minute ends the loop, with no Delay first
        assert flow_expression(until, status, tries=1, wait=61) is True, status
        assert flow_expression(retry, status, tries=1, wait=61) is False, status
        assert flow_expression(until, status, tries=1, wait=60) is False, status


def test_flow_builders_are_told_the_licence_and_the_bookings_trigger_output():
    readme, connector = (APP_ROOT / "README.md").read_text(), (CONNECTOR / "README.md").read_text()
    readme_words, connector_words = " ".join(readme.split()), " ".join(connector.split())
    assert "Custom connectors are premium" in readme_words and "needs Power Automate Premium" in readme_words
    licences = " ".join(readme_section(connector, "## Licences").split())
    for words in ("Power Automate Premium", "Power Automate Process", "pay-as-you-go", "standard connectors"):
        assert words in licences, words
    assert "`JoinWebURL`" in readme_words and "output `JoinWebURL`" in licences
    assert "the trigger's `JoinWebURL` output" in connector_words  # the example flow
