"""Cold child, the function side: from a fresh worker-like interpreter to GetJoinUrl's first 200 answer.

Like the Python worker, the interpreter has `azure.functions` imported before any function is loaded; the clock
starts after that. Then: load GetJoinUrl with the worker-style loader, build a `func.HttpRequest`, call `main`
(settings, credential, token from the identity endpoint, Graph call). Run by bench/cold.py with the bench
virtualenv's Python; prints one JSON line.
"""

import json
import os
import resource
import sys
import time

import azure.functions as func

with open("/proc/self/status") as status:
    RSS_AT_START_KB = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
START = time.perf_counter()

sys.path.insert(0, os.environ["BENCH_APP_ROOT"])  # the worker puts the app root on sys.path
from devhost.host import load_function  # noqa: E402

main, _ = load_function("GetJoinUrl")
IMPORTED = time.perf_counter()
request = func.HttpRequest(
    method="GET",
    url="http://localhost:7071/api/GetJoinUrl",
    headers={},
    params={"meetingId": os.environ["BENCH_MEETING_ID"], "organizerId": os.environ["BENCH_ORGANIZER_ID"]},
    route_params={},
    body=b"",
)
response = main(request)
DONE = time.perf_counter()
if response.status_code != 200:
    raise SystemExit(f"unexpected answer: {response.status_code} {response.get_body()[:300]!r}")
print(
    json.dumps(
        {
            "total_ms": (DONE - START) * 1000,
            "import_ms": (IMPORTED - START) * 1000,
            "first_call_ms": (DONE - IMPORTED) * 1000,
            "rss_at_start_kb": RSS_AT_START_KB,
            "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }
    )
)
