"""A JSON request body, parsed only when what parsing it would cost is known to be small.

The byte limit alone does not bound that cost: the parser builds every value before the function reads one, and a
Python object costs far more than the text that writes it. `{},` is 3 bytes of text and about 80 bytes as a dict;
`[[[[{}]]]]` about 16 bytes a level. Text has a width too: Python keeps a string in 1, 2 or 4 bytes a character, by
the widest character it holds, so one emoji (or one `\\ud83d\\ude00` escape) turns a 1 MiB body into 4 MiB of text,
and the value holding it into 4 MiB more. So two budgets are checked on the raw bytes first, at C speed (bytes
methods and compiled patterns over bytes), and a body that breaks one is refused before anything is decoded:

- values: every key, value, object and list it would build counts one. Each of them but the outermost follows a
  `{`, `[`, `,` or `:` outside a string, so counting those bounds them. At most BODY_VALUES_MAX.
- text: its characters times the width the widest of them (as written, or as an escape) needs, which bounds the
  decoded body and, together, the strings parsed out of it. At most BODY_TEXT_MAX_BYTES.

Within both, a body costs at most a few MB while it is parsed (bench/README.md, "Bodies", has the figures).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from .errors import ApiError, invalid_request

BODY_MAX_BYTES = 1024 * 1024  # the largest body read (shared/http.py reads no more)
# Keys included. The largest batch the function reads, 100 meetings of four fields, is 903 values: the rest, more
# than 3,000, is room for fields the function ignores (a webhook's own, or extra columns of a flow's Select).
BODY_VALUES_MAX = 4096
# Python's own size of the decoded body: a body of Latin-1 text may be as long as BODY_MAX_BYTES, one with any
# other character (written or escaped) half of that, and one with a character beyond U+FFFF a quarter.
BODY_TEXT_MAX_BYTES = BODY_MAX_BYTES
JSON_MAX_DEPTH = 16  # a valid body is 3 deep ({"meetings": [{...}]}); deeper is refused before any use of it
# The longest JSON integer kept as a number: longer than any number a request holds (a numeric meeting ID has at
# most 20 digits), and far under Python's limit on converting digits to int (4,300), past which json raises.
NUMBER_DIGITS_MAX = 64

# Patterns over bytes, compiled by `re` on first use and kept in its cache: a small ASCII body, the common one, needs
# none of them, and compiling them all at import would add to every cold start.
_STRING = rb'(?s)"[^"\\]*(?:\\.[^"\\]*)*"'  # a JSON string, escapes included
_ASTRAL_BYTE = rb"[\xf0-\xf4]"  # UTF-8's first byte of a character beyond U+FFFF
_WIDE_BYTE = rb"[\xc4-\xef]"  # ... of one from U+0100 to U+FFFF (below U+0100: \xc2 or \xc3)
_ASTRAL_ESCAPE = rb"\\u[dD][89abAB]"  # the first half of a surrogate pair
_WIDE_ESCAPE = rb"\\u(?!00)[0-9a-fA-F]{4}"
_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))  # UTF-8's bytes after a character's first
_OPENING_RUN = b"[" * (JSON_MAX_DEPTH + 1)  # more levels opened in a row than allowed, `{` read as `[`
# The scans that need a changed copy of the body make it a piece at a time: never more than this much at once.
_PIECE_BYTES = 64 * 1024


class LongNumber(NamedTuple):
    """A JSON number written with more than NUMBER_DIGITS_MAX characters, kept as its length: a field that should
    hold one says it is too long, instead of the parse failing as "not valid JSON", and a long number in a field the
    function ignores costs its text, not what converting it would (a float of 900,000 digits takes many MB)."""

    digits: int


def _integer(text: str) -> int | LongNumber:
    digits = len(text.lstrip("-"))
    return int(text) if digits <= NUMBER_DIGITS_MAX else LongNumber(digits)


def _fraction(text: str) -> float | LongNumber:
    """A number with a point or an exponent; its length counts every character, the point and exponent too."""
    return float(text) if len(text) <= NUMBER_DIGITS_MAX else LongNumber(len(text))


def _not_json(name: str) -> Any:
    """NaN, Infinity and -Infinity, which Python's json reads and JSON has not: the body is not valid JSON."""
    raise ValueError(f"{name} is not JSON")


# One decoder for every call: it keeps no state between calls that matters (its scanner's memo only shares equal
# keys within one parse), and building one per call would cost more than the parse of a small body.
_DECODER = json.JSONDecoder(parse_int=_integer, parse_float=_fraction, parse_constant=_not_json)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or the 400 or 413 that says what to change."""
    if b"\x00" in raw[:4]:  # JSON text begins with ASCII: UTF-16 or UTF-32 puts a zero byte beside it
        raise invalid_request('The request body is not UTF-8: send JSON in UTF-8, such as {"meetingId": "..."}.')
    check_cost(raw)
    try:
        body = _DECODER.decode(raw.decode("utf-8-sig"))
    except RecursionError:  # nesting deeper than the interpreter's recursion limit
        raise too_deep() from None
    except ValueError as error:  # UnicodeDecodeError too
        raise invalid_request(
            f"The request body is not valid JSON ({_why_not_json(error)}). "
            'Send an object such as {"meetingId": "..."}.'
        ) from None
    if not isinstance(body, dict):
        raise invalid_request('The request body must be a JSON object such as {"meetingId": "..."}.')
    if nested_deeper_than(body, JSON_MAX_DEPTH):
        raise too_deep()
    return body


def _why_not_json(error: ValueError) -> str:
    """The parser's own reason, with where it stopped: a caller finds the stray character from it."""
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at character {error.pos + 1}"
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8 at byte {error.start + 1}"
    return str(error)  # NaN, Infinity: "NaN is not JSON"


def check_cost(raw: bytes) -> None:
    """Refuses (413 RequestTooComplex) a body that would cost more than the budgets allow once parsed. Nothing here
    copies more than _PIECE_BYTES of the body at a time: sixteen of them may be checked at once."""
    width = text_width(raw)
    if len(raw) * width > BODY_TEXT_MAX_BYTES:
        characters = sum(len(piece.translate(None, _CONTINUATION_BYTES)) for piece in _pieces(raw))  # first bytes
        if characters * width > BODY_TEXT_MAX_BYTES:
            wide = "beyond U+FFFF (an emoji, say)" if width == 4 else "beyond U+00FF"
            raise too_complex(
                f"The request body holds a character {wide}, as it is or as a \\u escape, so Python keeps each of "
                f"its {characters:,} characters in {width} bytes: {characters * width:,} bytes, where this "
                f"function parses at most {BODY_TEXT_MAX_BYTES:,}."
            )
    values = _values(raw, 0, len(raw))
    if values <= BODY_VALUES_MAX:
        return
    # Counted with what strings hold: count again without it. Each string is a key or a value, so a body with more
    # strings than the budget is over it already, and the strings are looked at only when there are few.
    strings = (raw.count(b'"') - raw.count(b'\\"')) // 2
    if strings <= BODY_VALUES_MAX:
        values -= sum(_values(raw, *string.span()) - 1 for string in re.finditer(_STRING, raw))
        if values <= BODY_VALUES_MAX:
            return
        # Such a body that opens more levels in a row than the depth limit breaks that rule too, and its shape
        # shows it: it gets that rule's answer, as it did before this budget. Its depth is not measured otherwise.
        if any(_OPENING_RUN in piece.replace(b"{", b"[") for piece in _pieces(raw, overlap=len(_OPENING_RUN) - 1)):
            raise too_deep()
    raise too_complex(
        f"The request body holds {max(values, strings):,} JSON values or more (each key, value, object and list "
        f"counts one); this function parses at most {BODY_VALUES_MAX:,}, enough for its largest batch (100 meetings "
        "of four fields, 903 values) and more than 3,000 values of fields it does not read."
    )


def _pieces(raw: bytes, overlap: int = 0) -> Iterator[bytes]:
    """The body a piece at a time, each `overlap` bytes into the next, so a run that short spans no seam unseen."""
    for start in range(0, len(raw), _PIECE_BYTES):
        yield raw[start : start + _PIECE_BYTES + overlap]


def _values(text: bytes, start: int, end: int) -> int:
    """What parsing text[start:end] would build at most: a value after each `{`, `[`, `,` and `:`, and the first."""
    return 1 + sum(text.count(token, start, end) for token in b"{[,:")


def text_width(raw: bytes) -> int:
    """The bytes a character that Python gives the decoded body, or a string parsed out of it, at most: 1, 2 or 4."""
    escapes = b"\\u" in raw
    if raw.isascii() and not escapes:
        return 1
    if re.search(_ASTRAL_BYTE, raw) or (escapes and re.search(_ASTRAL_ESCAPE, raw)):
        return 4
    if re.search(_WIDE_BYTE, raw) or (escapes and re.search(_WIDE_ESCAPE, raw)):
        return 2
    return 1


def too_complex(message: str) -> ApiError:
    """413: the request is larger, in what reading it would take, than this function is willing to process."""
    return ApiError(
        413,
        "RequestTooComplex",
        message,
        fix="Send at most 100 meetings per call, and leave out fields this function does not read "
        "(it reads meetingId, joinUrl, joinMeetingId, organizerId and meetings).",
    )


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Level by level, without recursion: each level holds references to containers the parsed body already has."""
    level = [value]
    for _ in range(limit):
        level = [
            child
            for container in level
            for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, dict | list)
        ]
        if not level:
            return False
    return True


def too_deep() -> ApiError:
    return invalid_request(
        f"The request body nests JSON deeper than {JSON_MAX_DEPTH} levels; a request is at most 3 deep, "
        '{"meetings": [{"meetingId": "..."}]}.'
    )


def trimmed(body: dict[str, Any], list_field: str) -> dict[str, Any]:
    """Surrounding whitespace (any Unicode space, a newline or a tab, as copy and paste leave them) off every text
    value of the body and of the objects in its `list_field`: what is validated, and sent to Graph, is the value
    without it."""
    fields = {name: _trimmed(value) for name, value in body.items()}
    items = fields.get(list_field)
    if isinstance(items, list):
        fields[list_field] = [
            {name: _trimmed(value) for name, value in item.items()} if isinstance(item, dict) else item
            for item in items
        ]
    return fields


def _trimmed(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value
