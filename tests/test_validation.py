"""shared/validation.py: what a caller sends is checked before anything leaves the process. Meeting IDs, Teams links,
meeting numbers and organizers; one way to name the meeting; the organizer from the call, the link's Oid or
DEFAULT_ORGANIZER_ID. Each refusal is a 400 that says what to send (with a hint when a query string decoded the
value) and never reaches Graph."""

from __future__ import annotations

import pytest

from shared.validation import (
    organizer_from_teams_link,
    parse_allowed_organizers,
    parse_meeting_query,
    validate_join_meeting_id,
)
from tests.conftest import ORGANIZER_ID, ORGANIZER_UPN, error_of, lookup_filter

# --- the rules, called directly ---------------------------------------------------------------------------------------


def test_meeting_number_loses_its_spaces():
    assert validate_join_meeting_id(" 123 456 789 012 ") == "123456789012"


def test_organizer_comes_from_a_classic_links_context():
    link = (
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0?context="
        "%7b%22Tid%22%3a%2272f988bf-86f1-41af-91ab-2d7cd011db47%22%2c%22Oid%22%3a%22"
        "8b1f6c3e-2a4d-4e9b-a7c1-5d3e2f1a0b9c%22%7d"
    )
    assert organizer_from_teams_link(link) == "8b1f6c3e-2a4d-4e9b-a7c1-5d3e2f1a0b9c"
    assert organizer_from_teams_link(link.replace("8b1f6c3e", "../../x")) is None
    assert organizer_from_teams_link("https://teams.microsoft.com/l/meetup-join/x?context=%7bbroken") is None


def test_explicit_organizer_beats_the_link_and_the_default():
    query = parse_meeting_query({"meetingId": "MSpk", "organizerId": "a@b.example"}, "c@d.example")
    assert query.organizer_id == "a@b.example"
    assert parse_meeting_query({"meetingId": "MSpk"}, "c@d.example").organizer_id == "c@d.example"


def test_numeric_meeting_number_in_json_is_accepted():
    assert parse_meeting_query({"joinMeetingId": 123456789012}, "c@d.example").join_meeting_id == "123456789012"


def test_allow_list_parsing():
    assert parse_allowed_organizers("") is None
    assert parse_allowed_organizers(" A@B.example ,, c@d.example ") == {"a@b.example", "c@d.example"}


# --- meeting IDs and organizers ---------------------------------------------------------------------------------------


HOSTILE_MEETING_IDS = [
    "",
    "../../me",
    "..%2F..%2Fme",
    "abc/def",
    "abc?x=1",
    "abc#frag",
    "abc%2Fdef",
    "abc%00",
    "abc\x00def",
    "abc\r\nX-Injected: 1",
    "abc def",
    "abc\tdef",
    "a" * 1025,
    "\uff2d\uff33\uff50",  # fullwidth letters
    "MSp\u200bkYz",  # zero-width space
    "MSpkYz\u0130",  # dotted capital I
    "мeeting",  # Cyrillic
    "abc'def",
    'abc"def',
    "abc\n",
    "$batch",
    "%2e%2e",
]


HOSTILE_ORGANIZERS = [
    "../users",
    "user@contoso.example/../../x",
    "user@contoso.example?x=1",
    "user@contoso.example#x",
    "user%40contoso.example",
    "user@contoso",
    "@contoso.example",
    "user@@contoso.example",
    "user@contoso.example\r\n",
    "user\x00@contoso.example",
    "a" * 100 + "@contoso.example",
    "user@contoso.éxample",
    "8b1f6c3e-2a4d-4e9b-a7c1-5d3e2f1a0b9",
    "8b1f6c3e2a4d4e9ba7c15d3e2f1a0b9c",
    " user@contoso.example",
    "me",
]


@pytest.mark.parametrize("value", HOSTILE_MEETING_IDS, ids=range(len(HOSTILE_MEETING_IDS)))
def test_hostile_meeting_ids_are_400_with_no_graph_call(get_join_url, emulator, value):
    for method in ("GET", "POST"):
        if method == "POST" and value != value.strip():
            continue  # a body's value is trimmed first (tests/test_json_body.py); a query string's is not
        if method == "GET":
            answer = get_join_url(params={"meetingId": value, "organizerId": ORGANIZER_ID})
        else:
            answer = get_join_url("POST", body={"meetingId": value, "organizerId": ORGANIZER_ID})
        assert answer.status == 400, (method, value)
        assert answer.body["error"]["code"] == "InvalidRequest"
    assert emulator.state.graph_requests == [] and emulator.state.identity_requests == []


@pytest.mark.parametrize("value", HOSTILE_ORGANIZERS, ids=range(len(HOSTILE_ORGANIZERS)))
def test_hostile_organizers_are_400_with_no_graph_call(get_join_url, emulator, value):
    answer = get_join_url(params={"meetingId": "MSpkYzE3", "organizerId": value})
    assert answer.status == 400, value
    assert answer.body["error"]["code"] == "InvalidRequest"
    assert emulator.state.graph_requests == [] and emulator.state.identity_requests == []


def test_non_string_meeting_id_is_400(get_join_url, emulator):
    answer = get_join_url("POST", body={"meetingId": 12345, "organizerId": ORGANIZER_ID})
    assert answer.status == 400
    assert "string" in answer.body["error"]["message"]


def test_a_meeting_id_whose_plus_a_query_string_decoded_gets_a_hint(get_join_url, emulator):
    status, code, message = error_of(get_join_url(params={"meetingId": "abc def==", "organizerId": ORGANIZER_ID}))
    assert (status, code) == (400, "InvalidRequest")
    assert "holds a space" in message and "%2B" in message and '{"meetingId": "..."}' in message
    assert emulator.state.graph_requests == []


def test_a_meeting_id_that_is_simply_wrong_gets_no_such_hint(get_join_url):
    _, _, message = error_of(get_join_url(params={"meetingId": "abc/def", "organizerId": ORGANIZER_ID}))
    assert message.startswith("meetingId is not a Teams online meeting ID") and "%2B" not in message


def test_a_query_string_value_is_taken_as_sent_and_a_space_in_a_meeting_id_keeps_its_hint(get_join_url, emulator):
    answer = get_join_url(params={"meetingId": "MSpk YzE3", "organizerId": ORGANIZER_ID})
    assert answer.status == 400 and "a space is what a '+' becomes" in answer.body["error"]["message"]
    assert emulator.state.graph_requests == []


# --- Teams links ------------------------------------------------------------------------------------------------------


BAD_LINKS = [
    "http://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0",
    "https://teams.microsoft.com.evil.example/l/meetup-join/19%3ameeting_abc%40thread.v2/0",
    "https://teams.microsoft.com@evil.example/l/meetup-join/x",
    "https://evil.example/l/meetup-join/19%3ameeting_abc%40thread.v2/0",
    "https://teams.microsoft.com/l/meetup-join/abc' or JoinWebUrl ne '",
    "https://teams.microsoft.com/l/meetup-join/abc%27",  # fine: percent-escaped quote is just text
    "https://teams.microsoft.com/l/meetup-join/abc def",
    "https://teams.microsoft.com/l/meetup-join/abc#frag",
    "https://teams.microsoft.com/l/channel/19%3aabc/General",
    "https://teams.microsoft.com/meet/12ab?p=x",
    "https://teams.microsoft.com/meet/123456789012?p=x'y",
    "javascript:alert(1)",
    "https://teams.microsoft.com/l/meetup-join/" + "a" * 2048,
    "https://teams.microsoft.com/l/meetup-join/\u0430bc",
    "https://teams.microsoft.com/l/meetup-join/abc\r\n",
    "",
]


@pytest.mark.parametrize("link", BAD_LINKS, ids=range(len(BAD_LINKS)))
def test_only_teams_links_are_accepted(get_join_url, meeting, emulator, link):
    answer = get_join_url(params={"joinUrl": link, "organizerId": ORGANIZER_ID})
    if link.endswith("abc%27"):
        assert answer.status == 404  # valid shape, no such meeting; the filter held
        assert lookup_filter(emulator.graph_calls()[0]) == f"JoinWebUrl eq '{link}'"
        return
    assert answer.status == 400, link
    assert emulator.state.graph_requests == []


def test_a_refused_link_that_looks_url_decoded_gets_a_hint(get_join_url, emulator):
    link = 'https://teams.microsoft.com/l/meetup-join/19:meeting_Zm9v@thread.v2/0?context={"Tid":"t","Oid":"o"}'
    status, code, message = error_of(get_join_url(params={"joinUrl": link, "organizerId": ORGANIZER_ID}))
    assert (status, code) == (400, "InvalidRequest")
    assert "looks URL-decoded" in message and '{"joinUrl": "..."}' in message and "URL-encoded" in message
    assert emulator.state.graph_requests == []


@pytest.mark.parametrize(
    "link",
    [
        "https://teams.microsoft.com/meet/123456789?p=Ab cd",  # a '+' in the passcode, decoded to a space
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting_Zm9v%40thread.v2/0?context=%7B%22Tid%22%3A%22t %22%7D",
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting_Zm9v%40thread.v2/0?context=%7B%22Tid%22%3A%22t\n%22%7D",
    ],
    ids=["a '+' decoded", "a space pasted into an encoded link", "a line break"],
)
def test_a_link_with_whitespace_inside_is_told_so_not_that_it_was_decoded(get_join_url, emulator, link):
    status, code, message = error_of(get_join_url("POST", body={"joinUrl": link, "organizerId": ORGANIZER_ID}))
    assert (status, code) == (400, "InvalidRequest")
    assert "holds a space, tab or line break inside it" in message and "a query string makes one of a '+'" in message
    assert "looks URL-decoded" not in message
    assert emulator.state.graph_requests == []


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("organizerId", f"{ORGANIZER_ID} ", "has a space, tab or line break at its start or end"),
        ("organizerId", f"\t{ORGANIZER_UPN}", "has a space, tab or line break at its start or end"),
        ("organizerId", "{" + ORGANIZER_ID + "}", f"without its braces: {ORGANIZER_ID}."),
        ("meetingId", "MSpkYzE3\n", "has a space, tab or line break at its start or end"),
        ("meetingId", "MSpkYzE3 ", "may also be a '+' the query string decoded"),
        ("meetingId", "MSpkYzE3,MSpkYzE4", "was meetingId sent twice?"),
        ("organizerId", f"{ORGANIZER_UPN},{ORGANIZER_ID}", "was organizerId sent twice?"),
        ("organizerId", "adele vance@contoso.example", "holds a space, tab or line break inside it"),
        ("joinUrl", "http://teams.microsoft.com/meet/123456789", "Teams links are https"),
        ("joinUrl", "HTTPS://TEAMS.MICROSOFT.COM/meet/123456789", "in lower case"),
        ("joinUrl", "https://teams.live.com/meet/9876543210123", "Teams free"),
        (
            "joinUrl",
            "https://statics.teams.cdn.office.net/evergreen-assets/safelinks/1/atp-safelinks.html?url=https%3A%2F%2Fx",
            "a Safe Links address (Outlook's or Teams')",
        ),
        ("joinUrl", "https://teams.microsoft.com/meet/123456789 ", "has a space, tab or line break at its start"),
        ("joinUrl", "teams.microsoft.com/meet/123456789", "starting https://"),
        (
            "joinUrl",
            "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fteams.microsoft.com%2Fmeet%2F123456789",
            "a Safe Links address (Outlook's or Teams')",
        ),
    ],
)
def test_a_query_string_value_refused_says_what_most_likely_went_wrong(get_join_url, emulator, field, value, says):
    """A query string's values are taken as sent (a space there may be a decoded '+'), so the refusal names what
    copy and paste, a repeated parameter or a mail client most likely did."""
    params = {"meetingId": "MSpkYzE3", "organizerId": ORGANIZER_ID} | {field: value}
    if field == "joinUrl":
        del params["meetingId"]
    status, code, message = error_of(get_join_url(params=params))
    assert (status, code) == (400, "InvalidRequest")
    assert says in message, message
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


def test_a_link_that_is_simply_wrong_gets_no_such_hint(get_join_url):
    _, _, message = error_of(
        get_join_url(params={"joinUrl": "https://example.com/meeting", "organizerId": ORGANIZER_ID})
    )
    assert message.startswith("joinUrl must be a Teams meeting link") and "URL-decoded" not in message


@pytest.mark.parametrize("name", ["joinWebUrl", "JoinWebURL"])
def test_a_link_sent_as_join_web_url_alone_is_told_to_send_join_url(get_join_url, meeting, name):
    answer = get_join_url("POST", body={name: meeting.teams_link})
    assert answer.status == 400
    message = answer.body["error"]["message"]
    assert message.startswith("Send one of meetingId") and f"This call has {name}" in message
    assert "send a Teams join link as joinUrl" in message


# --- meeting numbers --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["123456789012", "123456789012.0", "1.23456789012e11", "123456789012E0"])
def test_a_whole_json_number_is_the_meeting_number_however_written(get_join_url, meeting, emulator, number):
    raw = f'{{"joinMeetingId": {number}, "organizerId": "{ORGANIZER_ID}"}}'.encode()
    answer = get_join_url("POST", raw_body=raw)
    assert answer.status == 200 and answer.body["meetingId"] == meeting.meeting_id
    assert lookup_filter(emulator.graph_calls()[0]).endswith("eq '123456789012'")


WHOLE = 'joinMeetingId must be a string of digits, such as "123 456 789 012", or a whole number.'


INEXACT = "exactly only below 9007199254740992: send this one as a string of digits."


@pytest.mark.parametrize(
    ("number", "says"),
    [
        ("1.5", WHOLE),
        ("123456789012.5", WHOLE),
        ("1e400", INEXACT),  # Python reads it as infinity
        ("true", WHOLE),
        ('["123456789012"]', WHOLE),
        ("9007199254740993.0", INEXACT),  # read as ...992.0: a float past 2^53 may have lost digits
        ("1e19", INEXACT),
    ],
)
def test_a_meeting_number_that_is_no_exact_whole_number_says_what_to_send(get_join_url, emulator, number, says):
    item = f'{{"joinMeetingId": {number}, "organizerId": "{ORGANIZER_ID}"}}'
    single = get_join_url("POST", raw_body=item.encode())
    assert (single.status, single.body["error"]["code"]) == (400, "InvalidRequest")
    [result] = get_join_url("POST", raw_body=f'{{"meetings": [{item}]}}'.encode()).body["results"]
    assert single.body["error"]["message"].endswith(says) and result["error"] == single.body["error"]
    assert emulator.state.graph_requests == []


@pytest.mark.parametrize(
    "number", ["12345", "1" * 21, "123-456", "".join(chr(0xFF11 + i) for i in range(9)), "123456789'"]
)
def test_bad_meeting_numbers_are_400(get_join_url, emulator, number):
    answer = get_join_url(params={"joinMeetingId": number, "organizerId": ORGANIZER_ID})
    assert answer.status == 400
    assert emulator.state.graph_requests == []


def test_a_link_with_a_trailing_newline_and_a_number_grouped_by_no_break_spaces_are_read(
    get_join_url, meeting, emulator
):
    by_link = get_join_url("POST", body={"joinUrl": meeting.teams_link + "\r\n"})
    assert by_link.status == 200, by_link.body
    for grouped in ("123\u00a0456\u00a0789\u00a0012", "123\u202f456\u2009789 012", "\u3000123456789012\u00a0"):
        answer = get_join_url("POST", body={"joinMeetingId": grouped, "organizerId": ORGANIZER_ID})
        assert answer.status == 200, (grouped, answer.body)
    lookups = [r.target for r in emulator.graph_calls() if "joinMeetingIdSettings" in r.target]
    assert len(lookups) == 3 and all("%27123456789012%27" in target for target in lookups)  # the digits alone


def test_tabs_or_line_ends_between_the_digits_are_no_group_separator(get_join_url, emulator):
    answer = get_join_url("POST", body={"joinMeetingId": "123\t456\n789", "organizerId": ORGANIZER_ID})
    assert answer.status == 400 and emulator.state.graph_requests == []


# --- which meeting, and whose -----------------------------------------------------------------------------------------


def test_more_than_one_selector_is_400(get_join_url, meeting, emulator):
    answer = get_join_url(params={"meetingId": meeting.meeting_id, "joinMeetingId": "123456789012"})
    assert answer.status == 400
    assert "only one" in answer.body["error"]["message"]
    assert emulator.state.graph_requests == []


def test_missing_organizer_without_default_is_400(get_join_url, meeting, emulator):
    answer = get_join_url(params={"meetingId": meeting.meeting_id})
    assert answer.status == 400
    assert answer.body["error"]["code"] == "InvalidRequest"
    assert "DEFAULT_ORGANIZER_ID" in answer.body["error"]["message"]
    assert emulator.state.graph_requests == []


def test_classic_link_names_its_organizer(get_join_url, meeting):
    answer = get_join_url("POST", body={"joinUrl": meeting.teams_link})
    assert answer.status == 200
    assert answer.body["organizerId"] == ORGANIZER_ID  # the Oid in the link's context


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


def test_a_space_inside_a_meeting_id_in_a_body_is_named_for_either_way_it_came(get_join_url, emulator):
    body = {"meetingId": "MSpk YzE3", "organizerId": ORGANIZER_ID}
    status, code, message = error_of(get_join_url("POST", body=body))
    assert (status, code) == (400, "InvalidRequest")
    assert "holds a space, tab or line break inside it" in message and "copy and paste left it" in message
    status, _, message = error_of(get_join_url(params={"joinMeetingId": "123456,789012", "organizerId": ORGANIZER_ID}))
    assert status == 400 and "was joinMeetingId sent twice?" in message
    assert emulator.state.graph_requests == []
