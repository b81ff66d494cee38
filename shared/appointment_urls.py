"""The use case: from a meeting (by ID, Teams link or number) to its virtual-appointment join URL.

One path serves single calls (plain GETs) and batches (`$batch`): look up the meetings that need it, then ask
for every join URL, each item failing on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import ApiError, invalid_request
from .field_names import check_names
from .graph_batch import get_many
from .graph_client import GraphClient
from .graph_paths import appointment_url_path, meeting_lookup_path
from .graph_replies import appointment_url_from, meeting_id_from
from .graph_transport import GraphReply
from .invocation import Invocation
from .settings import Settings
from .validation import (
    FIELDS,
    MeetingQuery,
    Organizer,
    OrganizerFrom,
    default_organizer,
    optional_organizer_id,
    parse_meeting_query,
)

BATCH_MAX_ITEMS = 100

Outcome = dict[str, str] | ApiError


class AppointmentUrlService:
    def __init__(self, settings: Settings, graph: GraphClient) -> None:
        self.default_organizer = default_organizer(settings.default_organizer_id)
        self._allowed = settings.allowed_organizer_ids
        self._graph = graph

    def resolve(self, fields: Mapping[str, Any], invocation: Invocation) -> dict[str, str]:
        outcome = self._resolve_all([self._query(fields, self.default_organizer)], invocation, batch=False)[0]
        if isinstance(outcome, ApiError):
            raise outcome
        return outcome

    def resolve_batch(self, meetings: Any, invocation: Invocation, organizer: Any = None) -> list[dict[str, Any]]:
        """One result per item, in the order given; a bad item fails alone and never reaches Graph. The batch's own
        `organizerId` (a bad one fails the whole call) serves the items that name none and whose link names none,
        before DEFAULT_ORGANIZER_ID."""
        if not isinstance(meetings, list) or not 1 <= len(meetings) <= BATCH_MAX_ITEMS:
            raise invalid_request(f"meetings must be a list of 1 to {BATCH_MAX_ITEMS} items.")
        batch_organizer = optional_organizer_id(organizer)
        fallback = self.default_organizer
        if batch_organizer is not None:
            fallback = Organizer(batch_organizer, OrganizerFrom.BATCH)
        items: list[MeetingQuery | ApiError] = []
        for item in meetings:
            try:
                if not isinstance(item, dict):
                    raise invalid_request('Each item of meetings must be an object such as {"meetingId": "..."}.')
                check_names(item, FIELDS, "This item")
                items.append(self._query(item, fallback))
            except ApiError as error:
                items.append(error)
        invocation.extra_log_fields["items"] = len(items)
        outcomes = self._resolve_all(items, invocation, batch=True)
        invocation.extra_log_fields["failedItems"] = sum(isinstance(outcome, ApiError) for outcome in outcomes)
        return [_batch_result(i, item, outcome) for i, (item, outcome) in enumerate(zip(items, outcomes, strict=True))]

    def ensure_allowed(self, organizer_id: str, source: OrganizerFrom = OrganizerFrom.REQUEST) -> None:
        """403 OrganizerNotAllowed for an organizer outside ALLOWED_ORGANIZER_IDS, saying where it came from and
        which form of it to add: the list compares text, so a user principal name does not match the same user's
        object ID, which is all a classic link's Oid gives."""
        if self._allowed is None or organizer_id.lower() in self._allowed:
            return
        if source is OrganizerFrom.LINK:
            fix = (
                f"Add the object ID {organizer_id} to ALLOWED_ORGANIZER_IDS: a classic Teams link names its organizer "
                "by object ID only, so a list that holds the organizer's user principal name alone does not match "
                "it. Or send organizerId in a form the list holds."
            )
        elif source is OrganizerFrom.DEFAULT:
            fix = (
                f"Add {organizer_id} to ALLOWED_ORGANIZER_IDS as DEFAULT_ORGANIZER_ID holds it, or set "
                "DEFAULT_ORGANIZER_ID to an organizer the list holds."
            )
        else:
            fix = (
                f"Add {organizer_id} to ALLOWED_ORGANIZER_IDS as it was sent: the list compares text, so an object ID "
                "and a user principal name of the same user are two entries (list both if callers send both)."
            )
        raise ApiError(
            403,
            "OrganizerNotAllowed",
            f"Organizer {organizer_id}, {source.value}, is not in this function's ALLOWED_ORGANIZER_IDS.",
            fix=f"{fix} Only the function's administrator can change the list.",
        )

    def _query(self, fields: Mapping[str, Any], fallback: Organizer | None) -> MeetingQuery:
        query = parse_meeting_query(fields, fallback)
        self.ensure_allowed(query.organizer_id, query.organizer_from)
        return query

    def _resolve_all(
        self, items: Sequence[MeetingQuery | ApiError], invocation: Invocation, *, batch: bool
    ) -> list[Outcome]:
        """Each item's outcome, in order: an invalid item's own error; for a valid one, its lookup (when it names
        no meeting ID) and then its join URL, each step of all items in one go."""
        outcomes: dict[int, Outcome] = {i: item for i, item in enumerate(items) if isinstance(item, ApiError)}
        queries = {i: item for i, item in enumerate(items) if isinstance(item, MeetingQuery)}
        meeting_ids = {i: query.meeting_id for i, query in queries.items() if query.meeting_id is not None}

        def step(indexes: list[int], path: Callable[[int], str], use: Callable[[int, GraphReply], None]) -> None:
            if not indexes:
                return
            replies = self._fetch([path(i) for i in indexes], invocation, batch=batch)
            for i, reply in zip(indexes, replies, strict=True):
                try:
                    if isinstance(reply, ApiError):
                        raise reply
                    use(i, reply)
                except ApiError as error:
                    outcomes[i] = error

        def found(i: int, reply: GraphReply) -> None:
            meeting_ids[i] = meeting_id_from(reply, queries[i])

        def answered(i: int, reply: GraphReply) -> None:
            outcomes[i] = {
                "joinWebUrl": appointment_url_from(reply, queries[i]),
                "meetingId": meeting_ids[i],
                "organizerId": queries[i].organizer_id,
            }

        step([i for i in queries if i not in meeting_ids], lambda i: meeting_lookup_path(queries[i]), found)
        ready = [i for i in queries if i in meeting_ids]
        step(ready, lambda i: appointment_url_path(queries[i].organizer_id, meeting_ids[i]), answered)
        return [outcomes[i] for i in range(len(items))]  # every item has one: its error, or a step's

    def _fetch(self, paths: list[str], invocation: Invocation, *, batch: bool) -> list[GraphReply | ApiError]:
        if batch:
            return get_many(self._graph, paths, invocation)
        try:
            return [self._graph.get(paths[0], invocation)]
        except ApiError as error:
            return [error]


def _batch_result(index: int, item: MeetingQuery | ApiError, outcome: Outcome) -> dict[str, Any]:
    """The item's position first: a flow that filters the results (the failed ones, say) still finds each one's
    meeting, `meetings[index]`, even for an invalid item, which echoes nothing else it sent."""
    result: dict[str, Any] = {"index": index}
    if isinstance(outcome, dict):
        return result | outcome
    if isinstance(item, MeetingQuery):
        if item.meeting_id is not None:
            result["meetingId"] = item.meeting_id
        result["organizerId"] = item.organizer_id
    result.update(outcome.body())
    return result
