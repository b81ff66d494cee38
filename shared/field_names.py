"""Names a caller meant but did not write: a field or query parameter that misses a name the function reads by case
or by one typo is refused with both names, instead of being dropped without a word (which answers "organizerId is
missing", or silently takes another organizer).

The rule that tells a typo from a name the function ignores: set case aside, and the separators `_`, `-`, `.` and
space; a name that then equals a name the function reads, or is one edit from it (a character added, left out or
changed, or two neighbours swapped), is a near miss. The names read are 7 to 13 characters long, so one edit is
about a tenth of a name: two would take in other words (`meeting` and `settingId` are two from `meetingId`). Every
other name is ignored, as a webhook's own fields must be: `code` (the function key), `id`, `subject`, `joinWebUrl`
(three edits from `joinUrl`: Graph's name for a meeting's link, and the name of this function's answer, which a flow
may send along) and the like.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from .errors import invalid_request

ALWAYS_IGNORED = frozenset({"code"})  # the function key, when a caller sends it in the query string
_SEPARATORS = str.maketrans("", "", "_-. ")


def near_miss(name: str, known: Collection[str]) -> str | None:
    """The known name `name` misses by case, separators or one edit; None when it is known, or no near miss."""
    if name in known or name in ALWAYS_IGNORED:
        return None
    written = _folded(name)
    return next((meant for meant in known if _within_one_edit(written, _folded(meant))), None)


def check_names(names: Iterable[str], known: Collection[str], where: str) -> None:
    """400 for the first near miss among `names`; `where` says whose names they are ("The request body")."""
    for name in names:
        meant = near_miss(name, known)
        if meant is not None:
            case = " (names are case-sensitive)" if name.casefold() == meant.casefold() else ""
            raise invalid_request(
                f"{where} has {name!r}, which this function does not read: it reads {meant!r}{case}. "
                f"Rename it to {meant}."
            )


def _folded(name: str) -> str:
    return name.translate(_SEPARATORS).casefold()


def _within_one_edit(a: str, b: str) -> bool:
    """Damerau's distance of at most 1, in linear time: past the common start, the rests must match once one edit
    is made."""
    if abs(len(a) - len(b)) > 1:
        return False
    start = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        start += 1
    if len(a) > len(b):
        return a[start + 1 :] == b[start:]
    if len(a) < len(b):
        return a[start:] == b[start + 1 :]
    rest_a, rest_b = a[start:], b[start:]
    return rest_a[1:] == rest_b[1:] or (rest_a[:2] == rest_b[1::-1] and rest_a[2:] == rest_b[2:])
