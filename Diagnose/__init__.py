"""HTTP trigger (admin key only): what works in this app's Graph setup, and the step that mends what does not."""

import azure.functions as func

from shared.caller_access import DIAGNOSE_BY_KEY
from shared.diagnosis import diagnose
from shared.http import respond


def main(req: func.HttpRequest) -> func.HttpResponse:
    return respond(req, "Diagnose", DIAGNOSE_BY_KEY, lambda invocation: diagnose(req.params, invocation))
