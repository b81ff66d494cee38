"""Caller input, checked before anything leaves the process.

The patterns are ECMAScript-compatible on purpose: the connector's OpenAPI definition
uses the very same strings, and a test holds the two to the same good and hostile values.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from enum import Enum
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import ApiError, invalid_request
from .json_body import LongNumber

MEETING_ID_MAX = 1024
MEETING_ID_PATTERN = r"^[A-Za-z0-9+=_-]{1,1024}$"

ORGANIZER_ID_MAX = 113  # Entra ID's limit for a user principal name
GUID_PATTERN = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
HOST_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_UPN = rf"[A-Za-z0-9_'+-]+(\.[A-Za-z0-9_'+-]+)*@{HOST_LABEL}(\.{HOST_LABEL})+"
ORGANIZER_ID_PATTERN = rf"^({GUID_PATTERN}|{_UPN})$"
HOST_NAME_RE = re.compile(rf"{HOST_LABEL}(\.{HOST_LABEL})*(:[0-9]{{1,5}})?")  # a DNS name (or IPv4), maybe a port

TEAMS_LINK_MAX = 2048
TEAMS_HOSTS = ("teams.microsoft.com", "gov.teams.microsoft.us", "dod.teams.microsoft.us", "teams.microsoftonline.cn")
_HOSTS = "|".join(re.escape(host) for host in TEAMS_HOSTS)
# Teams writes a classic link's thread part percent-encoded (19%3ameeting_...%40thread.v2), so its path has no raw
# ':' or '@'; its query (?context=...) may.
_CLASSIC = r"l/meetup-join/[A-Za-z0-9._~%!$&()*+,;=/-]+([?][A-Za-z0-9._~%!$&()*+,;=:@/?-]*)?"
_SHORT = r"meet/[0-9]{6,20}([?][A-Za-z0-9._~%&=+-]*)?"
TEAMS_LINK_PATTERN = rf"^https://({_HOSTS})/({_CLASSIC}|{_SHORT})$"

JOIN_MEETING_ID_MAX = 64
# Invites group the digits with spaces, and some locales print them with a no-break or narrow no-break space: any
# space separator (Unicode's Zs), written out for ECMAScript, whose \s also takes tabs and line ends.
GROUP_SPACE = r"[ \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]"
JOIN_MEETING_ID_PATTERN = rf"^{GROUP_SPACE}*[0-9]({GROUP_SPACE}*[0-9]){{5,19}}{GROUP_SPACE}*$"

SELECTORS = ("meetingId", "joinUrl", "joinMeetingId")
FIELDS = (*SELECTORS, "organizerId")  # the names one meeting is read from: a query string, a body, a batch item

_MEETING_ID_RE = re.compile(MEETING_ID_PATTERN)
_ORGANIZER_ID_RE = re.compile(ORGANIZER_ID_PATTERN)
GUID_RE = re.compile(GUID_PATTERN)
_JOIN_URL_RE = re.compile(TEAMS_LINK_PATTERN)
_NOT_DIGIT_RE = re.compile("[^0-9]")
# Signs of a decoded Teams link (a query string decodes one sent in it unencoded): %7b %22 %3a %40 turned into
# { " : @ anywhere, or a raw : or @ in a classic link's path. A space alone is no such sign: copy and paste leave one.
_DECODED_LINK_RE = re.compile(r'[{}"]|^https://[^/?#]*/l/meetup-join/[^?#]*[:@]')
# Safe Links wrap a link in one of their own: Outlook's (https://<region>.safelinks.protection.outlook.com/?url=...)
# and Teams' (https://statics.teams.cdn.office.net/evergreen-assets/safelinks/.../atp-safelinks.html?url=...).
_SAFE_LINKS = ("safelinks.protection.outlook.com", "atp-safelinks.html")
# Teams free (consumer) meetings: no work or school tenant, so no Graph meeting to look up.
_TEAMS_FREE_HOST = "teams.live.com"


class OrganizerFrom(Enum):
    """Where a meeting's organizer came from, as an error names it."""

    REQUEST = "the organizerId sent"
    LINK = "the object ID (Oid) in the Teams link's context, since no organizerId was sent"
    BATCH = "the batch's organizerId, since neither the item nor a classic link in it names an organizer"
    DEFAULT = "the app setting DEFAULT_ORGANIZER_ID, since neither the call nor a classic link in it names an organizer"


class Organizer(NamedTuple):  # a NamedTuple, not a dataclass: a third of the cost at import, on the cold path
    """A validated organizer ID (object ID or user principal name) and where it came from."""

    id: str
    source: OrganizerFrom


class Selector(NamedTuple):
    """A validated meeting, as the caller gave it: its ID, or a Teams link or number to look it up by, and the
    organizer a classic link names (its Oid, when that is an object ID)."""

    meeting_id: str | None = None
    teams_link: str | None = None
    join_meeting_id: str | None = None
    link_organizer: str | None = None


class MeetingQuery(NamedTuple):
    """A validated request for one meeting: either its ID, or a Teams link or number to look it up by."""

    organizer_id: str
    meeting_id: str | None = None
    teams_link: str | None = None
    join_meeting_id: str | None = None
    organizer_from: OrganizerFrom = OrganizerFrom.REQUEST


def validate_meeting_id(value: str) -> str:
    if not _MEETING_ID_RE.fullmatch(value):
        raise invalid_request(
            f"meetingId is not a Teams online meeting ID: it must be 1 to {MEETING_ID_MAX} characters of letters, "
            "digits, '+', '=', '-' or '_' (the 'id' Graph gives an onlineMeeting). "
            f"To start from a Teams join link, send it as joinUrl instead.{_meeting_id_hint(value)}"
        )
    return value


def _meeting_id_hint(value: str) -> str:
    """What most likely went wrong with a meetingId: a space a query string made of a '+', whitespace a paste left,
    or the ID sent twice (the Functions host joins a repeated query parameter's values with a comma)."""
    if any(character.isspace() for character in value.strip()):
        return (
            " This meetingId holds a space, tab or line break inside it. In a query string a space is what a '+' "
            "becomes: there the ID must be URL-encoded ('+' as %2B, '=' as %3D), or sent in a POST body "
            '{"meetingId": "..."}. Anywhere else, copy and paste left it: remove it.'
        )
    if value != value.strip() and _MEETING_ID_RE.fullmatch(value.strip()):
        return (
            f" {_surrounding_space('meetingId')} In a query string a space at its end may also be a '+' the query "
            "string decoded: URL-encode the ID ('+' as %2B), or POST it."
        )
    return _sent_twice_hint("meetingId", value)


def _sent_twice_hint(name: str, value: str) -> str:
    """The Functions host joins a query parameter's repeated values with a comma, which no valid value holds."""
    if "," not in value:
        return ""
    return f" This {name} holds a ',': was {name} sent twice? The host joins repeated values with a comma."


def _surrounding_space(name: str) -> str:
    return (
        f"This {name} has a space, tab or line break at its start or end, as copy and paste leave them: remove it. "
        "A JSON body's values are trimmed; a query string's are taken as sent."
    )


def validate_organizer_id(value: str) -> str:
    if len(value) > ORGANIZER_ID_MAX or not _ORGANIZER_ID_RE.fullmatch(value):
        raise invalid_request(
            "organizerId must be the meeting organizer's Entra object ID (a GUID) or user principal name "
            f"(name@domain, at most {ORGANIZER_ID_MAX} characters).{_organizer_id_hint(value)}"
        )
    return value


def _organizer_id_hint(value: str) -> str:
    stripped = value.strip()
    if stripped != value and _ORGANIZER_ID_RE.fullmatch(stripped):
        return f" {_surrounding_space('organizerId')}"
    if stripped.startswith("{") and stripped.endswith("}") and GUID_RE.fullmatch(stripped[1:-1]):
        return f" Send the object ID without its braces: {stripped[1:-1]}."
    if any(character.isspace() for character in stripped):
        return " This organizerId holds a space, tab or line break inside it: remove it."
    return _sent_twice_hint("organizerId", value)


def validate_teams_link(value: str) -> str:
    if len(value) > TEAMS_LINK_MAX or not _JOIN_URL_RE.fullmatch(value):
        raise invalid_request(
            "joinUrl must be a Teams meeting link exactly as Teams gave it: "
            f"https://{TEAMS_HOSTS[0]}/l/meetup-join/... or https://{TEAMS_HOSTS[0]}/meet/<digits>?p=<passcode> "
            f"(hosts: {', '.join(TEAMS_HOSTS)}; at most {TEAMS_LINK_MAX} characters, no quotes or spaces)."
            f"{_teams_link_hint(value)}"
        )
    return value


def _teams_link_hint(value: str) -> str:
    """What most likely went wrong with a link: decoded on the way, a space or line break a paste left (at its ends
    or inside, where mail clients wrap long links), wrapped by Outlook's Safe Links, or cut off its scheme."""
    if _DECODED_LINK_RE.search(value):
        return (
            " This link looks URL-decoded: Teams writes a classic link's thread as 19%3ameeting_...%40thread.v2 and "
            'decoding turns %7b, %22, %3a, %40 and + into {, ", :, @ and space. In a query string the link must be '
            "URL-encoded as a whole (joinUrl=https%3A%2F%2Fteams.microsoft.com%2Fl%2F...), or sent in a POST body "
            '{"joinUrl": "..."}; in a JSON body it was decoded before it was sent: send it exactly as Teams gave it.'
        )
    stripped = value.strip()
    if stripped != value and _JOIN_URL_RE.fullmatch(stripped):
        return f" {_surrounding_space('joinUrl')}"
    if any(character.isspace() for character in stripped):
        return (
            " This link holds a space, tab or line break inside it: copy and paste leave them where a mail client "
            "wrapped a long link (remove them), and a query string makes one of a '+' (URL-encode the link, or "
            "POST it)."
        )
    lowered = stripped.lower()
    if any(wrapper in lowered for wrapper in _SAFE_LINKS):
        return (
            " This is a Safe Links address (Outlook's or Teams') wrapped around the Teams link: send the Teams link "
            "itself (from the meeting invite, or the Safe Links address's url parameter, decoded once)."
        )
    if urlsplit(lowered).hostname == _TEAMS_FREE_HOST:
        return (
            f" This is a link of Teams free ({_TEAMS_FREE_HOST}), whose meetings belong to no work or school "
            "organization: virtual appointments need a meeting of your organization's Teams."
        )
    scheme_and_host = stripped.split("/", 3)[:3]  # ['HTTPS:', '', 'TEAMS.MICROSOFT.COM'], as a link starts
    if lowered.startswith(("https://", "http://")) and scheme_and_host != [part.lower() for part in scheme_and_host]:
        return f" Write its start as Teams does, in lower case: https://{TEAMS_HOSTS[0]}/..."
    if lowered.startswith("http://"):
        return " Teams links are https: send it as Teams gave it, starting https://."
    if lowered.startswith(TEAMS_HOSTS):
        return " Send the whole link, starting https://."
    return ""


def validate_join_meeting_id(value: str) -> str:
    """Returns the digits alone: invites print the number in groups ("123 456 789 012")."""
    # Compiled by `re` on first use and kept in its cache: its classes of spaces take a few hundred microseconds,
    # which a cold start that reads no meeting number need not spend.
    if len(value) > JOIN_MEETING_ID_MAX or not re.fullmatch(JOIN_MEETING_ID_PATTERN, value):
        raise invalid_request(
            "joinMeetingId must be the numeric Teams meeting ID from the invite (6 to 20 digits; spaces are allowed)."
            f"{_sent_twice_hint('joinMeetingId', value)}"
        )
    return _NOT_DIGIT_RE.sub("", value)


def organizer_from_teams_link(teams_link: str) -> str | None:
    """A classic Teams link carries the organizer's object ID (Oid) in its context parameter."""
    oid = link_oid(teams_link)
    return oid if oid is not None and GUID_RE.fullmatch(oid) else None


def link_oid(teams_link: str) -> str | None:
    """The Oid text in a link's context, whatever it holds: one that is not an object ID is an error to name."""
    context = parse_qs(urlsplit(teams_link).query).get("context")
    if not context:
        return None
    try:
        oid = json.loads(context[0]).get("Oid")
    except (ValueError, AttributeError):
        return None
    return oid if isinstance(oid, str) else None


def short_link_number(teams_link: str) -> str | None:
    """The digits of a https://teams.microsoft.com/meet/<digits> link, which are its joinMeetingId."""
    path = unquote(urlsplit(teams_link).path)
    return path.removeprefix("/meet/") if path.startswith("/meet/") else None


def optional_organizer_id(value: Any) -> str | None:
    """An organizerId as sent (a call's, an item's or a batch's), validated; None when left out."""
    if not is_given(value):
        return None
    if not isinstance(value, str):
        raise invalid_request("organizerId must be a string.")
    return validate_organizer_id(value)


def default_organizer(value: str | None) -> Organizer | None:
    """DEFAULT_ORGANIZER_ID (validated with the settings) as the organizer a call falls back on."""
    return Organizer(value, OrganizerFrom.DEFAULT) if value is not None else None


def parse_meeting_query(fields: Mapping[str, Any], default: str | Organizer | None) -> MeetingQuery:
    """One meeting from a query string, a JSON body or a batch item. `default` serves when the fields and the link
    name none: a validated organizer ID (DEFAULT_ORGANIZER_ID, or a batch's organizerId), or None."""
    selector = parse_selector(fields)
    organizer = pick_organizer(fields, selector, default_organizer(default) if isinstance(default, str) else default)
    if organizer is None:
        raise missing_organizer(selector)
    return meeting_query(selector, organizer)


def meeting_query(selector: Selector, organizer: Organizer) -> MeetingQuery:
    """The meeting to ask Graph about: each part was validated (the field, the link's Oid, the default)."""
    return MeetingQuery(
        organizer_id=organizer.id,
        meeting_id=selector.meeting_id,
        teams_link=selector.teams_link,
        join_meeting_id=selector.join_meeting_id,
        organizer_from=organizer.source,
    )


def has_selector(fields: Mapping[str, Any]) -> bool:
    return any(is_given(fields.get(name)) for name in SELECTORS)


def parse_selector(fields: Mapping[str, Any]) -> Selector:
    """The one meeting the fields name, validated: GetJoinUrl and Diagnose read it alike."""
    given = [name for name in SELECTORS if is_given(fields.get(name))]
    if not given:
        raise invalid_request(
            "Send one of meetingId (the online meeting ID), joinUrl (the Teams join link) "
            f"or joinMeetingId (the numeric meeting ID from the invite).{_join_web_url_hint(fields)}"
        )
    if len(given) > 1:
        raise invalid_request(f"Send only one of meetingId, joinUrl and joinMeetingId, not {' and '.join(given)}.")
    selector = given[0]
    value = _text(fields, selector)
    if selector == "meetingId":
        return Selector(meeting_id=validate_meeting_id(value))
    if selector == "joinMeetingId":
        return Selector(join_meeting_id=validate_join_meeting_id(value))
    teams_link = validate_teams_link(value)
    return Selector(
        teams_link=teams_link,
        join_meeting_id=short_link_number(teams_link),
        link_organizer=organizer_from_teams_link(teams_link),
    )


def pick_organizer(fields: Mapping[str, Any], selector: Selector | None, default: Organizer | None) -> Organizer | None:
    """The organizer as GetJoinUrl takes it: the fields' organizerId, else the Oid of a classic link, else the
    default (a batch's organizerId, or DEFAULT_ORGANIZER_ID); None when none of them is there."""
    given = optional_organizer_id(fields.get("organizerId"))
    if given is not None:
        return Organizer(given, OrganizerFrom.REQUEST)
    if selector is not None and selector.link_organizer is not None:
        return Organizer(selector.link_organizer, OrganizerFrom.LINK)
    return default


def missing_organizer(selector: Selector) -> ApiError:
    missing = "organizerId is missing"
    if selector.teams_link is not None and link_oid(selector.teams_link) is not None:
        missing = "The link's context has an Oid that is not an Entra object ID (a GUID), so it names no organizer"
    return invalid_request(
        f"{missing}: send the meeting organizer's object ID or user principal name as organizerId, "
        "or set the app setting DEFAULT_ORGANIZER_ID."
    )


def _join_web_url_hint(fields: Mapping[str, Any]) -> str:
    """joinWebUrl is ignored (Graph's name for a meeting's link, and this function's answer's), but when it is
    all a call sends, the caller most likely meant joinUrl."""
    named = next((name for name in fields if name.casefold() == "joinweburl"), None)
    if named is None:
        return ""
    return (
        f" This call has {named}, which this function does not read (it is the name of the join URL it answers, "
        "and Graph's name for a meeting's link): send a Teams join link as joinUrl."
    )


def parse_allowed_organizers(raw: str) -> frozenset[str] | None:
    """ALLOWED_ORGANIZER_IDS: comma-separated GUIDs and UPNs, compared case-insensitively."""
    entries = [entry.strip() for entry in raw.split(",") if entry.strip()]
    return frozenset(validate_organizer_id(entry).lower() for entry in entries) or None


def is_loopback_host(host: str) -> bool:
    """localhost or a loopback address: where plain http is acceptable (the local emulator and dev host)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_given(value: Any) -> bool:
    """null and "" count as left out: a flow's empty input arrives as one or the other."""
    return value is not None and value != ""


# A JSON number with a point or exponent (123456789012.0, 1.5e11) is a float: exact for every whole number below 2^53,
# while above it the caller's digits may already be lost (9007199254740993.0 reads as ...992.0).
FLOAT_EXACT_BELOW = 2**53


def _text(fields: Mapping[str, Any], name: str) -> str:
    """A field's text; joinMeetingId may also be a whole JSON number, as a flow that computed it may send it."""
    value = fields[name]
    if isinstance(value, str):
        return value
    if name != "joinMeetingId":
        raise invalid_request(f"{name} must be a string.")
    if isinstance(value, LongNumber):
        raise invalid_request(
            f"joinMeetingId is a JSON number written with {value.digits:,} characters, too long for a numeric Teams "
            "meeting ID, which has 6 to 20 digits: send the number from the invite."
        )
    if isinstance(value, float) and abs(value) >= FLOAT_EXACT_BELOW:  # 1e400 too, read as infinity
        raise invalid_request(
            "joinMeetingId is a JSON number with a decimal point or exponent, which holds a whole number "
            f"exactly only below {FLOAT_EXACT_BELOW}: send this one as a string of digits."
        )
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise invalid_request('joinMeetingId must be a string of digits, such as "123 456 789 012", or a whole number.')
