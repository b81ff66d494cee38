#!/usr/bin/env python3
"""azd's preprovision hook: an environment says how its callers get in (CALLER_AUTH) before azd provisions it.

    python3 scripts/check_caller_auth.py

A new environment takes the deploy default, entra. An environment deployed before CALLER_AUTH existed (it has
AZURE_FUNCTION_APP_NAME but no CALLER_AUTH) served function keys only: provisioning it with the new default would
turn its key routes off and lock out every caller that holds a key. So it stops, before anything changes, and asks
the admin to choose with `azd env set CALLER_AUTH keys|both|entra`. A value that is not a mode stops it too, with the
same words, rather than later as a deployment error. Python 3.11+ standard library and azd only.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from azure_clis import SetupError, azd_environment

CALLER_AUTH_MODES = ("keys", "entra", "both")  # as shared/settings.py reads the app setting
DEPLOY_DEFAULT = "entra"  # infra/main.bicep's callerAuth
CHOICES = """Choose, then run azd up (or azd provision) again:
  azd env set CALLER_AUTH keys    # as before: callers send a function key
  azd env set CALLER_AUTH both    # function keys and Microsoft Entra ID, to move callers over one at a time
  azd env set CALLER_AUTH entra   # Microsoft Entra ID only: callers with a function key stop working
infra/README.md ("Callers signed in with Microsoft Entra ID") says what each one sets up."""


def problem(env: Mapping[str, str]) -> str | None:
    """Why this environment must not be provisioned as it is, or None."""
    mode = env.get("CALLER_AUTH", "")
    if mode:
        if mode in CALLER_AUTH_MODES:
            return None
        return f"CALLER_AUTH is {mode!r}, which is none of {', '.join(CALLER_AUTH_MODES)}.\n{CHOICES}"
    if env.get("AZURE_FUNCTION_APP_NAME"):
        return (
            f"This environment's app ({env['AZURE_FUNCTION_APP_NAME']}) was deployed before CALLER_AUTH existed, "
            f"when callers got in with function keys only. Provisioning it now would apply the new default, "
            f"{DEPLOY_DEFAULT}, which turns the key routes off.\n{CHOICES}"
        )
    return None


def main() -> int:
    try:
        env = azd_environment()
    except SetupError as error:
        print(error, file=sys.stderr)
        return 1
    found = problem(env)
    if found is not None:
        print(found, file=sys.stderr)
        return 1
    print(f"CALLER_AUTH: {env.get('CALLER_AUTH') or DEPLOY_DEFAULT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
