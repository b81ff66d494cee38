"""HTTP trigger (function key): a Teams meeting (ID, join link or number) in, its virtual-appointment join URL out."""

import azure.functions as func

from shared.caller_access import JOIN_URL_BY_KEY
from shared.http import answer, get_appointment_urls


def main(req: func.HttpRequest) -> func.HttpResponse:
    return answer(req, "GetJoinUrl", JOIN_URL_BY_KEY, lambda call: get_appointment_urls(req, call, JOIN_URL_BY_KEY))
