"""The two command-line tools the deploy scripts drive, as they call them: the Azure CLI (az) and the Azure Developer
CLI (azd). Python 3.11+ standard library only.

azd and az sign in separately (`azd auth login`, `az login`), and each may be in another tenant: azd deploys to the
tenant of the environment's subscription, while az is whatever it was last signed in to. A script that asks Graph
through az about what azd created checks first that az is in the same tenant (`check_az_tenant`); in another tenant
every lookup would answer Request_ResourceNotFound, which looks like Entra ID still replicating a new object.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence

COMMAND_TIMEOUT_SECONDS = 120
AZ_TENANT = ["az", "account", "show", "--query", "tenantId", "--output", "tsv"]


class SetupError(Exception):
    """The admin's tools are not ready (az or azd missing or failing, az signed in elsewhere): the message says what
    to run; exit status 1."""


class CliError(Exception):
    """A command (az, azd) that failed, with what it printed."""

    def __init__(self, command: Sequence[str], stderr: str) -> None:
        super().__init__(stderr)
        self.command = list(command)
        self.stderr = stderr.strip()

    @property
    def last_line(self) -> str:
        """The line of its output that says what went wrong (az prints its error last)."""
        return self.stderr.splitlines()[-1] if self.stderr else "(nothing)"


Runner = Callable[[Sequence[str]], str]


def run_command(command: Sequence[str]) -> str:
    """Runs an installed CLI (found on PATH, so az.cmd on Windows too) and returns its standard output."""
    executable = shutil.which(command[0])
    if executable is None:
        raise SetupError(
            f"{command[0]} is not on PATH: install it (the Azure CLI for az, the Azure Developer CLI for azd)."
        )
    done = subprocess.run(
        [executable, *command[1:]], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS, check=False
    )
    if done.returncode != 0:
        raise CliError(command, done.stderr or done.stdout)
    return done.stdout


def azd_environment(run: Runner = run_command) -> dict[str, str]:
    """The values of the azd environment in use: the one azd runs a hook for (AZURE_ENV_NAME), else the default."""
    command = ["azd", "env", "get-values", "--output", "json"]
    if os.environ.get("AZURE_ENV_NAME"):
        command += ["--environment", os.environ["AZURE_ENV_NAME"]]
    try:
        values = json.loads(run(command))
    except CliError as error:
        raise SetupError(f"azd env get-values failed: {error.stderr}") from None
    if not isinstance(values, dict):
        raise SetupError("azd env get-values did not answer a JSON object.")
    return {str(key): str(value) for key, value in values.items()}


def check_az_tenant(tenant_id: str, named_by: str, rerun: str, run: Runner = run_command) -> None:
    """Stops, before anything is asked of Graph, unless az is signed in to `tenant_id` (named by `named_by`)."""
    sign_in = f"Run `az login --tenant {tenant_id}`, then {rerun}."
    try:
        signed_in = run(AZ_TENANT).strip()
    except CliError as error:
        raise SetupError(
            f"The Azure CLI cannot say which tenant it is signed in to, and {named_by} is tenant {tenant_id}. "
            f"{sign_in} It said: {error.last_line}"
        ) from None
    if signed_in.lower() != tenant_id.lower():
        raise SetupError(
            f"The Azure CLI is signed in to tenant {signed_in or '(none)'}, but {named_by} is tenant {tenant_id}: "
            f"azd auth login and az login are separate sign-ins, and in another tenant Graph finds none of these "
            f"objects. {sign_in}"
        )
