"""`make run`: serve the function on http://localhost:7071/api/GetJoinUrl.

By default an emulator of Graph and the managed-identity endpoint runs beside it, seeded with a demo
meeting, and the function is pointed at it through its normal app settings; the commands printed for the demo
meeting are the README's, and each request the emulator answers is printed as a line (devhost/traffic.py) unless
`--quiet-traffic`. `--real` leaves the settings alone (local.settings.json and your environment) so the
function signs in with Azure CLI (or a service principal) and calls real Graph; the credential is tried once at
start, so a missing Azure CLI or sign-in shows at once rather than as a 503 on the first call.
Uses `func start` when Core Tools is installed, the built-in host (devhost/host.py, which says how it differs
from the real one) otherwise. Either way WEBSITE_HOSTNAME is localhost:<port>, as the platform sets it to the app's
host name, so the connector definition served at /api/openapi.json points at this server.
`--auth entra` (or `both`) sets CALLER_AUTH and the functions' AzureWebJobs.<name>.Disabled settings as infra/ does,
and serves with the built-in host behind a stand-in of App Service Authentication (devhost/easy_auth.py) that trusts
the tokens the emulator's Entra ID issues; it prints calls signed in with such tokens, each with its answer.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable

from shared.errors import ApiError
from shared.http import HOST_BODY_MAX_BYTES
from shared.identity import build_credential, credential_problem
from shared.settings import Settings

from .emulator import SETUPS, GraphEmulator
from .entra_id import API_APP_ID_URI
from .examples import (
    DEMO_JOIN_MEETING_ID,
    DEMO_ORGANIZER_ID,
    DEMO_ORGANIZER_UPN,
    DEMO_THREAD,
    DEV_PORT,
    Example,
    entra_examples,
    examples,
)
from .host import APP_ROOT, Front, serve
from .traffic import Printer

# What the printed calls answer in each broken set-up (the README's "Troubleshooting a new tenant" mends each).
SETUP_ANSWERS = {
    "no-role": "These calls now answer 403 GraphPermissionMissing",
    "no-lookup-role": "These calls now answer 403 GraphPermissionMissing where they find the meeting by Teams link"
    " or invite number",
    "no-policy": "These calls now answer 403 AccessPolicyMissing",
}
AUTH_MODES = ("keys", "entra", "both")  # CALLER_AUTH's
# The functions each CALLER_AUTH mode leaves on; infra/ turns the others off with AzureWebJobs.<name>.Disabled.
KEY_FUNCTIONS, ENTRA_FUNCTIONS = ("GetJoinUrl", "Diagnose"), ("GetJoinUrlEntra", "DiagnoseEntra")
FUNCTIONS_ON = {"keys": KEY_FUNCTIONS, "entra": ENTRA_FUNCTIONS, "both": KEY_FUNCTIONS + ENTRA_FUNCTIONS}


def main() -> None:
    args = parse_args(sys.argv[1:])
    check_free(args.port, "the functions")
    if not args.real:
        check_free(args.emulator_port, "the Graph emulator")

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # azure-core logs every token request and answer at INFO as a many-line dump of headers (their values
    # REDACTED): on the console it buries the function's own records and the traffic lines between them.
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
    # azure-identity says at INFO which managed identity it found and that each get_token succeeded: the traffic
    # line of the token request says as much, and a failure still shows (it is logged as a WARNING).
    logging.getLogger("azure.identity").setLevel(logging.WARNING)
    from_file = load_local_settings()
    os.environ["WEBSITE_HOSTNAME"] = f"localhost:{args.port}"
    os.environ.setdefault("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", str(HOST_BODY_MAX_BYTES))  # as infra sets it
    os.environ.update(mode_settings(args.auth))
    front: Front | None = None
    if not args.real:
        emulator = GraphEmulator(port=args.emulator_port).start()
        emulator.apply_setup(args.setup)
        if args.auth != "keys":  # before the traffic lines begin: fetching the tenant's keys is no call of ours
            front = start_authentication(args.auth, emulator)
        if not args.quiet_traffic:
            emulator.observer = Printer(sys.stdout)
        os.environ.update(emulator.settings())
        meeting = emulator.add_meeting(
            DEMO_ORGANIZER_ID, DEMO_ORGANIZER_UPN, thread=DEMO_THREAD, join_meeting_id=DEMO_JOIN_MEETING_ID
        )
        print(f"Graph and managed-identity emulator on {emulator.base_url}, with a demo meeting.")
        print(f"Set-up: {args.setup} ({SETUPS[args.setup]}).")
        if args.setup != "ok":
            print(
                f"{SETUP_ANSWERS[args.setup]} (the batch in each such item; Diagnose names the failing checks):"
                ' README.md\'s "Troubleshooting a new tenant" shows the fix.'
            )
        if args.auth != "entra":
            if args.setup == "ok":
                print("Try these (README.md shows the answer each gets):")
            print_examples(examples(meeting, args.port))
        if front is not None:
            print_authentication(args.auth)
            print_examples(entra_examples(meeting, args.port, int(emulator.base_url.rsplit(":", 1)[1])))
    else:
        if from_file:
            print("Calling real Microsoft Graph with the settings from local.settings.json and your environment.")
        else:
            print(
                "Calling real Microsoft Graph with the settings from your environment only: there is no"
                " local.settings.json (copy local.settings.sample.json to it to keep settings in a file)."
            )
        check_credential()
    sys.stdout.flush()

    core_tools = shutil.which("func")
    if core_tools and not args.builtin_host and front is None:
        raise SystemExit(subprocess.call([core_tools, "start", "--port", str(args.port)], cwd=APP_ROOT))
    server = serve("127.0.0.1", args.port, front=front)
    route = "/api/entra/GetJoinUrl" if args.auth == "entra" else "/api/GetJoinUrl"
    print(f"Serving http://localhost:{args.port}{route} (Ctrl+C to stop)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The options; a wrong one exits with a usage error. The emulator's port follows --port unless given."""
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=port_number(1), default=DEV_PORT, help="make run PORT=N")
    parser.add_argument(
        "--emulator-port",
        type=port_number(0),
        help="make run EMULATOR_PORT=N (default: the --port number + 1, so 7072; 0: any free port)",
    )
    parser.add_argument("--real", action="store_true", help="call real Graph with your own credentials")
    parser.add_argument("--setup", choices=SETUPS, default="ok", help="start the emulator in a broken set-up")
    parser.add_argument("--builtin-host", action="store_true", help="do not use `func start` even if installed")
    parser.add_argument("--quiet-traffic", action="store_true", help="do not print the emulator's traffic")
    parser.add_argument(
        "--auth", choices=AUTH_MODES, default="keys", help="make run AUTH=entra|both: callers sign in with Entra ID"
    )
    args = parser.parse_args(argv)
    if args.real and args.auth != "keys":
        parser.error(
            f"--auth {args.auth} needs the emulator, whose Entra ID issues the callers' tokens and whose demo meeting "
            "the printed calls ask for: leave out --real"
        )
    if args.emulator_port is None:
        if args.port == 65535 and not args.real:
            parser.error("--port 65535 leaves no port above it for the emulator: give --emulator-port too")
        args.emulator_port = args.port + 1
    if not args.real and args.port == args.emulator_port:
        parser.error("--port and --emulator-port must differ (make run PORT=N EMULATOR_PORT=M)")
    return args


def port_number(lowest: int) -> Callable[[str], int]:
    """An argparse type: a TCP port from `lowest` to 65535, so a wrong one is a usage error, not a traceback."""

    def parse(text: str) -> int:
        if not (text.isascii() and text.isdigit()) or not lowest <= int(text) <= 65535:
            raise argparse.ArgumentTypeError(f"{text!r} is not a port from {lowest} to 65535")
        return int(text)

    return parse


def mode_settings(mode: str) -> dict[str, str]:
    """CALLER_AUTH and the functions turned off, as infra/ writes them for the mode."""
    settings = {"CALLER_AUTH": mode}
    for name in KEY_FUNCTIONS + ENTRA_FUNCTIONS:
        settings[f"AzureWebJobs.{name}.Disabled"] = "false" if name in FUNCTIONS_ON[mode] else "true"
    return settings


def start_authentication(mode: str, emulator: GraphEmulator) -> Front:
    """App Service Authentication's stand-in, configured as infra/ configures it, trusting the emulator's Entra ID;
    the platform's variables go to the function, as App Service sets them."""
    from .easy_auth import AppServiceAuthentication, AuthSettings  # PyJWT and cryptography, only with AUTH

    front = AppServiceAuthentication(AuthSettings.as_infra_writes(mode), emulator.base_url).start()
    os.environ.update(front.platform_variables())
    return front


def print_authentication(mode: str) -> None:
    from .easy_auth import AuthSettings

    settings = AuthSettings.as_infra_writes(mode)
    print(
        f"App Service Authentication (a stand-in) guards /api/ as infra/ configures it for CALLER_AUTH={mode}: tokens "
        f"of tenant {settings.tenant_id} for {API_APP_ID_URI}, which the emulator's Entra ID issues; not required on "
        f"{', '.join(settings.excluded_paths)}."
    )
    print("Calls signed in with Microsoft Entra ID, each with the answer it gets (docs/entra-id.md shows them too):")


def print_examples(shown: list[Example]) -> None:
    for example in shown:
        print(f"# {example.title}")
        print(example.command)
        if example.answer is not None:
            print(f"# answers {example.answer}")


def check_free(port: int, serving: str) -> None:
    """Exit with one line naming `port` unless it can be listened on now, before anything starts or is printed.
    Bound as the servers bind (SO_REUSEADDR), so a previous run's connections in TIME_WAIT do not count."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            why = "is already in use" if error.errno == errno.EADDRINUSE else f"cannot be used ({error.strerror})"
            raise SystemExit(
                f"make run: port {port} for {serving} {why}; stop what holds it, or choose free ports with"
                " `make run PORT=N EMULATOR_PORT=M` (python -m devhost --port N --emulator-port M)"
            ) from None


def check_credential() -> None:
    """One token request now, with the credential the function will use: its failure is said at once."""
    try:
        settings = Settings.from_env()
    except ApiError as error:
        print(f"WARNING: {error.message}")
        return
    credential = build_credential(settings)
    try:
        credential.get_token(settings.graph_scope)
    except Exception as exc:  # whatever the credential raises is what the user must read
        problem, fix = credential_problem(credential, exc)
        print(f"WARNING: {problem}. {fix}")
        print("Until then every call answers 503 IdentityUnavailable, naming the same cause.")
        return
    print(f"Got a Graph token with the {settings.graph_credential} credential.")


def load_local_settings() -> bool:
    """Values from local.settings.json, as Core Tools applies them; the environment wins. False: no such file."""
    path = APP_ROOT / "local.settings.json"
    if not path.exists():
        return False
    for name, value in json.loads(path.read_text()).get("Values", {}).items():
        os.environ.setdefault(name, str(value))
    return True


if __name__ == "__main__":
    main()
