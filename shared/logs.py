"""Structured log lines: JSON in the message (the worker forwards only the text to Application Insights),
the same fields as record attributes, and the correlation IDs on every line. Never a token; no join URL."""

from __future__ import annotations

import json
import logging
from typing import Any

from .invocation import Invocation

log = logging.getLogger("getjoinurl")


def _emit(
    level: int, event: str, invocation: Invocation, fields: dict[str, Any], *, with_traceback: bool = False
) -> None:
    if not log.isEnabledFor(level):
        return
    record = {
        "event": event,
        "function": invocation.function,
        "clientRequestId": invocation.client_request_id,
        "graphRequestId": invocation.graph_request_id,
        **fields,
    }
    log.log(level, json.dumps(record, separators=(",", ":")), extra={"getjoinurl": record}, exc_info=with_traceback)


def log_invocation(invocation: Invocation, status: int, outcome: str) -> None:
    """On an Entra ID route, the caller's object ID and app ID, so an admin can tell which flow or app called."""
    caller = (
        {"callerObjectId": invocation.caller_object_id, "callerAppId": invocation.caller_app_id}
        if invocation.caller_object_id is not None  # an Entra ID route signed the caller in
        else {}
    )
    _emit(
        logging.INFO,
        "invocation",
        invocation,
        {
            "outcome": outcome,
            "status": status,
            "graphAttempts": invocation.graph_attempts,
            "durationMs": round(invocation.deadline.elapsed() * 1000, 1),
            **invocation.extra_log_fields,
            **caller,
        },
    )


def log_retry(invocation: Invocation, reason: str, wait_seconds: float, attempt: int) -> None:
    _emit(
        logging.WARNING,
        "graphRetry",
        invocation,
        {"reason": reason, "waitSeconds": round(wait_seconds, 3), "attempt": attempt},
    )


def log_give_up(invocation: Invocation, reason: str, attempt: int) -> None:
    _emit(logging.WARNING, "graphGiveUp", invocation, {"reason": reason, "attempt": attempt})


def log_unexpected(invocation: Invocation) -> None:
    """Called from an exception handler: the traceback goes with the correlation fields."""
    _emit(logging.ERROR, "unexpectedError", invocation, {}, with_traceback=True)
