"""devhost/traffic.py: the lines `make run` prints for the emulator's traffic, readable, complete, never a secret and
whole under threads. What the emulator hands its observer: tests/test_emulator.py."""

from __future__ import annotations

import re
import threading
import time

from devhost.emulator.state import Exchange, Recorded
from devhost.traffic import INDENT, Printer, lines
from shared.graph_paths import appointment_url_path, meeting_lookup_path
from shared.validation import MeetingQuery

ORGANIZER = "8b1f6c3e-2a4d-4e9b-a7c1-5d3e2f1a0b9c"
LINK = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0?context=%7B%22Tid%22%3A%22t%22%7D"
JWT = "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJodHRwcyJ9.c2lnbmF0dXJl"
SECRET_HEADERS = {"Authorization": f"Bearer {JWT}", "X-IDENTITY-HEADER": "5f0c1e2d3a4b5c6d7e8f9a0b1c2d3e4f"}


def exchange(target: str, method: str = "GET", body: object = None, **result: object) -> Exchange:
    done = Exchange(Recorded(method, target, dict(SECRET_HEADERS), body), identity=target.startswith("/msi/"))
    for name, value in {"status": 200, "seconds": 0.0123, **result}.items():
        setattr(done, name, value)
    return done


def shown(done: Exchange) -> list[str]:
    """The printed lines without the time, which is checked once."""
    printed = lines(done)
    assert re.fullmatch(r"[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\.[0-9]{3}", printed[0][:12]), printed[0]
    return [printed[0][13:], *printed[1:]]


def test_a_call_by_id_and_a_lookup_by_link_read_as_graph_compares_them_with_the_links_query_elided():
    meeting_id = "MSo4YjFmNmMzZS0yYTRkKjAqKjE5Om1lZXRpbmdfYWJjQHRocmVhZC52Mg=="
    by_id = exchange("/v1.0" + appointment_url_path("adele@contoso.example", meeting_id))
    assert shown(by_id) == [
        f"Graph    GET /v1.0/users/adele@contoso.example/onlineMeetings/{meeting_id}/getVirtualAppointmentJoinWebUrl"
        " -> 200 (12.3 ms)"
    ]
    by_link = exchange("/v1.0" + meeting_lookup_path(MeetingQuery(ORGANIZER, teams_link=LINK)), status=404, seconds=30)
    assert shown(by_link) == [
        f"Graph    GET /v1.0/users/{ORGANIZER}/onlineMeetings?$filter=JoinWebUrl eq "
        "'https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0?...' -> 404 (30.00 s)"
    ]


def test_no_token_identity_header_or_link_query_is_ever_printed():
    printed = "\n".join(
        [
            *lines(exchange("/msi/token?api-version=2019-08-01&resource=https://graph.microsoft.com")),
            *lines(exchange(f"/v1.0/users/x/onlineMeetings?access_token={JWT}")),  # whoever puts one in a URL
            *lines(
                exchange(
                    "/v1.0/users/x/onlineMeetings?$filter=JoinWebUrl eq 'https://teams.microsoft.com/meet/1?p=pass'"
                )
            ),
        ]
    )
    assert "identity GET /msi/token?api-version=2019-08-01&resource=https://graph.microsoft.com -> 200" in printed
    assert "access_token=<token>" in printed and "JoinWebUrl eq 'https://teams.microsoft.com/meet/1?...'" in printed
    assert "eyJ" not in printed and "Bearer" not in printed and SECRET_HEADERS["X-IDENTITY-HEADER"] not in printed
    assert "context" not in printed and "pass" not in printed


def test_a_batch_shows_its_requests_in_the_order_sent_each_with_its_own_status():
    body = {
        "requests": [
            {"id": "1", "method": "GET", "url": appointment_url_path(ORGANIZER, "MSo=")},
            {"id": "2", "method": "GET", "url": meeting_lookup_path(MeetingQuery(ORGANIZER, teams_link=LINK))},
            {"id": "3", "method": "GET", "url": "/users/x/onlineMeetings"},
        ]
    }
    answer = {"responses": [{"id": "2", "status": 429}, {"id": "1", "status": 200}]}  # any order; one missing
    assert shown(exchange("/v1.0/$batch", "POST", body, reply=answer)) == [
        "Graph    POST /v1.0/$batch [3 requests] -> 200 (12.3 ms)",
        f"{INDENT}GET /users/{ORGANIZER}/onlineMeetings/MSo=/getVirtualAppointmentJoinWebUrl -> 200",
        f"{INDENT}GET /users/{ORGANIZER}/onlineMeetings?$filter=JoinWebUrl eq "
        "'https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0?...' -> 429",
        f"{INDENT}GET /users/x/onlineMeetings -> no answer",
    ]
    for odd in (None, [], {"requests": "x"}, {"requests": [7]}):  # whatever a client sends, a line and no error
        assert shown(exchange("/v1.0/$batch", "POST", odd, status=None))[0].endswith("-> no answer (12.3 ms)")


class Trickle:
    """A stream that lets other threads run between the lines of one write, as a pipe's writes may split."""

    def __init__(self) -> None:
        self.text: list[str] = []

    def write(self, text: str) -> None:
        for line in text.splitlines(keepends=True):
            self.text.append(line)
            time.sleep(0)  # hands over the GIL

    def flush(self) -> None:
        pass


def test_lines_from_threads_answering_at_once_never_interleave():
    stream = Trickle()
    printer = Printer(stream)
    body = {"requests": [{"id": str(i), "method": "GET", "url": f"/users/u{i}/onlineMeetings"} for i in range(3)]}

    def answer(thread: int) -> None:
        for _ in range(20):
            printer(exchange(f"/v1.0/$batch?thread={thread}", "POST", body))

    threads = [threading.Thread(target=answer, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    printed = "".join(stream.text).splitlines()
    assert len(printed) == 6 * 20 * 4
    for first in range(0, len(printed), 4):
        assert "$batch?thread=" in printed[first]
        assert [line.strip()[:10] for line in printed[first + 1 : first + 4]] == ["GET /users"] * 3


def test_each_graph_line_ends_with_the_client_request_id_of_its_call_and_a_junk_one_is_not_shown():
    caller = "5c1e2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
    body = {"requests": [{"id": "1", "method": "GET", "url": "/users/x/onlineMeetings"}]}
    batch = exchange("/v1.0/$batch", "POST", body, reply={"responses": [{"id": "1", "status": 200}]})
    batch.request.headers["client-request-id"] = caller
    assert shown(batch) == [
        f"Graph    POST /v1.0/$batch [1 request] -> 200 (12.3 ms) client-request-id {caller}",
        f"{INDENT}GET /users/x/onlineMeetings -> 200 client-request-id {caller}",
    ]
    token = exchange("/msi/token?api-version=2019-08-01&resource=r")  # serves every call: it names none
    assert shown(token) == ["identity GET /msi/token?api-version=2019-08-01&resource=r -> 200 (12.3 ms)"]
    odd = exchange("/v1.0/users/x/onlineMeetings")
    odd.request.headers["Client-Request-Id"] = "x\r\nInjected: yes"
    assert shown(odd) == ["Graph    GET /v1.0/users/x/onlineMeetings -> 200 (12.3 ms)"]
