"""Schemathesis hooks for `make fuzz`, loaded by connector/fuzz.py through SCHEMATHESIS_HOOKS.

- batch_items_fail_alone (a check): the batch answers 200 even when single items are invalid (each gets its own
  error), so the schema cannot carry the single lookup's patterns for its items. This check holds every batch answer
  to them instead: 200 only for a list of 1 to 100 meetings, one result per item with its index, and an item gets
  InvalidRequest exactly when the single lookup's rules (the GET operation's parameter patterns and lengths, one of
  meetingId, joinUrl and joinMeetingId) reject it.
- filter_failure: three leniencies of the function that OpenAPI 2.0 cannot express for a JSON body property, so the
  definition states them in words: an empty string counts as a field left out (as in the query string, where the
  definition says allowEmptyValue), joinMeetingId may be a whole JSON number, and a text value is checked without its
  surrounding whitespace. A "schema-violating request accepted" failure on the single POST is dropped when the body
  uses one of them and is valid apart from them; it is kept otherwise.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import schemathesis

SPEC = json.loads((Path(__file__).resolve().parent / "apiDefinition.swagger.json").read_text(encoding="utf-8"))
RULES = {p["name"]: p for p in SPEC["paths"]["/GetJoinUrl"]["get"]["parameters"] if p.get("in") == "query"}
MEETINGS = SPEC["definitions"]["BatchRequest"]["properties"]["meetings"]
SELECTORS = ("meetingId", "joinUrl", "joinMeetingId")
FLOAT_EXACT_BELOW = 9007199254740992  # the definition's words: a number with a point or exponent only below this


def number_text(value: Any) -> str | None:
    """A JSON number the definition says joinMeetingId takes (OpenAPI 2.0 cannot say string-or-number), as digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < FLOAT_EXACT_BELOW:
        return str(int(value))
    return None


def trimmed(value: Any) -> Any:
    """A body's text value as the function checks it: without surrounding whitespace."""
    return value.strip() if isinstance(value, str) else value


def conforms(name: str, value: Any) -> bool:
    """ECMAScript semantics for the anchored patterns: re.fullmatch, so '$' never matches before a final newline."""
    if name == "joinMeetingId" and number_text(value) is not None:
        value = number_text(value)
    rule = RULES[name]
    if not isinstance(value, str) or len(value) > rule["maxLength"]:
        return False
    return re.fullmatch(rule["pattern"], value) is not None


def present(item: dict[str, Any]) -> list[str]:
    """The fields given: empty (once trimmed) or null means left out."""
    return [name for name in (*SELECTORS, "organizerId") if trimmed(item.get(name)) not in (None, "")]


def item_is_valid(item: Any) -> bool:
    """With DEFAULT_ORGANIZER_ID set (fuzz.py sets it), organizerId may be left out; empty or null means left out."""
    if not isinstance(item, dict):
        return False
    given = present(item)
    selectors = [name for name in given if name in SELECTORS]
    return len(selectors) == 1 and all(conforms(name, trimmed(item[name])) for name in given)


@schemathesis.check
def batch_items_fail_alone(ctx: Any, response: Any, case: Any) -> bool | None:
    if case.operation.path != "/GetJoinUrl/batch" or response.status_code != 200:
        return None
    meetings = case.body.get("meetings") if isinstance(case.body, dict) else None
    if not isinstance(meetings, list) or not MEETINGS["minItems"] <= len(meetings) <= MEETINGS["maxItems"]:
        raise AssertionError(
            f"200 for a batch whose meetings is not a list of {MEETINGS['minItems']} to {MEETINGS['maxItems']} items"
        )
    results = response.json().get("results")
    if not isinstance(results, list) or len(results) != len(meetings):
        raise AssertionError(f"{len(meetings)} meetings sent, but results is {results!r}")
    for index, (item, result) in enumerate(zip(meetings, results, strict=True)):
        if result.get("index") != index:
            raise AssertionError(f"meetings[{index}] got a result with index {result.get('index')!r}: {result!r}")
        code = (result.get("error") or {}).get("code")
        if item_is_valid(item) == (code == "InvalidRequest"):
            verdict = "valid" if item_is_valid(item) else "invalid"
            raise AssertionError(f"meetings[{index}] {item!r} is {verdict} for the single lookup, yet got {result!r}")
    return True


@schemathesis.hook
def filter_failure(ctx: Any, failure: Any, case: Any, response: Any) -> bool:
    """False drops the failure: only ST201 on the single POST, for a body valid but for the leniencies above."""
    if failure.code != "ST201" or (case.operation.method.upper(), case.operation.path) != ("POST", "/GetJoinUrl"):
        return True
    body = case.body
    if not isinstance(body, dict):
        return True
    number = body.get("joinMeetingId")
    fields = (*SELECTORS, "organizerId")
    lenient = (
        any(body.get(name) == "" or trimmed(body.get(name)) != body.get(name) for name in fields)
        or number_text(number) is not None
    )
    return not (lenient and all(conforms(name, trimmed(body[name])) for name in present(body)))
