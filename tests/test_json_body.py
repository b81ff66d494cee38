"""shared/json_body.py: a JSON body is parsed only once what parsing it would cost is known to be small (nesting,
values, the width of its text), its values are trimmed, and a long number is kept as its digits."""

from __future__ import annotations

import pytest

from shared.appointment_urls import BATCH_MAX_ITEMS
from shared.graph_paths import appointment_url_path
from shared.json_body import BODY_TEXT_MAX_BYTES, BODY_VALUES_MAX, JSON_MAX_DEPTH, text_width
from tests.conftest import ORGANIZER_ID, ORGANIZER_UPN, error_of

# --- what the body holds ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2]", b'"meetingId"', b"\xff\xfe\x00", b"null", b"[" * 100_000 + b"]" * 100_000],
    ids=["broken", "array", "string", "bad-utf8", "null", "deeply-nested"],
)
def test_malformed_bodies_are_400(get_join_url, emulator, raw):
    answer = get_join_url("POST", raw_body=raw)
    assert answer.status == 400
    assert answer.body["error"]["code"] == "InvalidRequest"
    assert emulator.state.graph_requests == []


def test_a_body_in_another_encoding_than_utf8_is_refused(get_join_url):
    answer = get_join_url("POST", raw_body='{"meetingId": "MSpkYzE3"}'.encode("utf-16"))
    assert answer.status == 400 and "not UTF-8" in answer.body["error"]["message"]


def test_surrounding_whitespace_is_trimmed_from_every_body_field_and_graph_gets_the_clean_value(
    get_join_url, meeting, emulator
):
    answer = get_join_url(
        "POST", body={"meetingId": "\t" + meeting.meeting_id + " \n", "organizerId": ORGANIZER_UPN + " "}
    )
    assert (answer.status, answer.body["meetingId"], answer.body["organizerId"]) == (
        200,
        meeting.meeting_id,
        ORGANIZER_UPN,
    )
    [sent] = emulator.graph_calls()
    path = appointment_url_path(ORGANIZER_UPN, meeting.meeting_id)  # no %20, %09 or %0A in it
    assert sent.target == f"/v1.0{path}"


def test_batch_items_and_the_batch_organizer_are_trimmed_too(get_join_url, meeting):
    answer = get_join_url(
        "POST",
        body={"meetings": [{"meetingId": f" {meeting.meeting_id}\n"}], "organizerId": f"\u00a0{ORGANIZER_ID}\t"},
    )
    [result] = answer.body["results"]
    assert (result["organizerId"], result["joinWebUrl"]) == (ORGANIZER_ID, meeting.appointment_url)


@pytest.mark.parametrize("digits", [65, 5000, 100_000])
def test_a_meeting_number_of_thousands_of_digits_is_too_long_not_invalid_json(get_join_url, emulator, digits):
    raw = b'{"joinMeetingId": ' + b"1" * digits + b', "organizerId": "' + ORGANIZER_ID.encode() + b'"}'
    answer = get_join_url("POST", raw_body=raw)
    assert (answer.status, answer.body["error"]["code"]) == (400, "InvalidRequest")
    message = answer.body["error"]["message"]
    assert f"a JSON number written with {digits:,} characters, too long for a numeric Teams meeting ID" in message
    assert "not valid JSON" not in message
    item = get_join_url("POST", raw_body=b'{"meetings": [' + raw + b"]}").body["results"][0]
    assert f"{digits:,} characters" in item["error"]["message"]
    assert emulator.state.graph_requests == []


@pytest.mark.parametrize("number", [b"9" * 5000, b"1." + b"9" * 900_000 + b"e-999999999", b"-0." + b"1" * 70])
def test_a_long_number_in_a_field_the_function_ignores_is_ignored(get_join_url, meeting, number):
    """Kept as its length, never converted: a float of 900,000 digits would cost many MB to convert."""
    raw = b'{"ticket": ' + number + b', "meetingId": "' + meeting.meeting_id.encode() + b'", "organizerId": "'
    answer = get_join_url("POST", raw_body=raw + ORGANIZER_ID.encode() + b'"}')
    assert answer.status == 200, answer.body


def test_a_meeting_number_written_as_a_long_fraction_is_too_long(get_join_url, emulator):
    raw = b'{"joinMeetingId": 1' + b"0" * 70 + b'.0e-60, "organizerId": "' + ORGANIZER_ID.encode() + b'"}'
    answer = get_join_url("POST", raw_body=raw)
    assert (answer.status, answer.body["error"]["code"]) == (400, "InvalidRequest")
    assert "written with 77 characters, too long" in answer.body["error"]["message"]
    assert emulator.state.graph_requests == []


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(get_join_url, emulator, constant):
    """Python's json reads them; JSON has no such values, so a body holding one, anywhere, is not valid JSON."""
    for raw in (f'{{"joinMeetingId": {constant}}}', f'{{"meetingId": "MSpkYzE3", "x": [{constant}]}}'):
        answer = get_join_url("POST", raw_body=raw.encode())
        assert (answer.status, answer.body["error"]["code"]) == (400, "InvalidRequest")
        assert "not valid JSON" in answer.body["error"]["message"]
    assert emulator.state.graph_requests == []


# --- what parsing it may cost (tests/test_instance_memory.py measures it) ---------------------------------------------


def nested(depth: int) -> bytes:
    """A valid request whose one extra field nests to `depth` levels in all."""
    extra = "[" * (depth - 3) + "]" * (depth - 3)
    return f'{{"meetings": [{{"meetingId": "MSpkYzE3", "organizerId": "{ORGANIZER_ID}", "x": {extra}}}]}}'.encode()


@pytest.mark.parametrize("depth", [JSON_MAX_DEPTH + 1, 900, 100_000])
def test_json_nested_deeper_than_the_limit_is_400_before_any_use(get_join_url, emulator, depth):
    answer = get_join_url("POST", raw_body=nested(depth))
    assert (answer.status, answer.body["error"]["code"]) == (400, "InvalidRequest")
    assert f"deeper than {JSON_MAX_DEPTH} levels" in answer.body["error"]["message"]
    assert emulator.state.graph_requests == []


def test_json_nested_up_to_the_limit_is_read(get_join_url, meeting, emulator):
    answer = get_join_url("POST", raw_body=nested(JSON_MAX_DEPTH).replace(b"MSpkYzE3", meeting.meeting_id.encode()))
    assert answer.body["results"][0]["joinWebUrl"] == meeting.appointment_url


def values_body(values: int) -> bytes:
    """A valid single call of exactly `values` JSON values: the root, two keys and their values, a key and a list."""
    extra = values - 7  # root, "meetingId", its value, "organizerId", its value, "x", the list
    items = ",".join(["0"] * extra)
    return f'{{"meetingId": "MSpkYzE3", "organizerId": "{ORGANIZER_ID}", "x": [{items}]}}'.encode()


def test_a_body_of_as_many_json_values_as_the_budget_is_read_and_one_more_is_refused_unparsed(get_join_url, emulator):
    assert get_join_url("POST", raw_body=values_body(BODY_VALUES_MAX)).status == 404  # read, and asked of Graph
    answer = get_join_url("POST", raw_body=values_body(BODY_VALUES_MAX + 1))
    assert (answer.status, answer.body["error"]["code"]) == (413, "RequestTooComplex")
    message = answer.body["error"]["message"]
    assert f"{BODY_VALUES_MAX + 1:,} JSON values" in message and f"at most {BODY_VALUES_MAX:,}" in message
    assert "leave out fields this function does not read" in message  # what to change
    assert emulator.graph_calls() != [] and len(emulator.graph_calls()) == 1  # the first call only


def test_text_inside_strings_is_not_counted_as_values(get_join_url):
    """Commas and brackets in a webhook's text are not structure: a note full of them is read."""
    note = "[{a, b: c}], " * 2000
    answer = get_join_url(
        "POST", body={"meetingId": "MSpkYzE3", "organizerId": ORGANIZER_ID, "note": note, "q": 'say "x"'}
    )
    assert answer.status == 404, answer.body


def test_the_largest_batch_with_a_webhooks_fields_beside_each_item_is_read(get_join_url, emulator):
    extras = {f"field{n}": f"value, {n}" for n in range(15)}  # what a flow's Select may carry besides the link
    items = [{"meetingId": f"MSpkYzE3{i:03}", "organizerId": ORGANIZER_ID, **extras} for i in range(BATCH_MAX_ITEMS)]
    answer = get_join_url("POST", body={"meetings": items, "trigger": {"id": "x", "body": {"subject": "y"}}})
    assert answer.status == 200 and len(answer.body["results"]) == BATCH_MAX_ITEMS


def text_body(first: str, characters: int) -> bytes:
    """A valid single call of `characters` characters as written (an escape counts its own), `first` the first of
    its note."""
    head, tail = f'{{"meetingId": "MSpkYzE3", "organizerId": "{ORGANIZER_ID}", "x": "{first}', '"}'
    return (head + "a" * (characters - len(head) - len(tail)) + tail).encode()


@pytest.mark.parametrize(
    ("first", "width"),
    [("\U0001f600", 4), ("\\ud83d\\ude00", 4), ("\u20ac", 2), ("\\u20ac", 2), ("\u00e9", 1), ("\\u00e9", 1)],
    ids=["emoji", "surrogate-escape", "euro", "euro-escape", "latin-1", "latin-1-escape"],
)
def test_a_body_is_held_to_its_size_as_python_text_by_its_widest_character(get_join_url, first, width):
    """Python keeps a string in 1, 2 or 4 bytes a character, by its widest, written or escaped: a body may hold that
    many times fewer characters. The largest such body is read; one character more is refused before decoding."""
    most = BODY_TEXT_MAX_BYTES // width
    if width == 1:
        most -= len(first.encode()) - len(first)  # and within the body limit in bytes
    assert text_width(text_body(first, most)) == width
    assert get_join_url("POST", raw_body=text_body(first, most)).status == 404  # read, and asked of Graph
    if width > 1:
        answer = get_join_url("POST", raw_body=text_body(first, most + 1))
        assert (answer.status, answer.body["error"]["code"]) == (413, "RequestTooComplex")
        assert f"in {width} bytes" in answer.body["error"]["message"]


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b'{"meetingId": "MSpkYzE3",}', "at character"),
        (b'{"joinMeetingId": NaN}', "NaN is not JSON"),
        (b'{"meetingId": "\xff"}', "not UTF-8 at byte"),
    ],
)
def test_a_body_that_is_not_json_says_why_and_where(get_join_url, emulator, raw, why):
    status, code, message = error_of(get_join_url("POST", raw_body=raw))
    assert (status, code) == (400, "InvalidRequest")
    assert message.startswith("The request body is not valid JSON (") and why in message
    assert emulator.state.graph_requests == []
