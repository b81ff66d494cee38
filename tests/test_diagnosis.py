"""shared/diagnosis.py and the Diagnose function: GET /api/diagnose tells an admin what works and, for what does not,
the step that mends it."""

from __future__ import annotations

import json
import logging

import pytest

from devhost.emulator import SETUPS
from devhost.emulator.identity_endpoint import IDENTITY_CLIENT_ID, IDENTITY_OBJECT_ID
from devhost.emulator.state import APPOINTMENT_URL_ROLE, LOOKUP_ROLE, Fault
from tests.conftest import APP_ROOT, ORGANIZER_ID, ORGANIZER_UPN, Answer


def checks_of(answer: Answer) -> dict[str, dict]:
    return {check["name"]: check for check in answer.body["checks"]}


def failing(answer: Answer) -> list[str]:
    return [c["name"] for c in answer.body["checks"] if not c["ok"]]


def test_function_json_opens_it_to_the_master_key_only():
    config = json.loads((APP_ROOT / "Diagnose" / "function.json").read_text())
    [trigger] = [b for b in config["bindings"] if b["type"] == "httpTrigger"]
    assert (trigger["authLevel"], trigger["route"], trigger["methods"]) == ("admin", "diagnose", ["get"])


def test_a_working_setup_is_ok_with_every_check_named(diagnose, meeting, emulator):
    answer = diagnose(organizerId=ORGANIZER_UPN, meetingId=meeting.meeting_id)
    assert answer.status == 200
    assert answer.body["ok"] is True, answer.body
    assert list(checks_of(answer)) == [
        "settings",
        "organizerAllowed",
        "token",
        f"appRole:{APPOINTMENT_URL_ROLE}",
        f"appRole:{LOOKUP_ROLE}",
        "accessPolicy",
        "joinUrlCall",
    ]
    identity = answer.body["identity"]
    assert (identity["clientId"], identity["objectId"], identity["tenantId"]) == (
        IDENTITY_CLIENT_ID,
        IDENTITY_OBJECT_ID,
        emulator.tenant_id,
    )
    assert sorted(identity["roles"]) == sorted([APPOINTMENT_URL_ROLE, LOOKUP_ROLE])
    assert identity["tokenIssuedAt"].endswith("Z") and identity["tokenExpiresAt"] > identity["tokenIssuedAt"]
    assert " ms" in checks_of(answer)["token"]["detail"]  # how long the token took
    assert meeting.appointment_url not in json.dumps(answer.body)  # the join URL is not shown
    assert answer.headers["Cache-Control"] == "no-store"


def test_without_any_organizer_the_policy_is_not_checked_and_not_ok(diagnose, configure, emulator):
    """Every call needs an access policy for its organizer: with no organizer to try, Diagnose cannot say calls
    work, even in a set-up where they all would fail."""
    emulator.apply_setup("no-policy")
    answer = diagnose()
    assert answer.body["ok"] is False
    assert list(checks_of(answer)) == [
        "settings",
        "token",
        f"appRole:{APPOINTMENT_URL_ROLE}",
        f"appRole:{LOOKUP_ROLE}",
        "accessPolicy",
    ]
    assert failing(answer) == ["accessPolicy"]
    check = checks_of(answer)["accessPolicy"]
    assert check["detail"].startswith("Not checked") and "DEFAULT_ORGANIZER_ID" in check["detail"]
    assert "organizerId=" in check["fix"]
    assert emulator.graph_calls() == []


def test_without_an_organizer_given_the_default_organizer_is_checked(diagnose, configure, emulator):
    configure(DEFAULT_ORGANIZER_ID=ORGANIZER_UPN)
    emulator.add_meeting(ORGANIZER_ID, ORGANIZER_UPN)
    emulator.apply_setup("no-policy")
    answer = diagnose()
    assert answer.body["ok"] is False
    assert failing(answer) == ["accessPolicy"]
    check = checks_of(answer)["accessPolicy"]
    assert check["detail"].startswith("AccessPolicyMissing")
    assert f"-Organizers {ORGANIZER_UPN}" in check["fix"]
    emulator.state.access_policy = True  # granted: the default organizer's check passes, and with it `ok`
    assert diagnose().body["ok"] is True


def test_no_app_roles_names_the_grant_for_each(diagnose, configure, emulator):
    emulator.state.roles = set()
    answer = diagnose(organizerId=ORGANIZER_ID)
    assert answer.body["ok"] is False
    assert answer.body["identity"]["roles"] == []
    checks = checks_of(answer)
    for role in (APPOINTMENT_URL_ROLE, LOOKUP_ROLE):
        check = checks[f"appRole:{role}"]
        assert not check["ok"]
        assert f"python3 scripts/grant_app_roles.py {IDENTITY_OBJECT_ID} {role}" in check["fix"]
        assert "24 hours" in check["fix"]
    assert checks["accessPolicy"]["detail"].startswith("Not checked")
    assert emulator.graph_calls() == []


def test_a_missing_access_policy_is_the_one_failing_check_with_the_script_filled_in(diagnose, meeting, emulator):
    emulator.state.access_policy = False
    answer = diagnose(organizerId=ORGANIZER_UPN, meetingId=meeting.meeting_id)
    assert answer.body["ok"] is False
    assert failing(answer) == ["accessPolicy", "joinUrlCall"]
    fix = checks_of(answer)["accessPolicy"]["fix"]
    assert f"-AppId {IDENTITY_CLIENT_ID} -Organizers {ORGANIZER_UPN}" in fix and "30 minutes" in fix
    assert checks_of(answer)["accessPolicy"]["detail"].startswith("AccessPolicyMissing")


def test_without_the_lookup_role_the_join_url_call_tests_the_policy(diagnose, meeting, emulator):
    emulator.state.roles = {APPOINTMENT_URL_ROLE}
    emulator.state.policy_users = set()
    answer = diagnose(organizerId=ORGANIZER_ID, meetingId=meeting.meeting_id)
    assert failing(answer) == [f"appRole:{LOOKUP_ROLE}", "accessPolicy", "joinUrlCall"]
    assert checks_of(answer)["joinUrlCall"]["detail"].startswith("AccessPolicyMissing")
    assert checks_of(answer)["accessPolicy"]["detail"].startswith("AccessPolicyMissing")


def test_without_the_lookup_role_a_join_url_call_that_gets_through_shows_the_policy(diagnose, meeting, emulator):
    emulator.apply_setup("no-lookup-role")
    answer = diagnose(organizerId=ORGANIZER_ID, meetingId=meeting.meeting_id)
    assert failing(answer) == [f"appRole:{LOOKUP_ROLE}"]
    assert checks_of(answer)["accessPolicy"]["ok"] is True


def test_when_neither_the_lookup_nor_the_join_url_call_can_test_the_policy_it_is_not_checked(
    diagnose, meeting, emulator
):
    emulator.apply_setup("no-role")
    answer = diagnose(organizerId=ORGANIZER_ID, meetingId=meeting.meeting_id)
    assert failing(answer) == [
        f"appRole:{APPOINTMENT_URL_ROLE}",
        f"appRole:{LOOKUP_ROLE}",
        "accessPolicy",
        "joinUrlCall",
    ]
    policy = checks_of(answer)["accessPolicy"]
    assert policy["detail"].startswith("Not checked:") and "GraphPermissionMissing" in policy["detail"]
    assert policy["fix"].startswith(f"Grant {LOOKUP_ROLE} first")
    assert [check["name"] for check in answer.body["checks"]][-2:] == ["accessPolicy", "joinUrlCall"]


def test_another_refusal_is_graph_access_denied_with_graphs_words(diagnose, meeting, emulator):
    emulator.state.graph_faults.extend([Fault(status=200), Fault(status=403)])  # the lookup passes, the call not
    answer = diagnose(organizerId=ORGANIZER_ID, meetingId=meeting.meeting_id)
    assert failing(answer) == ["joinUrlCall"]
    check = checks_of(answer)["joinUrlCall"]
    assert check["detail"].startswith("GraphAccessDenied") and "Scripted fault." in check["detail"]
    assert check["fix"]


def test_an_unknown_meeting_or_organizer_says_which_to_check(diagnose, meeting, emulator):
    answer = diagnose(organizerId="nobody@contoso.example", meetingId=meeting.meeting_id)
    checks = checks_of(answer)
    assert "Graph knows no user nobody@contoso.example" in checks["accessPolicy"]["detail"]
    assert "Check organizerId" in checks["accessPolicy"]["fix"]
    answer = diagnose(organizerId=ORGANIZER_ID, meetingId="MSpub3RoZXJl")
    assert "Check the meeting ID" in checks_of(answer)["joinUrlCall"]["fix"]


def test_a_404_that_does_not_name_a_missing_user_means_the_policy_let_the_lookup_through(diagnose, meeting, emulator):
    """Whether real Graph answers a lookup that matches nothing with 200 or 404 is not documented: either way it
    did not refuse it."""
    emulator.state.graph_faults.append(Fault(status=404))
    answer = diagnose(organizerId=ORGANIZER_ID)
    check = checks_of(answer)["accessPolicy"]
    assert check["ok"] and "404, not 403" in check["detail"]


def test_an_organizer_outside_the_allow_list_blocks(diagnose, meeting, configure):
    configure(ALLOWED_ORGANIZER_IDS="someone.else@contoso.example")
    answer = diagnose(organizerId=ORGANIZER_ID)
    assert failing(answer) == ["organizerAllowed"]
    assert f"Add {ORGANIZER_ID} to ALLOWED_ORGANIZER_IDS" in checks_of(answer)["organizerAllowed"]["fix"]


def test_broader_roles_than_needed_are_advice_that_leaves_ok_true(diagnose, meeting, emulator):
    emulator.state.roles = {"VirtualAppointment.ReadWrite.All", LOOKUP_ROLE}
    answer = diagnose(organizerId=ORGANIZER_ID)
    assert answer.body["ok"] is True
    advice = checks_of(answer)["leastPrivilege"]
    assert (advice["ok"], advice["advice"]) == (False, True)


def test_a_bad_setting_is_the_answer_not_a_500(diagnose, configure, emulator):
    configure(GRAPH_API_VERSION="v2")
    answer = diagnose(organizerId=ORGANIZER_ID)
    assert answer.status == 200
    assert (answer.body["ok"], answer.body["identity"]) == (False, None)
    [check] = answer.body["checks"]
    assert check["name"] == "settings" and "GRAPH_API_VERSION" in check["detail"]
    assert emulator.state.identity_requests == []


def test_an_identity_endpoint_failure_names_the_identity_to_check(diagnose, configure, emulator):
    configure(AZURE_CLIENT_ID="11111111-2222-3333-4444-555555555555")  # the emulator has no such identity
    answer = diagnose()
    assert (answer.body["ok"], answer.body["identity"]) == (False, None)
    token = checks_of(answer)["token"]
    assert not token["ok"]
    assert "Unable to load the proper Managed Identity" in token["detail"]  # the platform's own words
    assert "AZURE_CLIENT_ID is its client ID" in token["fix"]
    assert "AZURE_CLIENT_ID 11111111-2222-3333-4444-555555555555" in checks_of(answer)["settings"]["detail"]


@pytest.mark.parametrize("params", [{"organizerId": "../me"}, {"meetingId": "a/b", "organizerId": ORGANIZER_ID}])
def test_bad_input_is_400_before_any_call(diagnose, configure, emulator, params):
    answer = diagnose(**params)
    assert (answer.status, answer.body["error"]["code"]) == (400, "InvalidRequest")
    assert emulator.state.identity_requests == [] and emulator.state.graph_requests == []


def test_meeting_without_any_organizer_says_so_where_the_join_url_call_belongs(diagnose, meeting):
    answer = diagnose(meetingId=meeting.meeting_id)
    assert list(checks_of(answer)) == [  # the order docs/operations.md gives: the order a call meets them
        "settings",
        "token",
        f"appRole:{APPOINTMENT_URL_ROLE}",
        f"appRole:{LOOKUP_ROLE}",
        "accessPolicy",
        "joinUrlCall",
    ]
    assert failing(answer) == ["accessPolicy", "joinUrlCall"]
    assert "organizerId" in checks_of(answer)["joinUrlCall"]["fix"]


def test_no_token_or_identity_header_in_the_answer_or_logs(diagnose, meeting, emulator, caplog):
    caplog.set_level(logging.DEBUG)
    emulator.state.roles = {LOOKUP_ROLE}
    answer = diagnose(organizerId=ORGANIZER_ID, meetingId=meeting.meeting_id)
    shown = json.dumps(answer.body) + str(answer.headers) + caplog.text
    [token] = emulator.state.tokens
    assert all(part not in shown for part in token.split("."))
    assert emulator.identity_header not in shown


@pytest.mark.parametrize("setup", list(SETUPS))
def test_each_make_run_setup_shows_its_failing_check(diagnose, emulator, setup):
    emulator.add_meeting(ORGANIZER_ID, ORGANIZER_UPN)
    emulator.apply_setup(setup)
    answer = diagnose(organizerId=ORGANIZER_ID)
    expected = {
        "ok": [],
        "no-role": [f"appRole:{APPOINTMENT_URL_ROLE}", f"appRole:{LOOKUP_ROLE}", "accessPolicy"],
        "no-lookup-role": [f"appRole:{LOOKUP_ROLE}", "accessPolicy"],
        "no-policy": ["accessPolicy"],
    }
    assert failing(answer) == expected[setup]
    assert answer.body["ok"] is (setup == "ok")


# --- given a Teams link or the number from an invite --------------------------------------------------------------


def test_a_link_is_looked_up_as_getjoinurl_looks_it_up_with_its_own_check(diagnose, meeting, emulator):
    """The classic link names its organizer (its Oid), as it does for GetJoinUrl."""
    answer = diagnose(joinUrl=meeting.teams_link)
    assert answer.body["ok"] is True, answer.body
    assert list(checks_of(answer)) == [
        "settings",
        "organizerAllowed",
        "token",
        f"appRole:{APPOINTMENT_URL_ROLE}",
        f"appRole:{LOOKUP_ROLE}",
        "accessPolicy",
        "meetingLookup",
        "joinUrlCall",
    ]
    lookup = checks_of(answer)["meetingLookup"]
    assert f"among the meetings of {ORGANIZER_ID}: {meeting.meeting_id}" in lookup["detail"]
    assert "the object ID (Oid) in the Teams link's context" in checks_of(answer)["organizerAllowed"]["detail"]
    assert meeting.appointment_url not in json.dumps(answer.body)


def test_a_number_from_the_invite_is_looked_up_for_the_organizer_given(diagnose, meeting):
    answer = diagnose(joinMeetingId="123\u00a0456 789 012", organizerId=ORGANIZER_UPN)
    assert answer.body["ok"] is True, answer.body
    assert checks_of(answer)["meetingLookup"]["ok"] and checks_of(answer)["joinUrlCall"]["ok"]


def test_a_link_graph_cannot_find_fails_the_lookup_and_leaves_the_call_unchecked(diagnose, meeting, configure):
    configure(DEFAULT_ORGANIZER_ID=ORGANIZER_UPN)
    answer = diagnose(joinUrl="https://teams.microsoft.com/meet/987654321?p=x")  # a short link names no organizer
    assert failing(answer) == ["meetingLookup", "joinUrlCall"]
    lookup = checks_of(answer)["meetingLookup"]
    assert lookup["detail"].startswith("MeetingNotFound: No online meeting organized by " + ORGANIZER_UPN)
    assert checks_of(answer)["joinUrlCall"]["detail"] == "Not checked: the lookup found no meeting."


def test_a_number_without_any_organizer_is_not_looked_up(diagnose, meeting, emulator):
    answer = diagnose(joinMeetingId="123456789012")
    assert failing(answer) == ["accessPolicy", "meetingLookup", "joinUrlCall"]
    assert "organizerId=" in checks_of(answer)["meetingLookup"]["fix"]
    assert emulator.graph_calls() == []


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"joinUrl": "https://evil.example/l/meetup-join/x"}, "joinUrl must be a Teams meeting link"),
        ({"joinMeetingId": "12345"}, "joinMeetingId must be the numeric Teams meeting ID"),
        ({"meetingId": "MSpkYzE3", "joinMeetingId": "123456"}, "Send only one of"),
        ({"joinurl": "https://teams.microsoft.com/meet/123456"}, "'joinurl', which this function does not read"),
        ({"OrganizerId": ORGANIZER_ID}, "it reads 'organizerId'"),
    ],
)
def test_a_link_or_name_getjoinurl_refuses_is_refused_alike(diagnose, emulator, params, says):
    answer = diagnose(**params)
    assert (answer.status, answer.body["error"]["code"]) == (400, "InvalidRequest")
    assert says in answer.body["error"]["message"]
    assert emulator.state.identity_requests == []


def test_the_allow_list_check_says_where_the_organizer_came_from_and_which_form_to_add(diagnose, meeting, configure):
    configure(ALLOWED_ORGANIZER_IDS=ORGANIZER_UPN)
    answer = diagnose(joinUrl=meeting.teams_link)
    check = checks_of(answer)["organizerAllowed"]
    assert not check["ok"] and "the object ID (Oid) in the Teams link's context" in check["detail"]
    assert check["fix"].startswith(f"Add the object ID {ORGANIZER_ID} to ALLOWED_ORGANIZER_IDS")
    assert checks_of(diagnose(organizerId=ORGANIZER_UPN, joinUrl=meeting.teams_link))["organizerAllowed"]["ok"]


def test_diagnose_is_callable_with_plain_parameters(configure, meeting):
    """As another route (a caller signed in with Entra ID) calls it: a mapping of parameters and an invocation."""
    from shared.diagnosis import diagnose as run
    from shared.invocation import Invocation

    answer = run({"joinUrl": meeting.teams_link}, Invocation.start("Diagnose", {}, 5.0))
    assert answer["ok"] is True
