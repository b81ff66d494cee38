"""Cold child, informational: what GetJoinUrl's two runtime dependencies cost to import by themselves.

Same start as cold_function.py (a fresh interpreter with `azure.functions` imported, clock started after it),
then only `import requests` and `from azure.identity import ManagedIdentityCredential`: the floor under
GetJoinUrl's cold start while it keeps both. Run by bench/cold.py; prints one JSON line.
"""

import json
import resource
import time

import azure.functions  # noqa: F401

START = time.perf_counter()

import requests  # noqa: E402, F401
from azure.identity import ManagedIdentityCredential  # noqa: E402, F401

DONE = time.perf_counter()
print(
    json.dumps(
        {
            "total_ms": (DONE - START) * 1000,
            "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }
    )
)
