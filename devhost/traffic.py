"""What `make run` prints for each request the emulator answers: a line a developer reads to see what the function
asked Graph and the identity endpoint (and, with AUTH, what callers asked the Entra ID token issuer), and what came
back.

    06:12:03.512 identity GET /msi/token?api-version=2019-08-01&resource=http://127.0.0.1:7072 -> 200 (0.5 ms)
    06:12:03.530 Graph    POST /v1.0/$batch [2 requests] -> 200 (0.9 ms) client-request-id 5c...
                            GET /users/adele@.../onlineMeetings/MSo...==/getVirtual... -> 200 client-request-id 5c...
                            GET /users/adele@.../onlineMeetings?$filter=JoinWebUrl eq '...' -> 404 client-request-id ...

(names, IDs, the link and the client-request-id are cut short here; `make run` prints them whole but for the
link's query). Each Graph line ends with the client-request-id the function sent, the caller's own when it sent a
GUID (the one its answer carries too), so under load a line is tied to its call; a token request serves every call
and has none.

Paths and queries are shown percent-decoded, so IDs and filter values read as Graph compares them. Nothing
secret is printed: headers never are (the token, the identity header), a URL's query string (a join link's
context or passcode) is elided to `?...`, and anything shaped like a JWT is masked, whoever put it in a URL.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any, TextIO
from urllib.parse import unquote

from .emulator.state import Exchange

INDENT = " " * 24  # a $batch item's lines: past the time and the service of the line above
_URL_QUERY = re.compile(r"(https?://[^\s'?#]*)\?(?:[^\s']|'')*")  # up to the end of an OData literal
_JWT = re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*")
_REQUEST_ID = re.compile(r"[0-9A-Za-z-]{1,64}")  # a GUID, as the function sends; anything else is not shown


def lines(exchange: Exchange) -> list[str]:
    """The exchange as printed: one line, and for a `$batch` one more per request inside it, in the order sent."""
    request = exchange.request
    at = time.strftime("%H:%M:%S", time.localtime(exchange.received)) + f".{int(exchange.received * 1000) % 1000:03d}"
    service = "Entra ID" if exchange.entra else "identity" if exchange.identity else "Graph"
    items = _batch_items(request.body) if request.target.split("?")[0].endswith("/$batch") else None
    count = "" if items is None else f" [{len(items)} request{'s' * (len(items) != 1)}]"
    outcome = "no answer" if exchange.status is None else str(exchange.status)
    caller = _client_request_id(request.headers)
    printed = [
        f"{at} {service:<8} {request.method} {unquote(request.target)}{count} -> {outcome} "
        f"({_duration(exchange.seconds)})"
    ]
    if items is not None:
        statuses = _item_statuses(exchange.reply)
        printed += [f"{INDENT}{method} {unquote(url)} -> {statuses.get(i, 'no answer')}" for i, method, url in items]
    return [_JWT.sub("<token>", _URL_QUERY.sub(r"\1?...", line)) + caller for line in printed]


def _client_request_id(headers: dict[str, str]) -> str:
    """The line's ending: the client-request-id the request carries, when it has one that reads as an ID."""
    value = next((value for name, value in headers.items() if name.lower() == "client-request-id"), "")
    return f" client-request-id {value}" if _REQUEST_ID.fullmatch(value) else ""


class Printer:
    """An emulator observer writing each exchange's lines at once, flushed: threads answering side by side never
    interleave their lines."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def __call__(self, exchange: Exchange) -> None:
        text = "".join(line + "\n" for line in lines(exchange))
        with self.lock:
            self.stream.write(text)
            self.stream.flush()


def _batch_items(body: Any) -> list[tuple[str, str, str]]:
    """(id, method, url) of each request in a `$batch` body, whatever shape the body came in."""
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list):
        return []
    return [
        (str(item.get("id")), str(item.get("method", "?")), str(item.get("url", "?")))
        if isinstance(item, dict)
        else ("", "?", "?")
        for item in requests
    ]


def _item_statuses(reply: Any) -> dict[str, Any]:
    """A `$batch` answer's status per item id (Graph answers them in any order)."""
    responses = reply.get("responses") if isinstance(reply, dict) else None
    if not isinstance(responses, list):
        return {}
    return {str(r.get("id")): r.get("status") for r in responses if isinstance(r, dict)}


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"
