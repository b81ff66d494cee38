"""HTTP trigger (anonymous): the connector's OpenAPI definition, for Power Automate's "Import an OpenAPI from URL": the
variant of the way callers get in here (CALLER_AUTH), or, where both are open, the one asked for with ?auth=."""

import azure.functions as func

from shared.errors import ApiError
from shared.http import error_response, json_response
from shared.invocation import Invocation
from shared.openapi import SERVED_HEADERS, VARIANT_PARAMETER, definition_for

DEADLINE_SECONDS = 5.0


def main(req: func.HttpRequest) -> func.HttpResponse:
    call = Invocation.start("OpenApi", req.headers, DEADLINE_SECONDS)
    try:
        spec = definition_for(req.url, req.params.get(VARIANT_PARAMETER))
    except ApiError as error:
        return error_response(call, error)
    return json_response(call, 200, spec, extra_headers=SERVED_HEADERS)
