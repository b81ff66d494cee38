"""HTTP trigger (anonymous): the connector's OpenAPI definition, for Power Automate's "Import an OpenAPI from URL": the
variant of the way callers get in here (CALLER_AUTH), or, where both are open, the one asked for with ?auth=."""

import azure.functions as func

from shared.caller_access import DEFINITION_FOR_ANYONE
from shared.http import respond
from shared.openapi import SERVED_HEADERS, VARIANT_PARAMETER, definition_for


def main(req: func.HttpRequest) -> func.HttpResponse:
    return respond(
        req,
        "OpenApi",
        DEFINITION_FOR_ANYONE,
        lambda invocation: definition_for(req.url, req.params.get(VARIANT_PARAMETER)),
        extra_headers=SERVED_HEADERS,
    )
