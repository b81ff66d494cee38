"""HTTP trigger (anonymous to the host, behind App Service Authentication): GetJoinUrl for callers signed in with
Microsoft Entra ID who hold the app role JoinUrl.Get (shared/caller_access.py says what is checked and why)."""

import azure.functions as func

from shared.caller_access import JOIN_URL_SIGNED_IN
from shared.http import get_appointment_urls, respond


def main(req: func.HttpRequest) -> func.HttpResponse:
    return respond(
        req,
        "GetJoinUrlEntra",
        JOIN_URL_SIGNED_IN,
        lambda invocation: get_appointment_urls(req, invocation, JOIN_URL_SIGNED_IN),
    )
