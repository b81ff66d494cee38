"""Many Graph GETs through JSON batching (`$batch`): 20 requests a call, each item answered on its own.

The `$batch` calls of a round go out side by side (BATCH_CONCURRENCY at once), so a round costs one Graph round
trip: 100 meetings by ID take one, by link or number two (look up, then ask for the join URLs). Items Graph
throttles (or finds unavailable) are sent again in a later round, while the retry budget and the deadline allow.
A `$batch` call that fails as a whole has had its retries in GraphClient: its answer is final for its items. Both
kinds of retry spend one budget per request (Invocation.count_sends).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeGuard, TypeVar

from .errors import ApiError
from .graph_client import GraphClient
from .graph_transport import GraphReply
from .invocation import Invocation
from .retry import RETRY_STATUSES, retry_after_seconds

BATCH_LIMIT = 20  # Graph's JSON batching takes at most 20 requests per call
BATCH_CONCURRENCY = 5  # `$batch` calls in flight at once for one invocation: a whole batch of 100 in one round trip

ItemReply = GraphReply | ApiError


def connections_needed(worker_threads: int) -> int:
    """Graph connections one worker process may have in flight: each of its threads may run a whole batch."""
    return worker_threads * BATCH_CONCURRENCY


T = TypeVar("T")


def get_many(graph: GraphClient, paths: Sequence[str], invocation: Invocation) -> list[ItemReply]:
    """One answer per path, in order: the item's own reply, or the error of the `$batch` call that carried it.

    Graph is asked once per distinct path: duplicates share the answer. An item goes into another round while it
    has been sent at most GRAPH_MAX_RETRIES times in this invocation, whole-call retries of the `$batch` calls
    that carried it included, so no request is sent more than GRAPH_MAX_RETRIES + 1 times.
    """
    distinct = list(dict.fromkeys(paths))
    replies: dict[int, ItemReply] = {}
    pending = list(range(len(distinct)))
    while pending:
        retry = _send_round(graph, pending, distinct, invocation, replies)
        pending = _next_round(graph, retry, distinct, invocation) if retry else []
    index = {path: i for i, path in enumerate(distinct)}
    return [replies[index[path]] for path in paths]


def _send_round(
    graph: GraphClient,
    pending: Sequence[int],
    paths: Sequence[str],
    invocation: Invocation,
    replies: dict[int, ItemReply],
) -> dict[int, GraphReply]:
    """One round: the pending items in `$batch` calls side by side, each item's reply kept in `replies`; returns
    the replies worth another round."""
    chunks = [pending[start : start + BATCH_LIMIT] for start in range(0, len(pending), BATCH_LIMIT)]
    sends = [partial(_post_batch, graph, chunk, paths, invocation) for chunk in chunks]
    retry: dict[int, GraphReply] = {}
    for chunk_replies, retryable in side_by_side(sends, BATCH_CONCURRENCY):
        replies.update(chunk_replies)
        retry.update(retryable)
    return retry


def _next_round(
    graph: GraphClient, retry: dict[int, GraphReply], paths: Sequence[str], invocation: Invocation
) -> list[int]:
    """The items to send again, after the wait (the longest Retry-After they were given, else backoff); none when
    the retry budget or the deadline is spent."""
    again = [i for i in sorted(retry) if invocation.times_sent(paths[i]) <= graph.max_retries]
    # With none left, the attempt is past the budget, so wait_to_retry gives up (and logs where it stopped).
    attempt = max(invocation.times_sent(paths[i]) for i in again or retry)
    asked = [wait for i in again if (wait := retry[i].retry_after) is not None]
    reason = f"{len(retry)} batch item(s) answered HTTP {next(iter(retry.values())).status}"
    return again if graph.wait_to_retry(attempt, max(asked) if asked else None, reason, invocation) else []


def side_by_side(tasks: Sequence[Callable[[], T]], limit: int) -> list[T]:
    """Each task's result, in order, with up to `limit` running at once: the caller's thread and helpers.

    Plain threads, started per round: starting one costs far less than the round trip it overlaps, and
    concurrent.futures' thread pool would be one more import on every cold start. The tasks' waits and socket
    reads are cut to the invocation's deadline by GraphClient, so joining them ends about when the slowest one
    does, as a single call would. A task's exception is raised on the caller's thread, as if it had run there.
    """
    results: dict[int, T] = {}
    failures: list[Exception] = []
    indexes = iter(range(len(tasks)))
    lock = threading.Lock()

    def work() -> None:
        while not failures:
            with lock:
                index = next(indexes, None)
            if index is None:
                return
            try:
                results[index] = tasks[index]()
            except Exception as exc:
                failures.append(exc)

    helpers = [threading.Thread(target=work, daemon=True) for _ in range(min(limit, len(tasks)) - 1)]
    for helper in helpers:
        helper.start()
    work()
    for helper in helpers:
        helper.join()
    if failures:
        raise failures[0]
    return [results[index] for index in range(len(tasks))]  # every index was set, or a failure was raised


def _post_batch(
    graph: GraphClient, chunk: Sequence[int], paths: Sequence[str], invocation: Invocation
) -> tuple[Mapping[int, ItemReply], Mapping[int, GraphReply]]:
    """The answers of one `$batch` call for its items, and those of them worth another round."""
    item_headers = {"Accept-Language": invocation.accept_language} if invocation.accept_language else {}
    body = {"requests": [{"id": str(i), "method": "GET", "url": paths[i], "headers": item_headers} for i in chunk]}
    try:
        reply = graph.post("/$batch", body, invocation, [paths[i] for i in chunk])
    except ApiError as error:
        return dict.fromkeys(chunk, error), {}
    if reply.status != 200:
        return dict.fromkeys(chunk, reply), {}
    items = batch_items(reply, [str(i) for i in chunk])
    replies = {i: items[str(i)] for i in chunk}
    return replies, {i: item for i, item in replies.items() if item.status in RETRY_STATUSES}


def batch_items(reply: GraphReply, ids: Sequence[str]) -> dict[str, GraphReply]:
    """Each id's own answer out of a `$batch` reply; never raises, whatever Graph sent.

    Every item is the whole reply with its own status, body and wait (`_replace`), so it keeps what
    the reply knows besides (its request-id, and anything else a reply comes to carry). An id with no usable
    answer (none, or one whose status is not an HTTP status) gets status 0, which graph_replies reads as "no
    answer for this item". Graph answers items in any order; the first usable answer for an id counts.
    """
    unanswered = reply._replace(status=0, body=None, retry_after=None)
    items = dict.fromkeys(ids, unanswered)
    answers = reply.body.get("responses") if isinstance(reply.body, dict) else None
    for item in answers if isinstance(answers, list) else ():
        if not isinstance(item, dict):
            continue
        item_id, status = item.get("id"), item.get("status")
        if not isinstance(item_id, str) or items.get(item_id) is not unanswered or not _is_http_status(status):
            continue
        wait = retry_after_seconds(_header(item.get("headers"), "Retry-After"))
        items[item_id] = reply._replace(status=status, body=item.get("body"), retry_after=wait)
    return items


def _is_http_status(value: object) -> TypeGuard[int]:
    return type(value) is int and 100 <= value <= 599  # type(): a JSON true is a Python int


def _header(headers: Any, name: str) -> Any:
    """A batch item's header, by name in any case; headers that are not a JSON object have none."""
    if not isinstance(headers, dict):
        return None
    wanted = name.lower()
    return next((value for key, value in headers.items() if isinstance(key, str) and key.lower() == wanted), None)
