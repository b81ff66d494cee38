"""HTTP trigger (anonymous to the host, behind App Service Authentication): Diagnose for an admin signed in with
Microsoft Entra ID who holds the app role Diagnose.Run, instead of the master key."""

import azure.functions as func

from shared.caller_access import DIAGNOSE_SIGNED_IN
from shared.diagnosis import diagnose
from shared.http import respond


def main(req: func.HttpRequest) -> func.HttpResponse:
    return respond(req, "DiagnoseEntra", DIAGNOSE_SIGNED_IN, lambda invocation: diagnose(req.params, invocation))
