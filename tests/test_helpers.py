"""Unit tests of pure helpers: settings, validation, OData literals, Retry-After and backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from shared.errors import ApiError
from shared.graph_access import powershell_argument
from shared.graph_paths import appointment_url_path, meeting_lookup_path, odata_string
from shared.retry import BACKOFF_CAP_SECONDS, RETRY_AFTER_CAP_SECONDS, backoff_seconds, retry_after_seconds
from shared.settings import (
    CALLER_AUTH_MODES,
    SETTING_NAMES,
    WORKER_DEFAULT_THREADS,
    WORKER_MAX_THREADS,
    WORKER_SETTING_NAMES,
    Settings,
)
from shared.validation import (
    MeetingQuery,
    organizer_from_teams_link,
    parse_allowed_organizers,
    parse_meeting_query,
    validate_join_meeting_id,
)


def test_defaults():
    settings = Settings.from_env({})
    assert settings.graph_root == "https://graph.microsoft.com/v1.0"
    assert settings.graph_scope == "https://graph.microsoft.com/.default"
    assert (settings.graph_max_retries, settings.graph_timeout_seconds, settings.request_deadline_seconds) == (
        3,
        10,
        25,
    )
    assert settings.allowed_organizer_ids is None and settings.default_organizer_id is None
    assert settings.worker_threads == WORKER_DEFAULT_THREADS  # as the Python worker sizes its thread pool
    assert Settings.from_env({"PYTHON_THREADPOOL_THREAD_COUNT": "64"}).worker_threads == 64


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GRAPH_BASE_URL", "http://graph.microsoft.com"),
        ("GRAPH_BASE_URL", "https://graph.microsoft.com/v1.0"),
        ("GRAPH_BASE_URL", "https://graph.microsoft.com?x=1"),
        ("GRAPH_API_VERSION", "v2"),
        ("GRAPH_CREDENTIAL", "password"),
        ("GRAPH_MAX_RETRIES", "1.5"),
        ("GRAPH_MAX_RETRIES", "-1"),
        ("GRAPH_TIMEOUT_SECONDS", "0"),
        ("REQUEST_DEADLINE_SECONDS", "300"),
        ("DEFAULT_ORGANIZER_ID", "nobody"),
        ("CALLER_AUTH", "aad"),
        ("CALLER_AUTH", "keys,entra"),
    ],
)
def test_bad_settings_name_themselves(name, value):
    with pytest.raises(ApiError) as raised:
        Settings.from_env({name: value})
    assert (raised.value.status, raised.value.code) == (500, "ConfigurationError")
    assert name in raised.value.message


@pytest.mark.parametrize(
    ("value", "threads"),
    [
        ("8", 8),
        (" 2 ", 2),
        ("0", WORKER_DEFAULT_THREADS),
        ("4.5", WORKER_DEFAULT_THREADS),
        ("lots", WORKER_DEFAULT_THREADS),
        ("100000", WORKER_MAX_THREADS),
    ],
)
def test_the_worker_thread_count_is_read_as_the_worker_reads_it(value, threads):
    """The worker's own setting: a value the worker ignores must not take the function down."""
    assert Settings.from_env({"PYTHON_THREADPOOL_THREAD_COUNT": value}).worker_threads == threads


def test_caller_auth_is_keys_unless_a_mode_is_named():
    """Unset (a local run, an app deployed without infra/) means keys: no Entra ID route works without App Service
    Authentication in front of the app."""
    assert CALLER_AUTH_MODES == ("keys", "entra", "both")
    assert Settings.from_env({}).caller_auth == "keys"
    assert Settings.from_env({"CALLER_AUTH": " "}).caller_auth == "keys"
    for mode in CALLER_AUTH_MODES:
        assert Settings.from_env({"CALLER_AUTH": mode}).caller_auth == mode
        assert Settings.from_env({"CALLER_AUTH": f" {mode.upper()} "}).caller_auth == mode


def test_plain_http_only_to_loopback():
    assert Settings.from_env({"GRAPH_BASE_URL": "http://127.0.0.1:7072"}).graph_base_url == "http://127.0.0.1:7072"
    assert Settings.from_env({"GRAPH_BASE_URL": "http://localhost:1"}).graph_root == "http://localhost:1/v1.0"


def test_every_setting_is_in_the_sample_and_the_readme():
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sample = json.loads((root / "local.settings.sample.json").read_text())["Values"]
    readme = (root / "README.md").read_text()
    for name in SETTING_NAMES + WORKER_SETTING_NAMES:
        assert name in sample, name
        assert f"| `{name}` |" in readme, name


@pytest.mark.parametrize(
    ("value", "argument"),
    [
        ("adele.vance@contoso.example", "adele.vance@contoso.example"),  # as it is: GUIDs and plain UPNs read well
        ("8B1F6C3E-2a4d-4e9b-a7c1-5d3e2f1a0b9c", "8B1F6C3E-2a4d-4e9b-a7c1-5d3e2f1a0b9c"),
        ("o'brien@contoso.com", "'o''brien@contoso.com'"),  # a quote is doubled inside single quotes
        ("-x@contoso.com", "'-x@contoso.com'"),  # bare, a leading '-' would name a parameter
        ("a+b@contoso.com", "'a+b@contoso.com'"),
        ("a\u2019b", "'a\u2019\u2019b'"),  # PowerShell takes a typographic quote for '
        ("", "''"),
    ],
)
def test_powershell_arguments_are_quoted_where_needed(value, argument):
    assert powershell_argument(value) == argument


def test_odata_string_doubles_quotes():
    assert odata_string("it's") == "'it''s'"


def test_paths_encode_every_segment():
    assert appointment_url_path("a@b.example", "x+y=") == (
        "/users/a%40b.example/onlineMeetings/x%2By%3D/getVirtualAppointmentJoinWebUrl"
    )
    path = meeting_lookup_path(MeetingQuery("a@b.example", teams_link="https://teams.microsoft.com/l/meetup-join/a'b"))
    assert path.startswith("/users/a%40b.example/onlineMeetings?$filter=JoinWebUrl%20eq%20%27")
    assert "%27%27" in path  # the quote doubled, then encoded


def test_meeting_number_loses_its_spaces():
    assert validate_join_meeting_id(" 123 456 789 012 ") == "123456789012"


def test_organizer_comes_from_a_classic_links_context():
    link = (
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0?context="
        "%7b%22Tid%22%3a%2272f988bf-86f1-41af-91ab-2d7cd011db47%22%2c%22Oid%22%3a%22"
        "8b1f6c3e-2a4d-4e9b-a7c1-5d3e2f1a0b9c%22%7d"
    )
    assert organizer_from_teams_link(link) == "8b1f6c3e-2a4d-4e9b-a7c1-5d3e2f1a0b9c"
    assert organizer_from_teams_link(link.replace("8b1f6c3e", "../../x")) is None
    assert organizer_from_teams_link("https://teams.microsoft.com/l/meetup-join/x?context=%7bbroken") is None


def test_explicit_organizer_beats_the_link_and_the_default():
    query = parse_meeting_query({"meetingId": "MSpk", "organizerId": "a@b.example"}, "c@d.example")
    assert query.organizer_id == "a@b.example"
    assert parse_meeting_query({"meetingId": "MSpk"}, "c@d.example").organizer_id == "c@d.example"


def test_numeric_meeting_number_in_json_is_accepted():
    assert parse_meeting_query({"joinMeetingId": 123456789012}, "c@d.example").join_meeting_id == "123456789012"


def test_allow_list_parsing():
    assert parse_allowed_organizers("") is None
    assert parse_allowed_organizers(" A@B.example ,, c@d.example ") == {"a@b.example", "c@d.example"}


def test_retry_after_in_both_forms():
    assert retry_after_seconds("7") == 7
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry_after_seconds(when) <= 31
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (7, 7),  # a JSON number in a $batch item's headers
        (1.5, 1.5),
        (" 12 ", 12),
        ("2.5", 2.5),
        (-3, 0),
        ("-3", 0),
        (float("-inf"), 0),
        (10**400, RETRY_AFTER_CAP_SECONDS),  # Python's json reads integers of any size
        ("9" * 400, RETRY_AFTER_CAP_SECONDS),
        (1e308, RETRY_AFTER_CAP_SECONDS),
        (float("inf"), RETRY_AFTER_CAP_SECONDS),  # json reads Infinity and NaN too
        (float("nan"), None),
        (True, None),  # a bool is an int to Python
        ([], None),
        ({"seconds": 5}, None),
        ("", None),
        ("\u00b2", None),  # a digit to str.isdigit only
        ("Mon, 01 Jan 2001 00:00:00 GMT", 0),  # in the past
        ("Fri, 31 Dec 9999 23:59:59 GMT", RETRY_AFTER_CAP_SECONDS),
        ("Mon, 99999999999999999999 Jan 2001 00:00:00 GMT", None),
        ("Mon, 01 Jan 2001 00:00:00 +9999", None),
    ],
)
def test_retry_after_is_finite_and_never_negative_whatever_graph_sends(value, seconds):
    assert retry_after_seconds(value) == seconds


def test_retry_after_date_in_a_zone_that_parses_naive_counts_as_utc():
    naive = format_datetime((datetime.now(UTC) + timedelta(seconds=30)).replace(tzinfo=None))
    assert naive.endswith("-0000")
    assert 25 <= retry_after_seconds(naive) <= 31


def test_backoff_grows_with_jitter_and_a_cap():
    first = [backoff_seconds(1) for _ in range(50)]
    assert all(0.25 <= w <= 0.5 for w in first) and len(set(first)) > 1
    assert all(w <= BACKOFF_CAP_SECONDS for w in (backoff_seconds(10) for _ in range(50)))
