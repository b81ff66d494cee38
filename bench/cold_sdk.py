"""Cold child, the SDK side: a fresh interpreter from its imports to the official msgraph-sdk's first answer.

What a developer would write with `msgraph-sdk`: `GraphServiceClient` over a `ManagedIdentityCredential`,
pointed at the emulator (the base URL and `allowed_hosts` are the only changes, since the SDK sends tokens to
Microsoft's Graph hosts only). With BENCH_WORKER_LIKE set, `azure.functions` is imported before the clock
starts, as in a Functions worker (informational: the stricter comparison). Run by bench/cold.py with the bench
virtualenv's Python; prints one JSON line.
"""

import os
import time

if os.environ.get("BENCH_WORKER_LIKE"):  # the informational variant: the SDK inside a worker-like interpreter
    import azure.functions  # noqa: F401

START = time.perf_counter()

import asyncio  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

from azure.identity import ManagedIdentityCredential  # noqa: E402
from kiota_authentication_azure.azure_identity_authentication_provider import (  # noqa: E402
    AzureIdentityAuthenticationProvider,
)
from msgraph.graph_request_adapter import GraphRequestAdapter  # noqa: E402
from msgraph.graph_service_client import GraphServiceClient  # noqa: E402

IMPORTED = time.perf_counter()


async def first_answer() -> tuple[str | None, float]:
    base_url = os.environ["GRAPH_BASE_URL"]
    host = urlsplit(base_url).hostname
    if not host:
        raise SystemExit(f"GRAPH_BASE_URL has no host: {base_url}")
    credential = ManagedIdentityCredential()
    auth = AzureIdentityAuthenticationProvider(credential, scopes=[f"{base_url}/.default"], allowed_hosts=[host])
    adapter = GraphRequestAdapter(auth)
    adapter.base_url = f"{base_url}/v1.0"
    client = GraphServiceClient(request_adapter=adapter)
    built = time.perf_counter()
    meeting = client.users.by_user_id(os.environ["BENCH_ORGANIZER_ID"]).online_meetings.by_online_meeting_id(
        os.environ["BENCH_MEETING_ID"]
    )
    answer = await meeting.get_virtual_appointment_join_web_url.get()
    return (answer.value if answer is not None else None), built


value, BUILT = asyncio.run(first_answer())
DONE = time.perf_counter()
if not (isinstance(value, str) and value.startswith("https://")):
    raise SystemExit(f"unexpected answer: {value!r}")
print(
    json.dumps(
        {
            "total_ms": (DONE - START) * 1000,
            "import_ms": (IMPORTED - START) * 1000,
            "build_ms": (BUILT - IMPORTED) * 1000,
            "first_call_ms": (DONE - BUILT) * 1000,
            "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }
    )
)
