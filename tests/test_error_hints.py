"""Errors that say what to fix: the credential that failed and why, and a Teams link a query string decoded."""

from __future__ import annotations

import pytest

from devhost.emulator import Fault
from shared.errors import sentences
from shared.identity import credential_problem
from tests.conftest import ORGANIZER_ID, error_of


@pytest.fixture
def no_azure_environment(monkeypatch):
    for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH"):
        monkeypatch.delenv(name, raising=False)


def test_a_failing_managed_identity_is_named_with_its_cause(get_join_url, meeting, emulator):
    unknown = b'{"statusCode": 400, "message": "Unable to load the proper Managed Identity.", "correlationId": "c"}'
    emulator.state.identity_faults.append(Fault(status=400, body=unknown))  # App Service, for a wrong client ID
    status, code, message = error_of(
        get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    )
    assert (status, code) == (503, "IdentityUnavailable")
    assert message.startswith("Could not get a Graph token from the function's managed identity (")
    assert "Unable to load the proper Managed Identity." in message  # what the endpoint said, not a class name
    assert "AZURE_CLIENT_ID is its client ID" in message


def test_an_unexpected_identity_answer_names_what_went_wrong(get_join_url, meeting, emulator):
    emulator.state.identity_faults.append(Fault(status=500, body=b"<html>Internal error</html>"))
    _, _, message = error_of(get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}))
    assert "managed identity (JSONDecodeError: Expecting value" in message


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_brief_identity_endpoint_failure_is_called_transient_not_a_set_up_to_mend(
    get_join_url, meeting, emulator, status
):
    """azure-identity words a JSON 500 or 429 as "configuration not found ... (invalid_scope)", then answers from
    the failure it holds without asking the endpoint again: both answers say the failure is the platform's, brief."""
    emulator.state.identity_faults.append(Fault(status=status))
    for _ in range(2):  # the endpoint's answer, then the failure azure-identity holds for 5 s
        answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
        status_, code, message = error_of(answer)
        assert (status_, code, answer.headers["Retry-After"]) == (503, "IdentityUnavailable", "5")
        assert f"its token endpoint answered HTTP {status}, a transient failure of the platform's identity" in message
        assert "so Graph was not called. Try again in 5 seconds; if it persists, check the function app's" in message
        assert "configuration not found" not in message and "invalid_scope" not in message
        assert "enabled" not in message and "AZURE_CLIENT_ID" not in message
    assert len(emulator.state.identity_requests) == 1


def test_a_service_principal_without_its_settings_is_named_not_the_managed_identity(
    get_join_url, configure, no_azure_environment
):
    configure(GRAPH_CREDENTIAL="environment")
    status, code, message = error_of(get_join_url(params={"meetingId": "MSpkYzE3", "organizerId": ORGANIZER_ID}))
    assert (status, code) == (503, "IdentityUnavailable")
    assert "the service principal in AZURE_TENANT_ID / AZURE_CLIENT_ID (GRAPH_CREDENTIAL=environment)" in message
    assert "Environment variables are not fully configured" in message
    assert "managed identity" not in message


def test_a_credential_quoting_a_token_never_passes_it_on():
    token = "eyJ0eXAiOiJKV1QifQ.eyJyb2xlcyI6W119.c2lnbmF0dXJl"
    problem, _ = credential_problem(object(), RuntimeError(f"endpoint answered {{'access_token': '{token}'}}"))
    assert token not in problem and "[redacted]" in problem


@pytest.mark.parametrize(
    "link",
    [
        'https://teams.microsoft.com/l/meetup-join/19:meeting_Zm9v@thread.v2/0?context={"Tid":"t","Oid":"o"}',
        "https://teams.microsoft.com/meet/123456789?p=Ab cd",  # a '+' in the passcode, decoded to a space
    ],
    ids=["classic", "short"],
)
def test_a_refused_link_that_looks_url_decoded_gets_a_hint(get_join_url, emulator, link):
    status, code, message = error_of(get_join_url(params={"joinUrl": link, "organizerId": ORGANIZER_ID}))
    assert (status, code) == (400, "InvalidRequest")
    assert "looks URL-decoded" in message and '{"joinUrl": "..."}' in message and "URL-encoded" in message
    assert emulator.state.graph_requests == []


# A classic link without its context part, as a query string delivers it: Teams writes the thread part
# percent-encoded (19%3ameeting_...%40thread.v2), so a raw ':' or '@' in the path means it was decoded on the way.
DECODED_CLASSIC_WITHOUT_CONTEXT = (
    "https://teams.microsoft.com/l/meetup-join/19:meeting_r2v0sm9pblvybcbkzw1vig1lzxrpbmc@thread.v2/0"
)


@pytest.mark.parametrize("where", ["query", "body"])
def test_a_decoded_classic_link_without_a_context_is_refused_before_graph(get_join_url, emulator, where):
    fields = {"joinUrl": DECODED_CLASSIC_WITHOUT_CONTEXT, "organizerId": ORGANIZER_ID}
    answer = get_join_url(params=fields) if where == "query" else get_join_url("POST", body=fields)
    status, code, message = error_of(answer)
    assert (status, code) == (400, "InvalidRequest")
    assert "looks URL-decoded" in message and "19%3ameeting_" in message
    assert "URL-encoded" in message  # for a query string
    assert "in a JSON body" in message and "exactly as Teams gave it" in message  # for a body: decoded before sending
    assert emulator.state.identity_requests == [] and emulator.state.graph_requests == []


def test_a_meeting_id_whose_plus_a_query_string_decoded_gets_a_hint(get_join_url, emulator):
    status, code, message = error_of(get_join_url(params={"meetingId": "abc def==", "organizerId": ORGANIZER_ID}))
    assert (status, code) == (400, "InvalidRequest")
    assert "holds a space" in message and "%2B" in message and '{"meetingId": "..."}' in message
    assert emulator.state.graph_requests == []


def test_a_meeting_id_that_is_simply_wrong_gets_no_such_hint(get_join_url):
    _, _, message = error_of(get_join_url(params={"meetingId": "abc/def", "organizerId": ORGANIZER_ID}))
    assert message.startswith("meetingId is not a Teams online meeting ID") and "%2B" not in message


def test_a_link_that_is_simply_wrong_gets_no_such_hint(get_join_url):
    _, _, message = error_of(
        get_join_url(params={"joinUrl": "https://example.com/meeting", "organizerId": ORGANIZER_ID})
    )
    assert message.startswith("joinUrl must be a Teams meeting link") and "URL-decoded" not in message


def test_graphs_words_end_as_a_sentence_before_the_next_one_begins(get_join_url, meeting, emulator, configure):
    configure(GRAPH_MAX_RETRIES="0")
    down = b'{"error": {"code": "ServiceUnavailable", "message": "down"}}'  # Graph's text, with no final period
    emulator.state.graph_faults.append(Fault(status=503, retry_after="5", body=down))
    status, code, message = error_of(
        get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    )
    assert (status, code) == (503, "GraphUnavailable")
    assert message.endswith("Graph said: ServiceUnavailable: down. Try again in 5 seconds.")


@pytest.mark.parametrize(
    ("parts", "joined"),
    [
        (("It failed", "Try again."), "It failed. Try again."),
        (("It failed (HTTP 503)", None, "", "Fix it"), "It failed (HTTP 503). Fix it"),
        (('Graph said: "down."', "Fix it."), 'Graph said: "down." Fix it.'),
        (("Really?", "Yes!"), "Really? Yes!"),
    ],
)
def test_message_parts_are_joined_as_sentences(parts, joined):
    assert sentences(*parts) == joined


CLASSIC_WITH_OID = (
    "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0?context="
    "%7b%22Tid%22%3a%2272f988bf-86f1-41af-91ab-2d7cd011db47%22%2c%22Oid%22%3a%22{oid}%22%7d"
)


@pytest.mark.parametrize("oid", ["..%2F..", "abc", ""])
def test_a_links_oid_that_is_no_object_id_is_named_as_the_problem(get_join_url, emulator, oid):
    status, code, message = error_of(get_join_url("POST", body={"joinUrl": CLASSIC_WITH_OID.format(oid=oid)}))
    assert (status, code) == (400, "InvalidRequest")
    assert message.startswith("The link's context has an Oid that is not an Entra object ID (a GUID)")
    assert "as organizerId" in message and "DEFAULT_ORGANIZER_ID" in message
    assert emulator.state.graph_requests == []


def test_a_link_with_no_oid_says_organizer_id_is_missing(get_join_url):
    link = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0"
    _, _, message = error_of(get_join_url("POST", body={"joinUrl": link}))
    assert message.startswith("organizerId is missing: send")
