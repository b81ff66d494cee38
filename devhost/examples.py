"""The demo meeting `make run` seeds into the emulator, and the commands it prints for it.

README.md shows each command next to the answer it gets; tests/test_devhost.py starts `make run`, checks that it
prints exactly the README's commands, and runs each of them. A new example is one entry in `examples()` and its
block in the README.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .emulator import Meeting

DEV_PORT = 7071
DEMO_ORGANIZER_ID = "3f9b2c1d-4e5a-4b6c-8d7e-9f0a1b2c3d4e"
DEMO_ORGANIZER_UPN = "demo.organizer@contoso.example"
DEMO_THREAD = "19:meeting_R2V0Sm9pblVybCBkZW1vIG1lZXRpbmc@thread.v2"
DEMO_JOIN_MEETING_ID = "123456789012"
_CONTINUATION = " \\\n     "


@dataclass(frozen=True)
class Example:
    title: str
    command: str  # one shell command, as the README shows it (maybe over several lines)


def examples(meeting: Meeting, port: int = DEV_PORT) -> list[Example]:
    """Ready-to-run calls for the demo meeting, against the dev host on `port`."""
    api = f"http://localhost:{port}/api"
    number = " ".join(DEMO_JOIN_MEETING_ID[i : i + 3] for i in range(0, len(DEMO_JOIN_MEETING_ID), 3))
    by_id = {"meetingId": meeting.meeting_id, "organizerId": DEMO_ORGANIZER_UPN}
    return [
        Example("One meeting by its ID (GET)", _get(f"{api}/GetJoinUrl", by_id)),
        Example(
            "One meeting by its Teams link (POST; a classic link names its organizer)",
            _post(f"{api}/GetJoinUrl", {"joinUrl": meeting.join_web_url}),
        ),
        Example(
            "Many meetings in one call: by ID, by Teams link, by the number in the invite",
            _post(
                f"{api}/GetJoinUrl/batch",
                {
                    "meetings": [
                        by_id,
                        {"joinUrl": meeting.join_web_url},
                        {"joinMeetingId": number, "organizerId": meeting.organizer_id},
                    ]
                },
            ),
        ),
        Example(
            "What works in the Graph set-up for this organizer and meeting (Diagnose; in Azure, master key only)",
            _get(f"{api}/diagnose", by_id),
        ),
    ]


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
