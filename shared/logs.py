"""Structured log lines: JSON in the message (the worker forwards only the text to Application Insights),
the same fields as record attributes, and the correlation IDs on every line. Never a token; no join URL."""

from __future__ import annotations

import json
import logging
from typing import Any

from .invocation import Invocation

log = logging.getLogger("getjoinurl")


def _emit(level: int, event: str, call: Invocation, fields: dict[str, Any], *, with_traceback: bool = False) -> None:
    if not log.isEnabledFor(level):
        return
    record = {
        "event": event,
        "function": call.function,
        "clientRequestId": call.client_request_id,
        "graphRequestId": call.graph_request_id,
        **fields,
    }
    log.log(level, json.dumps(record, separators=(",", ":")), extra={"getjoinurl": record}, exc_info=with_traceback)


def log_invocation(call: Invocation, status: int, outcome: str) -> None:
    """On an Entra ID route, the caller's object ID and app ID, so an admin can tell which flow or app called."""
    caller = {"callerObjectId": call.caller_object_id, "callerAppId": call.caller_app_id} if call.signed_in else {}
    _emit(
        logging.INFO,
        "invocation",
        call,
        {
            "outcome": outcome,
            "status": status,
            "graphAttempts": call.graph_attempts,
            "durationMs": round(call.deadline.elapsed() * 1000, 1),
            **call.extra_log_fields,
            **caller,
        },
    )


def log_retry(call: Invocation, reason: str, wait_seconds: float, attempt: int) -> None:
    _emit(
        logging.WARNING,
        "graphRetry",
        call,
        {"reason": reason, "waitSeconds": round(wait_seconds, 3), "attempt": attempt},
    )


def log_give_up(call: Invocation, reason: str, attempt: int) -> None:
    _emit(logging.WARNING, "graphGiveUp", call, {"reason": reason, "attempt": attempt})


def log_unexpected(call: Invocation) -> None:
    """Called from an exception handler: the traceback goes with the correlation fields."""
    _emit(logging.ERROR, "unexpectedError", call, {}, with_traceback=True)
