"""HTTP trigger (function key): a Teams meeting (ID, join link or number) in, its virtual-appointment join URL out."""

import azure.functions as func

from shared.caller_access import JOIN_URL_BY_KEY
from shared.http import get_appointment_urls, respond


def main(req: func.HttpRequest) -> func.HttpResponse:
    return respond(
        req, "GetJoinUrl", JOIN_URL_BY_KEY, lambda invocation: get_appointment_urls(req, invocation, JOIN_URL_BY_KEY)
    )
