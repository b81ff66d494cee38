"""shared/appointment_urls.py end to end: a meeting by ID, Teams link or number gets its join URL, in a single call
or a batch (order kept, each result with its item's position, duplicates asked for once, the batch's organizer), and
ALLOWED_ORGANIZER_IDS admits or refuses each organizer, saying where it came from."""

from __future__ import annotations

import pytest

from tests.conftest import (
    ORGANIZER_ID,
    ORGANIZER_UPN,
    batch_calls,
    by_id,
    distinct_meetings,
    inner_requests,
    lookup_filter,
)

# --- a meeting by ID, Teams link or number ----------------------------------------------------------------------------


def test_get_answers_the_join_url(get_join_url, meeting, emulator):
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    assert answer.status == 200
    assert answer.body == {
        "joinWebUrl": meeting.appointment_url,
        "meetingId": meeting.meeting_id,
        "organizerId": ORGANIZER_ID,
    }
    assert answer.headers["Cache-Control"] == "no-store"
    [sent] = emulator.graph_calls()
    assert sent.method == "GET"
    assert sent.target.startswith(f"/v1.0/users/{ORGANIZER_ID}/onlineMeetings/")
    assert sent.target.endswith("/getVirtualAppointmentJoinWebUrl")
    assert answer.headers["request-id"]  # Graph's, for Microsoft support


def test_post_body_and_upn_organizer(get_join_url, meeting, emulator):
    answer = get_join_url("POST", body={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_UPN})
    assert answer.status == 200
    assert answer.body["organizerId"] == ORGANIZER_UPN
    assert answer.body["joinWebUrl"] == meeting.appointment_url
    [sent] = emulator.graph_calls()
    assert f"/users/{ORGANIZER_UPN.replace('@', '%40')}/" in sent.target


def test_default_organizer_from_settings(get_join_url, meeting, configure):
    configure(DEFAULT_ORGANIZER_ID=ORGANIZER_UPN)
    answer = get_join_url(params={"meetingId": meeting.meeting_id})
    assert answer.status == 200
    assert answer.body["organizerId"] == ORGANIZER_UPN


def test_classic_join_link_is_looked_up_then_answered(get_join_url, meeting, emulator):
    answer = get_join_url(params={"joinUrl": meeting.teams_link, "organizerId": ORGANIZER_UPN})
    assert answer.status == 200
    assert answer.body == {
        "joinWebUrl": meeting.appointment_url,
        "meetingId": meeting.meeting_id,
        "organizerId": ORGANIZER_UPN,
    }
    lookup, join = emulator.graph_calls()
    assert lookup_filter(lookup) == f"JoinWebUrl eq '{meeting.teams_link}'"  # exactly as Teams wrote it
    assert "'" not in lookup.target and " " not in lookup.target  # the whole query is URL-encoded
    assert join.target.endswith("/getVirtualAppointmentJoinWebUrl")


def test_short_link_is_looked_up_by_its_number(get_join_url, meeting, emulator):
    link = "https://teams.microsoft.com/meet/123456789012?p=AbCdEf123"
    answer = get_join_url(params={"joinUrl": link, "organizerId": ORGANIZER_ID})
    assert answer.status == 200 and answer.body["meetingId"] == meeting.meeting_id
    assert lookup_filter(emulator.graph_calls()[0]) == "joinMeetingIdSettings/joinMeetingId eq '123456789012'"


def test_meeting_number_from_the_invite(get_join_url, meeting, emulator):
    answer = get_join_url("POST", body={"joinMeetingId": "123 456 789 012", "organizerId": ORGANIZER_ID})
    assert answer.status == 200 and answer.body["meetingId"] == meeting.meeting_id
    assert lookup_filter(emulator.graph_calls()[0]).endswith("eq '123456789012'")


# --- batches ----------------------------------------------------------------------------------------------------------


def test_batch_answers_in_order_given(get_join_url, emulator, configure):
    meetings = [
        emulator.add_meeting(ORGANIZER_ID, ORGANIZER_UPN, join_meeting_id=f"1000000000{i:02}") for i in range(3)
    ]
    items = [
        {"meetingId": meetings[0].meeting_id, "organizerId": ORGANIZER_ID},
        {"meetingId": "../../etc", "organizerId": ORGANIZER_ID},
        {"joinUrl": meetings[1].teams_link},
        {"meetingId": "MSpub3RoZXJl", "organizerId": ORGANIZER_UPN},
        {"joinMeetingId": "1000000000 02", "organizerId": ORGANIZER_UPN},
        "not an object",
    ]
    answer = get_join_url("POST", body={"meetings": items}, action="batch")
    assert answer.status == 200
    results = answer.body["results"]
    assert [r.get("joinWebUrl") for r in results] == [
        meetings[0].appointment_url,
        None,
        meetings[1].appointment_url,
        None,
        meetings[2].appointment_url,
        None,
    ]
    assert results[0] == {"index": 0, **items[0], "joinWebUrl": meetings[0].appointment_url}
    assert set(results[1]) == {"index", "error"}  # nothing unvalidated is echoed
    assert results[1]["error"]["code"] == "InvalidRequest"
    assert results[2]["meetingId"] == meetings[1].meeting_id
    assert results[3]["error"]["code"] == "MeetingNotFound" and results[3]["meetingId"] == "MSpub3RoZXJl"
    assert results[5]["error"]["code"] == "InvalidRequest"
    assert len(batch_calls(emulator)) == 2  # one round of lookups, one of join URLs
    assert all("../" not in str(r.body) for r in batch_calls(emulator))


def test_every_batch_result_starts_with_the_position_of_its_item(get_join_url, emulator, configure):
    """A flow that filters the results (say, the failed ones) still finds each one's item: meetings[index]."""
    meetings = distinct_meetings(emulator, 2)
    items = [by_id(meetings[0]), {"meetingId": "../x"}, "not an object", {"joinUrl": meetings[1].teams_link}]
    items += [by_id(meetings[0]), {"meetingId": "MSpub3RoZXJl", "organizerId": ORGANIZER_ID}]
    results = get_join_url("POST", body={"meetings": items}).body["results"]
    assert [next(iter(result)) for result in results] == ["index"] * len(items)
    assert [result["index"] for result in results] == list(range(len(items)))
    failed = [result["index"] for result in results if "error" in result]
    assert failed == [1, 2, 5]


@pytest.mark.parametrize("meetings", [[], [{"meetingId": "MSpkYzE3"}] * 101, "MSpkYzE3", {"meetingId": "x"}])
def test_batch_size_and_shape_are_checked(get_join_url, emulator, meetings):
    answer = get_join_url("POST", body={"meetings": meetings})
    assert (answer.status, answer.body["error"]["code"]) == (400, "InvalidRequest")
    assert emulator.state.graph_requests == []


@pytest.mark.parametrize("given_by", ["meetingId", "joinUrl", "joinMeetingId"])
def test_duplicate_items_cost_one_graph_request_and_each_gets_its_result_in_order(
    get_join_url, meeting, emulator, given_by
):
    other = emulator.add_meeting(ORGANIZER_ID, join_meeting_id="400000000001")
    item_of = {
        "meetingId": by_id,
        "joinUrl": lambda m: {"joinUrl": m.teams_link},
        "joinMeetingId": lambda m: {"joinMeetingId": m.join_meeting_id, "organizerId": ORGANIZER_ID},
    }[given_by]
    order = [meeting] * 60 + [other] + [meeting] * 38 + [other]
    answer = get_join_url("POST", body={"meetings": [item_of(m) for m in order]})
    results = answer.body["results"]
    assert [r["joinWebUrl"] for r in results] == [m.appointment_url for m in order]
    assert [r["meetingId"] for r in results] == [m.meeting_id for m in order]
    assert [r["index"] for r in results] == list(range(len(order)))  # duplicates share an answer, not a result
    sent = inner_requests(emulator)
    steps = 1 if given_by == "meetingId" else 2  # a lookup, then the join URL
    assert len(sent) == len(set(sent)) == 2 * steps  # one request per distinct meeting, per step
    assert len(batch_calls(emulator)) == steps


def test_the_same_meeting_by_id_and_by_link_is_asked_for_once(get_join_url, meeting, emulator):
    items = [{"joinUrl": meeting.teams_link}, by_id(meeting), {"joinUrl": meeting.teams_link}]
    answer = get_join_url("POST", body={"meetings": items})
    assert [r["joinWebUrl"] for r in answer.body["results"]] == [meeting.appointment_url] * 3
    lookups, joins = [[item["url"] for item in sent.body["requests"]] for sent in batch_calls(emulator)]
    assert len(lookups) == 1 and len(joins) == 1


def test_a_batch_organizer_serves_the_items_that_name_none_after_their_links(
    get_join_url, meeting, emulator, configure
):
    """Order: the item's own organizerId, its link's Oid, the batch's organizerId, then DEFAULT_ORGANIZER_ID."""
    configure(DEFAULT_ORGANIZER_ID="nobody@contoso.example")
    other = emulator.add_meeting(ORGANIZER_ID, ORGANIZER_UPN, join_meeting_id="555666777888")
    items = [
        {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID},  # its own
        {"joinUrl": meeting.teams_link},  # its link's Oid (ORGANIZER_ID), not the batch's
        {"meetingId": other.meeting_id},  # the batch's, not DEFAULT_ORGANIZER_ID
        {"joinMeetingId": "555 666 777 888", "organizerId": ""},  # empty counts as left out: the batch's
    ]
    answer = get_join_url("POST", body={"meetings": items, "organizerId": ORGANIZER_UPN})
    assert [result.get("organizerId") for result in answer.body["results"]] == [
        ORGANIZER_ID,
        ORGANIZER_ID,
        ORGANIZER_UPN,
        ORGANIZER_UPN,
    ]
    assert all("joinWebUrl" in result for result in answer.body["results"]), answer.body


def test_a_batch_organizer_may_come_in_the_query_string(get_join_url, meeting):
    answer = get_join_url(
        "POST", params={"organizerId": ORGANIZER_ID}, body={"meetings": [{"meetingId": meeting.meeting_id}]}
    )
    [result] = answer.body["results"]
    assert (result["organizerId"], result["joinWebUrl"]) == (ORGANIZER_ID, meeting.appointment_url)


@pytest.mark.parametrize("organizer", ["not an organizer", 42])
def test_a_bad_batch_organizer_fails_the_whole_call(get_join_url, meeting, emulator, organizer):
    answer = get_join_url("POST", body={"meetings": [{"meetingId": meeting.meeting_id}], "organizerId": organizer})
    assert (answer.status, answer.body["error"]["code"]) == (400, "InvalidRequest")
    assert "organizerId must be" in answer.body["error"]["message"]
    assert emulator.state.identity_requests == [] and emulator.state.graph_requests == []


# --- ALLOWED_ORGANIZER_IDS --------------------------------------------------------------------------------------------


def test_allow_list_admits_listed_organizers_case_insensitively(get_join_url, meeting, configure):
    configure(ALLOWED_ORGANIZER_IDS=f" {ORGANIZER_UPN.upper()} , 00000000-0000-0000-0000-000000000001")
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_UPN})
    assert answer.status == 200


def test_allow_list_refuses_others_before_any_token_or_graph_call(get_join_url, meeting, configure, emulator):
    configure(ALLOWED_ORGANIZER_IDS="someone.else@contoso.example")
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID})
    assert (answer.status, answer.body["error"]["code"]) == (403, "OrganizerNotAllowed")
    assert emulator.state.identity_requests == [] and emulator.state.graph_requests == []


def test_allow_list_applies_to_batch_items_and_implied_organizers(get_join_url, meeting, configure, emulator):
    configure(ALLOWED_ORGANIZER_IDS=ORGANIZER_UPN)
    answer = get_join_url(
        "POST",
        body={
            "meetings": [
                {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_UPN},
                {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID},
                {"joinUrl": meeting.teams_link},  # its Oid is not on the list
            ]
        },
    )
    results = answer.body["results"]
    assert results[0]["joinWebUrl"] == meeting.appointment_url
    assert results[1]["error"]["code"] == "OrganizerNotAllowed"
    assert results[2]["error"]["code"] == "OrganizerNotAllowed"


def test_a_batch_organizer_is_held_to_the_allowed_list(get_join_url, meeting, emulator, configure):
    configure(ALLOWED_ORGANIZER_IDS=ORGANIZER_ID)
    items = [{"meetingId": meeting.meeting_id}, {"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}]
    answer = get_join_url("POST", body={"meetings": items, "organizerId": ORGANIZER_UPN})
    first, second = answer.body["results"]
    assert first["error"]["code"] == "OrganizerNotAllowed" and "joinWebUrl" in second


def test_a_refused_organizer_is_named_with_where_it_came_from_and_the_form_to_add(get_join_url, meeting, configure):
    """The README's own example lists user principal names; a classic link names its organizer by object ID only,
    so the 403 says the organizer came from the link and that its object ID is the form to add."""
    configure(
        ALLOWED_ORGANIZER_IDS=f"{ORGANIZER_UPN},adele@contoso.com", DEFAULT_ORGANIZER_ID="default@contoso.example"
    )
    by_link = get_join_url("POST", body={"joinUrl": meeting.teams_link}).body["error"]
    assert by_link["code"] == "OrganizerNotAllowed"
    assert (
        f"Organizer {ORGANIZER_ID}, the object ID (Oid) in the Teams link's context, since no organizerId"
        in (by_link["message"])
    )
    assert f"Add the object ID {ORGANIZER_ID} to ALLOWED_ORGANIZER_IDS" in by_link["message"]
    assert "holds the organizer's user principal name alone does not match it" in by_link["message"]

    sent = get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}).body["error"]["message"]
    assert f"Organizer {ORGANIZER_ID}, the organizerId sent, is not in" in sent
    assert f"Add {ORGANIZER_ID} to ALLOWED_ORGANIZER_IDS as it was sent" in sent

    by_default = get_join_url(params={"meetingId": meeting.meeting_id}).body["error"]["message"]
    assert (
        "Organizer default@contoso.example, the app setting DEFAULT_ORGANIZER_ID, since neither the call" in by_default
    )
    assert "as DEFAULT_ORGANIZER_ID holds it, or set DEFAULT_ORGANIZER_ID" in by_default

    batch = {"meetings": [{"meetingId": meeting.meeting_id}], "organizerId": "batch@contoso.example"}
    [item] = get_join_url("POST", body=batch).body["results"]
    assert (
        "Organizer batch@contoso.example, the batch's organizerId, since neither the item nor a classic link in it"
        in (item["error"]["message"])
    )


def test_listing_both_forms_serves_a_link_and_a_named_organizer(get_join_url, meeting, configure):
    configure(ALLOWED_ORGANIZER_IDS=f"{ORGANIZER_UPN},{ORGANIZER_ID}")
    assert get_join_url("POST", body={"joinUrl": meeting.teams_link}).status == 200
    assert get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_UPN}).status == 200
