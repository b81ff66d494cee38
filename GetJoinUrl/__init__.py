"""HTTP trigger: a Teams meeting (ID, join link or number) in, its virtual-appointment join URL out."""

import azure.functions as func

from shared.app import join_link_service
from shared.errors import ApiError
from shared.http import begin, error_response, json_response, request_fields, unexpected_error_response, wants_batch


def main(req: func.HttpRequest) -> func.HttpResponse:
    call = begin(req)
    try:
        service = join_link_service()
        fields = request_fields(req)
        if wants_batch(req, fields):
            body = {"results": service.resolve_batch(fields["meetings"], call)}
        else:
            body = service.resolve(fields, call)
    except ApiError as error:
        return error_response(call, error)
    except Exception:
        return unexpected_error_response(call)
    return json_response(call, 200, body)
