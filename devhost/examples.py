"""The demo meeting `make run` seeds into the emulator, and the commands it prints for it.

README.md shows each command next to the answer it gets; tests/test_devhost.py starts `make run`, checks that it
prints exactly the README's commands, and runs each of them. A new example is one entry in `examples()` and its
block in the README. `make run AUTH=entra` (or `both`) prints `entra_examples()` too, each with its answer, as
docs/entra-id.md shows them; tests/test_entra_devhost.py holds the two to each other and runs them in a shell.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from shared.caller_access import ENTRA_ROUTE_PREFIX

from .emulator.state import Meeting
from .entra_id import (
    ADMIN_USER,
    API_APP_ID_URI,
    AZURE_CLI_CLIENT_ID,
    CALLER_APP,
    DEFAULT_SCOPE,
    DIAGNOSE_APP,
    TENANT_ID,
    Principal,
)

DEV_PORT = 7071
DEMO_ORGANIZER_ID = "3f9b2c1d-4e5a-4b6c-8d7e-9f0a1b2c3d4e"
DEMO_ORGANIZER_UPN = "demo.organizer@contoso.example"
DEMO_THREAD = "19:meeting_R2V0Sm9pblVybCBkZW1vIG1lZXRpbmc@thread.v2"
DEMO_JOIN_MEETING_ID = "123456789012"
_CONTINUATION = " \\\n     "


@dataclass(frozen=True)
class Example:
    title: str
    command: str  # shell commands, as the README (or docs/entra-id.md) shows them (maybe over several lines)
    answer: str | None = None  # what it prints, "..." for the rest of a value; None: the README shows it


def examples(meeting: Meeting, port: int = DEV_PORT) -> list[Example]:
    """Ready-to-run calls for the demo meeting, against the dev host on `port`."""
    api = f"http://localhost:{port}/api"
    number = " ".join(DEMO_JOIN_MEETING_ID[i : i + 3] for i in range(0, len(DEMO_JOIN_MEETING_ID), 3))
    by_id = {"meetingId": meeting.meeting_id, "organizerId": DEMO_ORGANIZER_UPN}
    return [
        Example("One meeting by its ID (GET)", _get(f"{api}/GetJoinUrl", by_id)),
        Example(
            "One meeting by its Teams link (POST; a classic link names its organizer)",
            _post(f"{api}/GetJoinUrl", {"joinUrl": meeting.teams_link}),
        ),
        Example(
            "Many meetings in one call: by ID, by Teams link, by the number in the invite",
            _post(
                f"{api}/GetJoinUrl/batch",
                {
                    "meetings": [
                        by_id,
                        {"joinUrl": meeting.teams_link},
                        {"joinMeetingId": number, "organizerId": meeting.organizer_id},
                    ]
                },
            ),
        ),
        Example(
            "What works in the Graph set-up for this organizer and meeting (Diagnose; in Azure, the master key, or"
            " /api/entra/diagnose with the Diagnose.Run role)",
            _get(f"{api}/diagnose", by_id),
        ),
    ]


def entra_examples(meeting: Meeting, port: int = DEV_PORT, emulator_port: int = DEV_PORT + 1) -> list[Example]:
    """Calls to the Entra ID routes behind App Service Authentication's stand-in, each after the command that gets
    its caller a token from the emulator's Entra ID, as Entra ID hands tokens out (a client secret for an app, a
    user's sign-in through the Azure CLI's client ID, which the API pre-authorizes)."""
    api = f"http://localhost:{port}{ENTRA_ROUTE_PREFIX}"
    query = urlencode({"meetingId": meeting.meeting_id, "organizerId": DEMO_ORGANIZER_UPN}, safe="@")
    issuer = f"http://localhost:{emulator_port}/{TENANT_ID}/oauth2/v2.0/token"
    role_missing = "The caller is signed in but does not hold the app role JoinUrl.Get of this API, which ..."
    return [
        Example(
            "A caller app holding JoinUrl.Get: its token (client credentials), then GetJoinUrl signed in",
            _token("CALLER_TOKEN", issuer, _app_sign_in(CALLER_APP))
            + "\n"
            + f'curl -s "{api}/GetJoinUrl?{query}" -H "Authorization: Bearer $CALLER_TOKEN"',
            json.dumps(
                {
                    "joinWebUrl": "https://visit.teams.microsoft.com/webrtc-svc/api/route?tid=...",
                    "meetingId": meeting.meeting_id[:16] + "...",
                    "organizerId": DEMO_ORGANIZER_UPN,
                }
            ),
        ),
        Example(
            "An app holding only Diagnose.Run is signed in, but lacks the caller role",
            _token("MONITOR_TOKEN", issuer, _app_sign_in(DIAGNOSE_APP))
            + "\n"
            + f'curl -s "{api}/GetJoinUrl?{query}" -H "Authorization: Bearer $MONITOR_TOKEN"',
            json.dumps({"error": {"code": "CallerRoleMissing", "message": role_missing}}),
        ),
        Example(
            "An admin holding Diagnose.Run, signed in as with `az account get-access-token`, runs Diagnose",
            _token("ADMIN_TOKEN", issuer, _user_sign_in(ADMIN_USER))
            + "\n"
            + f'curl -s "{api}/diagnose?{query}" -H "Authorization: Bearer $ADMIN_TOKEN"',
            json.dumps({"ok": True, "identity": "...", "checks": "..."}),
        ),
        Example(
            "No token: App Service Authentication answers 401 before the function runs",
            f'curl -s -o /dev/null -w "%{{http_code}}\\n" "{api}/GetJoinUrl?{query}"',
            "401",
        ),
    ]


def _app_sign_in(app: Principal) -> str:
    scope = f"{API_APP_ID_URI}{DEFAULT_SCOPE}"
    return f"grant_type=client_credentials&client_id={app.client_id}&client_secret={app.secret}&scope={scope}"


def _user_sign_in(user: Principal) -> str:
    scope = f"{API_APP_ID_URI}{DEFAULT_SCOPE}"
    return (
        f"grant_type=password&client_id={AZURE_CLI_CLIENT_ID}&username={user.username}&password={user.password}"
        f"&scope={scope}"
    )


def _token(variable: str, token_endpoint: str, form: str) -> str:
    """A shell variable set to the access token the token endpoint answers (no jq: Python reads the JSON)."""
    read = "python3 -c \"import json, sys; print(json.load(sys.stdin)['access_token'])\""
    return f'{variable}=$(curl -s -X POST {token_endpoint}{_CONTINUATION}-d "{form}"{_CONTINUATION}| {read})'


def _get(url: str, query: dict[str, str]) -> str:
    return f'curl -s "{url}?{urlencode(query, safe="@")}"'


def _post(url: str, body: dict[str, Any]) -> str:
    """The body as JSON in single quotes; a list of objects one item per line, as people write it."""
    text = json.dumps(body)
    lists = [(name, value) for name, value in body.items() if isinstance(value, list)]
    if len(body) == 1 and lists:
        [(name, items)] = lists
        lines = ",\n  ".join(json.dumps(item) for item in items)
        text = f"{{{json.dumps(name)}: [\n  {lines}\n]}}"
    if "'" in text:
        raise ValueError("a single quote would end the shell's quoting of the body")
    return f"curl -s -X POST {url} -H \"Content-Type: application/json\"{_CONTINUATION}-d '{text}'"
