"""The one error type every layer raises and the HTTP layer turns into JSON."""

from __future__ import annotations

import math
import re
from typing import Any


class ApiError(Exception):
    """An answer for the caller: HTTP status, a stable code and a message that says what to fix."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        fix: str | None = None,
        retry_after: float | None = None,
        graph_request_id: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message  # what is wrong
        # The one step that mends it, with real values, when there is one (Diagnose shows it apart). An error with a
        # wait says it here, in words, before any other step: a flow that retries learns when, and when to stop.
        self.fix = fix if retry_after is None else _wait_first(retry_after, fix)
        self.retry_after = retry_after
        self.graph_request_id = graph_request_id

    def text(self) -> str:
        """The caller's message: what is wrong, then what to do about it."""
        return sentences(self.message, self.fix)

    def body(self) -> dict[str, Any]:
        """The wait goes in the body too: flows read a body more easily than a header, and Power Automate does
        not promise to honour Retry-After."""
        error: dict[str, Any] = {"code": self.code, "message": self.text()}
        if self.retry_after is not None:
            error["retryAfterSeconds"] = whole_seconds(self.retry_after)
        return {"error": error}

    def retry_after_header(self) -> str | None:
        return None if self.retry_after is None else str(whole_seconds(self.retry_after))


# A sentence's end: its stop, then any closing quotes or brackets ('... (HTTP 503).', 'Graph said: "down."').
_SENTENCE_END_RE = re.compile(r"[.!?][\"')\]`]*$")


def sentences(*parts: str | None) -> str:
    """Parts of a message joined so that each ends as a sentence before the next begins: text quoted from Graph or
    a credential, which may have no final stop, never runs into what follows. Empty parts are left out; the last
    part is kept as it is."""
    kept = [part.strip() for part in parts if part and part.strip()]
    ended = [part if _SENTENCE_END_RE.search(part) else f"{part}." for part in kept[:-1]]
    return " ".join(ended + kept[-1:])


def graph_said(graph_code: str, graph_message: str) -> str:
    """Graph's own words, quoted as a sentence of their own (empty when Graph said nothing)."""
    said = ": ".join(part for part in (graph_code, graph_message) if part)
    return f"Graph said: {said}" if said else ""


def whole_seconds(seconds: float) -> int:
    """Rounded up, at least 1: Power Automate's retry policy reads an integer, and 0 would mean no wait."""
    return max(1, math.ceil(seconds))


def try_again_in(seconds: float) -> str:
    """The wait in words, the same number as retryAfterSeconds and the Retry-After header."""
    whole = whole_seconds(seconds)
    return f"Try again in {whole} second{'' if whole == 1 else 's'}."


def _wait_first(seconds: float, fix: str | None) -> str:
    """The wait, then the fix for when waiting does not help (Try again in 5 seconds; if it persists, check ...): a
    fix that opens with a capitalized word continues the sentence in lower case."""
    if not fix:
        return try_again_in(seconds)
    if re.match(r"[A-Z][a-z]", fix):
        fix = fix[0].lower() + fix[1:]
    return f"{try_again_in(seconds).removesuffix('.')}; if it persists, {fix}"


def invalid_request(message: str) -> ApiError:
    return ApiError(400, "InvalidRequest", message)
