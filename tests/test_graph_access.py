"""shared/graph_access.py: a Graph 401 or 403 names the one missing set-up step (an app role, a Teams application
access policy) from the token's claims and Graph's words, with the command that mends it, filled in.

Driven end to end through the emulator, whose tokens are JWT-shaped, keep the roles granted when they were issued and
are handed out again from the platform's cache until they are half spent (on the clock the function and the emulator
share, so a test moves it on instead of waiting).
"""

from __future__ import annotations

import json
import logging
import time

import pytest

from devhost.emulator.identity_endpoint import IDENTITY_CLIENT_ID, IDENTITY_OBJECT_ID
from devhost.emulator.state import APPOINTMENT_URL_ROLE, LOOKUP_ROLE, Fault
from shared import app
from shared.graph_access import powershell_argument
from shared.token_claims import iso_time, read_token_identity
from tests.conftest import ORGANIZER_ID, ORGANIZER_UPN, by_id, issued_token

# --- app roles --------------------------------------------------------------------------------------------------------


def test_missing_join_url_role_is_graph_permission_missing(get_join_url, meeting, emulator):
    emulator.state.roles = {LOOKUP_ROLE}
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (403, "GraphPermissionMissing")
    message = answer.body["error"]["message"]
    identity = read_token_identity(issued_token(emulator))
    for fact in (
        APPOINTMENT_URL_ROLE,
        IDENTITY_CLIENT_ID,
        iso_time(identity.issued_at),  # when the token in hand was issued
        "24 hours",
        "restarting the app does not help",
        f"python3 scripts/grant_app_roles.py {IDENTITY_OBJECT_ID} {APPOINTMENT_URL_ROLE}",
    ):
        assert fact in message, fact
    assert answer.headers["request-id"]


def test_a_token_without_any_role_is_graph_permission_missing_not_a_401(get_join_url, meeting, emulator):
    emulator.state.roles = set()  # Graph answers 401 "Either scp or roles claim need to be present"
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (403, "GraphPermissionMissing")
    assert "no app role at all" in answer.body["error"]["message"]


def test_missing_lookup_role_names_it(get_join_url, meeting, emulator):
    emulator.state.roles = {APPOINTMENT_URL_ROLE}
    answer = get_join_url(params={"joinUrl": meeting.teams_link, "organizerId": ORGANIZER_ID})
    assert (answer.status, answer.body["error"]["code"]) == (403, "GraphPermissionMissing")
    assert f"{IDENTITY_OBJECT_ID} {LOOKUP_ROLE}" in answer.body["error"]["message"]


def test_a_role_granted_after_the_token_was_issued_arrives_with_the_next_token(
    get_join_url, diagnose, meeting, emulator, clock
):
    # An 8 s token: azure-identity asks the endpoint for one under 5 minutes from expiry each time, and the platform
    # hands out a new one after half of it, on the clock the function and the emulator share.
    emulator.state.token_lifetime = 8
    emulator.state.roles = {LOOKUP_ROLE}
    first = get_join_url(params=by_id(meeting))
    assert first.body["error"]["code"] == "GraphPermissionMissing"
    issued = iso_time(read_token_identity(issued_token(emulator)).issued_at)
    assert issued in first.body["error"]["message"]

    emulator.state.roles.add(APPOINTMENT_URL_ROLE)  # the admin grants the role
    app.reset()  # and restarts the app: the platform still hands out the token it has
    second = get_join_url(params=by_id(meeting))
    assert second.body["error"]["code"] == "GraphPermissionMissing"
    assert issued in second.body["error"]["message"]
    batch = get_join_url("POST", body={"meetings": [by_id(meeting)]})
    assert batch.body["results"][0]["error"]["code"] == "GraphPermissionMissing"
    report = diagnose()  # shows the token in hand predates the grant
    assert report.body["identity"]["tokenIssuedAt"] == issued and report.body["ok"] is False
    assert len(emulator.state.tokens) == 1

    clock.advance(5)  # past half the token's life
    answer = get_join_url(params=by_id(meeting))
    assert answer.status == 200, answer.body  # the platform's next token carries the role
    assert len(emulator.state.tokens) == 2
    assert get_join_url("POST", body={"meetings": [by_id(meeting)]}).body["results"][0]["joinWebUrl"]
    assert diagnose(organizerId=ORGANIZER_ID).body["ok"] is True


# --- the Teams application access policy ------------------------------------------------------------------------------


def test_no_access_policy_at_all_is_access_policy_missing(get_join_url, meeting, emulator):
    emulator.state.access_policy = False
    answer = get_join_url(params=by_id(meeting, ORGANIZER_UPN))
    assert (answer.status, answer.body["error"]["code"]) == (403, "AccessPolicyMissing")
    message = answer.body["error"]["message"]
    assert f"./scripts/Grant-TeamsAccessPolicy.ps1 -AppId {IDENTITY_CLIENT_ID} -Organizers {ORGANIZER_UPN}" in message
    assert "30 minutes" in message
    assert "No application access policy found for this app" in message  # Graph's own words


def test_a_policy_that_does_not_cover_the_organizer_is_access_policy_missing(get_join_url, meeting, emulator):
    emulator.state.policy_users = {"someone-else"}
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (403, "AccessPolicyMissing")
    assert "neither is allowed access through RSC" in answer.body["error"]["message"]


@pytest.mark.parametrize(
    ("value", "argument"),
    [
        ("adele.vance@contoso.example", "adele.vance@contoso.example"),  # as it is: GUIDs and plain UPNs read well
        ("8B1F6C3E-2a4d-4e9b-a7c1-5d3e2f1a0b9c", "8B1F6C3E-2a4d-4e9b-a7c1-5d3e2f1a0b9c"),
        ("o'brien@contoso.com", "'o''brien@contoso.com'"),  # a quote is doubled inside single quotes
        ("-x@contoso.com", "'-x@contoso.com'"),  # bare, a leading '-' would name a parameter
        ("a+b@contoso.com", "'a+b@contoso.com'"),
        ("a\u2019b", "'a\u2019\u2019b'"),  # PowerShell takes a typographic quote for '
        ("", "''"),
    ],
)
def test_powershell_arguments_are_quoted_where_needed(value, argument):
    assert powershell_argument(value) == argument


def test_the_policy_command_quotes_an_organizer_powershell_would_misread(get_join_url, diagnose, emulator):
    """A UPN may hold a quote (o'brien@...), which PowerShell would read as the start of a string."""
    upn = "o'brien@contoso.example"
    meeting = emulator.add_meeting("1d2c3b4a-5f6e-4a8b-9c0d-1e2f3a4b5c6d", upn)
    emulator.state.access_policy = False
    answer = get_join_url(params=by_id(meeting, upn))
    assert (answer.status, answer.body["error"]["code"]) == (403, "AccessPolicyMissing")
    command = (
        f"./scripts/Grant-TeamsAccessPolicy.ps1 -AppId {IDENTITY_CLIENT_ID} -Organizers 'o''brien@contoso.example'`"
    )
    assert command in answer.body["error"]["message"]
    assert command in {c["name"]: c for c in diagnose(organizerId=upn).body["checks"]}["accessPolicy"]["fix"]


# --- other refusals, batches, and no token shown ----------------------------------------------------------------------


def test_another_403_with_the_role_in_hand_is_graph_access_denied_without_blaming_the_role(
    get_join_url, meeting, emulator
):
    emulator.state.graph_faults.append(Fault(status=403))  # "Scripted fault.": no policy wording
    answer = get_join_url(params=by_id(meeting))
    assert (answer.status, answer.body["error"]["code"]) == (403, "GraphAccessDenied")
    assert "carries VirtualAppointment.Read.All" in answer.body["error"]["message"]
    assert "Scripted fault." in answer.body["error"]["message"]


def test_a_token_that_is_not_a_jwt_is_graph_access_denied_as_before(get_join_url, meeting, emulator):
    opaque = {"access_token": "opaque-token", "expires_on": str(int(time.time()) + 3600), "token_type": "Bearer"}
    emulator.state.identity_faults.append(Fault(status=200, body=json.dumps(opaque).encode()))
    answer = get_join_url(params=by_id(meeting))  # Graph does not know the token: 401
    assert (answer.status, answer.body["error"]["code"]) == (403, "GraphAccessDenied")
    assert "Usual causes" in answer.body["error"]["message"]


def test_batch_items_get_their_own_cause(get_join_url, emulator):
    covered = emulator.add_meeting(ORGANIZER_ID, ORGANIZER_UPN, join_meeting_id="111111111111")
    other = emulator.add_meeting("1d2c3b4a-5f6e-4a8b-9c0d-1e2f3a4b5c6d", "alex@contoso.example")
    emulator.state.policy_users = {ORGANIZER_ID}
    emulator.state.roles = {APPOINTMENT_URL_ROLE}
    answer = get_join_url(
        "POST",
        body={
            "meetings": [
                by_id(covered),
                by_id(other, "alex@contoso.example"),
                {"joinMeetingId": "111111111111", "organizerId": ORGANIZER_ID},
            ]
        },
    )
    results = answer.body["results"]
    assert results[0]["joinWebUrl"] == covered.appointment_url
    assert results[1]["error"]["code"] == "AccessPolicyMissing"
    assert "-Organizers alex@contoso.example" in results[1]["error"]["message"]
    assert results[2]["error"]["code"] == "GraphPermissionMissing"
    assert LOOKUP_ROLE in results[2]["error"]["message"]


def test_another_403_on_a_batch_item_is_graph_access_denied_for_that_item_alone(get_join_url, meeting, emulator):
    other = emulator.add_meeting(ORGANIZER_ID)
    emulator.state.batch_item_faults.append(Fault(status=403))  # no policy wording, the role in hand
    answer = get_join_url("POST", body={"meetings": [by_id(meeting), by_id(other)]})
    first, second = answer.body["results"]
    assert first["error"]["code"] == "GraphAccessDenied"
    assert f"carries {APPOINTMENT_URL_ROLE}" in first["error"]["message"]
    assert second["joinWebUrl"] == other.appointment_url


def test_no_answer_or_log_line_holds_a_token(get_join_url, meeting, emulator, caplog):
    caplog.set_level(logging.DEBUG)
    emulator.state.roles = {LOOKUP_ROLE}
    answers = [get_join_url(params=by_id(meeting))]
    emulator.state.access_policy = False
    app.reset()
    emulator.state.platform_cache.clear()
    emulator.state.roles = {APPOINTMENT_URL_ROLE, LOOKUP_ROLE}
    answers.append(get_join_url(params=by_id(meeting)))
    assert [a.body["error"]["code"] for a in answers] == ["GraphPermissionMissing", "AccessPolicyMissing"]
    shown = caplog.text + "".join(str(a.headers) + json.dumps(a.body) for a in answers)
    assert len(emulator.state.tokens) == 2
    for token in emulator.state.tokens:
        for part in token.split("."):
            assert part not in shown
    assert emulator.identity_header not in shown
