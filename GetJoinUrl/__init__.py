"""HTTP trigger: a Teams meeting (ID, join link or number) in, its virtual-appointment join URL out."""

from typing import Any

import azure.functions as func

from shared.app import join_link_service
from shared.http import BATCH_FIELD, answer, request_fields, wants_batch
from shared.invocation import Invocation


def main(req: func.HttpRequest) -> func.HttpResponse:
    return answer(req, "GetJoinUrl", lambda call: join_urls(req, call))


def join_urls(req: func.HttpRequest, call: Invocation) -> dict[str, Any]:
    service = join_link_service()
    fields = request_fields(req)
    if wants_batch(req, fields):
        return {"results": service.resolve_batch(fields[BATCH_FIELD], call, fields.get("organizerId"))}
    return service.resolve(fields, call)
