"""shared/settings.py: app settings read from the environment once and validated in one place, each with a default;
a bad value is a 500 that names it; every setting is in the README's table and the sample settings file."""

from __future__ import annotations

import json

import pytest

from shared.errors import ApiError
from shared.settings import (
    CALLER_AUTH_MODES,
    SETTING_NAMES,
    WORKER_DEFAULT_THREADS,
    WORKER_MAX_THREADS,
    WORKER_SETTING_NAMES,
    Settings,
)
from tests.conftest import APP_ROOT, ORGANIZER_ID


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


def test_graph_scope_follows_graph_base_url():
    assert Settings.from_env({"GRAPH_BASE_URL": "https://graph.microsoft.us/"}).graph_scope == (
        "https://graph.microsoft.us/.default"
    )


def test_every_setting_is_in_the_sample_and_the_readme():
    sample = json.loads((APP_ROOT / "local.settings.sample.json").read_text())["Values"]
    readme = (APP_ROOT / "README.md").read_text()
    for name in SETTING_NAMES + WORKER_SETTING_NAMES:
        assert name in sample, name
        assert f"| `{name}` |" in readme, name


# --- as the function reads them ---------------------------------------------------------------------------------------


def test_beta_api_version(get_join_url, meeting, configure, emulator):
    configure(GRAPH_API_VERSION="beta")
    assert get_join_url(params={"meetingId": meeting.meeting_id, "organizerId": ORGANIZER_ID}).status == 200
    assert emulator.graph_calls()[0].target.startswith("/beta/users/")


def test_bad_setting_is_a_500_that_names_it(get_join_url, configure, emulator):
    configure(GRAPH_TIMEOUT_SECONDS="soon")
    answer = get_join_url(params={"meetingId": "MSpkYzE3", "organizerId": ORGANIZER_ID})
    assert (answer.status, answer.body["error"]["code"]) == (500, "ConfigurationError")
    assert "GRAPH_TIMEOUT_SECONDS" in answer.body["error"]["message"]


def test_bad_allow_list_is_a_configuration_error(get_join_url, configure):
    configure(ALLOWED_ORGANIZER_IDS="alice@contoso.example, not an id")
    answer = get_join_url(params={"meetingId": "MSpkYzE3", "organizerId": ORGANIZER_ID})
    assert (answer.status, answer.body["error"]["code"]) == (500, "ConfigurationError")
    assert "ALLOWED_ORGANIZER_IDS" in answer.body["error"]["message"]
