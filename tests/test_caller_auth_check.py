"""scripts/check_caller_auth.py, azd's preprovision hook, run against the stand-in `azd` on PATH: an environment
deployed before CALLER_AUTH existed is not provisioned until its admin chooses a mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shared.settings import CALLER_AUTH_MODES
from tests.conftest import APP_ROOT, load_script
from tests.test_grant_script import StandIns

SCRIPT = APP_ROOT / "scripts" / "check_caller_auth.py"


@pytest.fixture
def stand_ins(tmp_path: Path) -> StandIns:
    return StandIns(tmp_path)


def check(stand_ins: StandIns, values: dict[str, str]) -> subprocess.CompletedProcess[str]:
    stand_ins.azd_env = values
    done = subprocess.run([sys.executable, str(SCRIPT)], env=stand_ins.environ(), capture_output=True, text=True)
    assert stand_ins.calls() == [["azd", "env", "get-values", "--output", "json"]]  # it reads, and asks Graph nothing
    return done


def test_a_new_environment_takes_the_deploy_default(stand_ins: StandIns) -> None:
    done = check(stand_ins, {"AZURE_ENV_NAME": "dev", "AZURE_LOCATION": "westeurope"})
    assert done.returncode == 0, done.stderr
    assert "CALLER_AUTH: entra" in done.stdout


@pytest.mark.parametrize("mode", CALLER_AUTH_MODES)
def test_an_environment_that_chose_goes_ahead(stand_ins: StandIns, mode: str) -> None:
    done = check(stand_ins, {"AZURE_FUNCTION_APP_NAME": "func-api-abc", "CALLER_AUTH": mode})
    assert done.returncode == 0, done.stderr
    assert f"CALLER_AUTH: {mode}" in done.stdout


def test_an_environment_deployed_before_the_modes_must_choose(stand_ins: StandIns) -> None:
    """Provisioning it with the new default would turn the key routes off: it stops and says how to choose."""
    done = check(stand_ins, {"AZURE_FUNCTION_APP_NAME": "func-api-abc", "MANAGED_IDENTITY_PRINCIPAL_ID": "x"})
    assert done.returncode == 1
    assert "func-api-abc" in done.stderr
    for mode in CALLER_AUTH_MODES:
        assert f"azd env set CALLER_AUTH {mode}" in done.stderr


@pytest.mark.parametrize("value", ["Entra", "aad", "keys,entra"])
def test_a_value_that_is_no_mode_stops_it_before_the_deployment_would(stand_ins: StandIns, value: str) -> None:
    done = check(stand_ins, {"CALLER_AUTH": value})
    assert done.returncode == 1
    assert repr(value) in done.stderr and "azd env set CALLER_AUTH keys" in done.stderr


def test_the_modes_are_the_functions_and_the_default_is_main_bicep_s() -> None:
    script = load_script("check_caller_auth")
    assert script.CALLER_AUTH_MODES == CALLER_AUTH_MODES
    assert script.DEPLOY_DEFAULT == "entra"  # tests/test_infra.py ties it to main.bicep
