"""A stand-in for the Functions host and the Python 3.13+ proxy worker, driving azure-functions-runtime-v1.

Run by tests/test_runtime_v1.py as its own process, `python -I tests/runtime_v1_host.py APP_ROOT`, because that is
what the platform runs: a worker process with the packages on sys.path and the app root appended at worker init
(the proxy worker's dependency isolation puts it last).

The runtime's wheel installs a top-level `tests` with no `__init__.py` (a namespace package holding its generated
protobuf modules in `tests/protos`), and this repository's `tests` is a regular package, which wins over a
namespace portion wherever it is on sys.path. So the protos are imported here as the runtime's own tests import
them, `import tests.protos`, before the app root is on the path, as the proxy worker imports its protos at start-up;
the app never imports `tests`. The pytest process gets this repository's `tests` and never imports the protos.

What it does as the host and the proxy do: every message is a `StreamingMessage` serialized and parsed again (it
crosses gRPC), handed to the runtime in the proxy's request wrapper (`name`, `request`, `properties`, with the
protobuf module and the host in `properties` for worker init); the proxy starts the runtime's thread pool before
worker init. The host reads function.json itself when the runtime asks for default metadata indexing, then sends
one FunctionLoadRequest per function and, per call, an InvocationRequest whose HTTP trigger carries the method,
URL, headers, query, route values and the body as bytes (the runtime announces RawHttpBodyBytes and
RpcHttpBodyOnly). Not done: gRPC itself, logs streamed to the host, keys, routing (the caller names the function).

Protocol: one JSON line per request on stdin, one JSON line per answer on the original stdout; anything the
runtime or the function prints goes to stderr.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure_functions_runtime_v1 as runtime

import tests.protos as protos  # the runtime's: the app root is not on sys.path yet

APP_ROOT = Path(sys.argv[1]).resolve()
HOST = "127.0.0.1"


@dataclass
class WorkerRequest:
    """The proxy worker's wrapper around what the host sent."""

    name: str
    request: Any
    properties: dict[str, Any] | None = None


def over_the_wire(message: Any) -> Any:
    """The message as the other side of the gRPC stream reads it."""
    return protos.StreamingMessage.FromString(protos.StreamingMessage(**message).SerializeToString())


def bindings_of(config: dict[str, Any]) -> dict[str, Any]:
    """function.json's bindings as the host sends them (`in` is a Python keyword, so the enum is read by name)."""
    direction = protos.BindingInfo.Direction.Value
    return {
        b["name"]: protos.BindingInfo(type=b["type"], direction=direction(b.get("direction", "in")))
        for b in config["bindings"]
    }


async def start() -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
    """Worker init, metadata and one load per function.json; what each answered, and each function's ID and the name
    of its HTTP trigger binding."""
    sys.path.append(str(APP_ROOT))  # last, as the proxy worker puts it at worker init
    runtime.start_threadpool_executor()
    init = await runtime.worker_init_request(
        WorkerRequest(
            "WorkerInitRequest",
            over_the_wire(
                {
                    "request_id": "init",
                    "worker_init_request": protos.WorkerInitRequest(
                        host_version="4.0.0", function_app_directory=str(APP_ROOT), worker_directory=str(APP_ROOT)
                    ),
                }
            ),
            {"protos": protos, "host": HOST},
        )
    )
    metadata = await runtime.functions_metadata_request(
        WorkerRequest(
            "WorkerMetadataRequest",
            over_the_wire(
                {
                    "request_id": "metadata",
                    "functions_metadata_request": protos.FunctionsMetadataRequest(function_app_directory=str(APP_ROOT)),
                }
            ),
        )
    )
    ids: dict[str, tuple[str, str]] = {}
    loads: dict[str, Any] = {}
    for path in sorted(APP_ROOT.glob("*/function.json")):
        config = json.loads(path.read_text())
        name, function_id = path.parent.name, str(uuid.uuid4())
        load = await runtime.function_load_request(
            WorkerRequest(
                "FunctionLoadRequest",
                over_the_wire(
                    {
                        "request_id": "load",
                        "function_load_request": protos.FunctionLoadRequest(
                            function_id=function_id,
                            metadata=protos.RpcFunctionMetadata(
                                name=name,
                                directory=str(path.parent),
                                script_file=str(path.parent / config.get("scriptFile", "__init__.py")),
                                entry_point=config.get("entryPoint", ""),
                                bindings=bindings_of(config),
                                raw_bindings=[json.dumps(b) for b in config["bindings"]],
                                language="python",
                            ),
                        ),
                    }
                ),
            )
        )
        ids[name] = function_id, next(b["name"] for b in config["bindings"] if b["type"] == "httpTrigger")
        loads[name] = status_of(load.result)
    report = {
        "init": {**status_of(init.result), "capabilities": dict(init.capabilities)},
        "metadata": {**status_of(metadata.result), "defaultIndexing": metadata.use_default_metadata_indexing},
        "loads": loads,
        "runtimeVersion": runtime.version.VERSION,
        "modules": {name: sys.modules[name].__file__ for name in ("tests.protos", "shared")},
    }
    return report, ids


def status_of(result: Any) -> dict[str, Any]:
    return {
        "status": protos.StatusResult.Status.Name(result.status),
        "exception": result.exception.message if result.HasField("exception") else None,
    }


async def invoke(function_id: str, trigger: str, call: dict[str, Any]) -> dict[str, Any]:
    """One HTTP call as the host sends it; the function's HTTP answer as the host reads it back."""
    http = protos.RpcHttp(
        method=call["method"],
        url=call["url"],
        headers=call.get("headers", {}),
        query=call.get("query", {}),
        params=call.get("route", {}),
        body=protos.TypedData(bytes=base64.b64decode(call.get("body", ""))),
    )
    request = over_the_wire(
        {
            "request_id": "invoke",
            "invocation_request": protos.InvocationRequest(
                invocation_id=str(uuid.uuid4()),
                function_id=function_id,
                input_data=[protos.ParameterBinding(name=trigger, data=protos.TypedData(http=http))],
            ),
        }
    )
    response = await runtime.invocation_request(WorkerRequest("FunctionInvocationRequest", request))
    response = over_the_wire({"request_id": "invoke", "invocation_response": response}).invocation_response
    answer: dict[str, Any] = status_of(response.result)
    if response.return_value.HasField("http"):
        returned = response.return_value.http
        body = returned.body.bytes if returned.body.HasField("bytes") else returned.body.string.encode()
        answer["http"] = {
            "status": int(returned.status_code),
            "headers": dict(returned.headers),
            "body": base64.b64encode(body).decode(),
        }
    return answer


async def serve(channel: Any) -> None:
    report, ids = await start()
    print(json.dumps(report), file=channel, flush=True)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        call = json.loads(line)
        print(json.dumps(await invoke(*ids[call["function"]], call)), file=channel, flush=True)
    runtime.stop_threadpool_executor()


if __name__ == "__main__":
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # prints from the runtime or the function go to stderr
    asyncio.run(serve(answers))
