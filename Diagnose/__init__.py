"""HTTP trigger (admin key only): what works in this app's Graph setup, and the step that mends what does not."""

import azure.functions as func

from shared.diagnosis import diagnose
from shared.errors import ApiError
from shared.http import begin, error_response, json_response, unexpected_error_response


def main(req: func.HttpRequest) -> func.HttpResponse:
    call = begin(req)
    try:
        body = diagnose(req.params, call)
    except ApiError as error:
        return error_response(call, error)
    except Exception:
        return unexpected_error_response(call)
    return json_response(call, 200, body)
