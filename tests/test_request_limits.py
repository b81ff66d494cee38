"""Bodies a caller can send to hurt the function: too large, or nested too deep, are refused before they cost
anything, in-process and through the dev host.

Memory is read with tracemalloc (every Python allocation on every thread of this process, from start() on): the
peak while the request is answered, above what was in use before it came.
"""

from __future__ import annotations

import json
import socket
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import requests

from devhost.host import serve
from shared.appointment_urls import BATCH_MAX_ITEMS
from shared.http import BODY_MAX_BYTES, HOST_BODY_MAX_BYTES
from shared.json_body import BODY_TEXT_MAX_BYTES, BODY_VALUES_MAX, JSON_MAX_DEPTH, text_width
from shared.validation import ORGANIZER_ID_MAX, TEAMS_LINK_MAX
from tests.conftest import ORGANIZER_ID, serving

HUGE = 100_000_000  # about what the Functions host lets through (100 MB)
MEMORY_ALLOWANCE = 4 * BODY_MAX_BYTES  # what answering may take above the body itself


def huge_body() -> bytes:
    """One JSON string of 100 MB: parsing it takes two copies and a while, so a test that fails does so fast."""
    return b'{"meetings": "' + b"x" * HUGE + b'"}'


@contextmanager
def peak_memory() -> Iterator[Callable[[], int]]:
    """Bytes allocated at the peak inside the block, above what was allocated when it began."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        peak: list[int] = []
        yield lambda: peak[0]
        peak.append(tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()


def test_a_100_mb_body_is_refused_before_it_is_parsed(get_join_url, emulator):
    body = huge_body()
    with peak_memory() as peak:
        started = time.monotonic()
        answer = get_join_url("POST", raw_body=body)
        elapsed = time.monotonic() - started
    assert (answer.status, answer.body["error"]["code"]) == (413, "RequestTooLarge")
    assert f"{len(body):,} bytes" in answer.body["error"]["message"]
    assert peak() < MEMORY_ALLOWANCE  # parsing it took two 100 MB copies, and gigabytes for a batch of items
    assert elapsed < 1.0  # parsing it took seconds
    assert emulator.state.identity_requests == [] and emulator.state.graph_requests == []


def test_a_declared_content_length_over_the_limit_is_refused_without_reading_the_body(get_join_url, emulator):
    answer = get_join_url("POST", raw_body=b'{"meetingId": "MSpkYzE3"}', headers={"content-length": str(HUGE)})
    assert (answer.status, answer.body["error"]["code"]) == (413, "RequestTooLarge")
    assert emulator.state.graph_requests == []


@pytest.mark.parametrize("declared", ["", "12", "-5", "1e9", "\u00b2", "9" * 30])
def test_a_content_length_that_is_no_size_over_the_limit_goes_by_the_body(get_join_url, meeting, declared):
    body = json.dumps({"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}).encode()
    headers = {"content-length": declared} if declared else {}
    answer = get_join_url("POST", raw_body=body, headers=headers)
    assert answer.status == (413 if declared == "9" * 30 else 200)


def test_the_largest_valid_batch_is_well_under_the_limit(get_join_url, emulator):
    link = "https://teams.microsoft.com/l/meetup-join/"
    organizer = "a" * 64 + "@" + "b" * 40 + ".example"
    assert len(organizer) == ORGANIZER_ID_MAX
    items = [
        {"joinUrl": link + f"{i:03}" + "x" * (TEAMS_LINK_MAX - len(link) - 3), "organizerId": organizer}
        for i in range(BATCH_MAX_ITEMS)
    ]
    body = json.dumps({"meetings": items}, indent=2).encode()
    assert len(body) * 4 < BODY_MAX_BYTES
    answer = get_join_url("POST", raw_body=body)
    assert answer.status == 200
    assert len(answer.body["results"]) == BATCH_MAX_ITEMS


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


@contextmanager
def dev_host() -> Iterator[int]:
    """The dev host on a free port, serving until the block ends."""
    with serving(serve("127.0.0.1", 0)) as server:
        yield server.server_address[1]


def test_the_dev_host_passes_a_100_mb_body_on_and_the_function_refuses_it(configure, emulator, monkeypatch):
    """As the Functions host does with its default limit: it reads bodies up to 100 MB and hands them over; the
    function's check is what keeps them from being parsed."""
    monkeypatch.delenv("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", raising=False)
    body = huge_body()
    with dev_host() as port, peak_memory() as peak:
        answer = requests.post(f"http://127.0.0.1:{port}/api/GetJoinUrl", data=body, timeout=30)
    assert (answer.status_code, answer.json()["error"]["code"]) == (413, "RequestTooLarge")
    assert peak() < len(body) + MEMORY_ALLOWANCE  # the host's one copy of the body, and little more
    assert emulator.state.graph_requests == []


def test_with_the_limit_infra_sets_the_host_refuses_a_large_body_before_reading_it(configure, emulator, monkeypatch):
    """FUNCTIONS_REQUEST_BODY_SIZE_LIMIT as infra sets it: a declared 100 MB is refused at once, with none of the
    body sent, so neither the host nor the worker ever holds it."""
    monkeypatch.setenv("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", str(HOST_BODY_MAX_BYTES))
    head = f"POST /api/GetJoinUrl HTTP/1.1\r\nHost: x\r\nContent-Length: {HUGE}\r\n\r\n".encode()
    with dev_host() as port, socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(head)  # and no body: a host that waited for it would answer only at its 30 s I/O timeout
        status_line = client.makefile("rb").readline()
    assert status_line.split()[1] == b"413"
    assert emulator.state.graph_requests == []


def test_a_body_over_the_function_limit_but_under_the_host_limit_gets_the_json_413(configure, monkeypatch):
    monkeypatch.setenv("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", str(HOST_BODY_MAX_BYTES))
    body = b'{"meetingId": "' + b"x" * (BODY_MAX_BYTES + 1) + b'"}'
    assert BODY_MAX_BYTES < len(body) <= HOST_BODY_MAX_BYTES
    with dev_host() as port:
        answer = requests.post(f"http://127.0.0.1:{port}/api/GetJoinUrl", data=body, timeout=30)
    assert (answer.status_code, answer.json()["error"]["code"]) == (413, "RequestTooLarge")


# --- what a body under the limit may cost once parsed (tests/test_instance_memory.py measures it) ----------------


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


def test_a_body_in_another_encoding_than_utf8_is_refused(get_join_url):
    answer = get_join_url("POST", raw_body='{"meetingId": "MSpkYzE3"}'.encode("utf-16"))
    assert answer.status == 400 and "not UTF-8" in answer.body["error"]["message"]
