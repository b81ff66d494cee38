"""The one error type every layer raises and the HTTP layer turns into JSON."""

from __future__ import annotations

import math
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
        self.fix = fix  # the one step that mends it, with real values, when there is one (Diagnose shows it apart)
        self.retry_after = retry_after
        self.graph_request_id = graph_request_id

    def text(self) -> str:
        """The caller's message: what is wrong, then what to do about it."""
        return f"{self.message} {self.fix}" if self.fix else self.message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.text()}}

    def retry_after_header(self) -> str | None:
        """Whole seconds, rounded up: Power Automate's retry policy reads an integer."""
        return None if self.retry_after is None else str(max(1, math.ceil(self.retry_after)))


def invalid_request(message: str) -> ApiError:
    return ApiError(400, "InvalidRequest", message)
