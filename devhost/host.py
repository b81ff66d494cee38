"""A small stand-in for the Functions host and Python worker, for machines without Core Tools.

What it does as they do: it loads each function as the worker does (the `__app__` namespace package,
`function.json`'s `scriptFile` and `entryPoint`), routes `/api/<route>` by each httpTrigger's route template and
methods, case-insensitively, and hands the function what the host hands the worker: query values with repeated keys
(compared case-insensitively) joined with "," and empty ones dropped, repeated headers joined with ",", header names
lower-cased (azure.functions does that), route values in the case sent, the body read by Content-Length or
chunked, up to FUNCTIONS_REQUEST_BODY_SIZE_LIMIT (100 MB by default; 413 beyond). An unhandled exception is an empty
500. A function the app setting `AzureWebJobs.<name>.Disabled` (or `AzureWebJobs_<name>_Disabled`) turns off, with
`true` or `1` in any case as the host reads it, is not served: its route is a 404 like any path no function serves.
With a `front` (devhost/easy_auth.py, App Service Authentication's stand-in), every request passes it first.

What it does differently, so do not take it for the real thing:
- No keys: `authLevel` is not checked (Core Tools does not check keys either; Azure does), so nor does the master key
  run a disabled function, as it can in Azure.
- `sys.path`: the app root goes first. Under Core Tools it comes last, after site-packages (on App Service, first),
  so a module name the app shares with an installed package can resolve differently there.
- One thread per connection instead of the worker's pool of min(32, CPUs + 4) threads
  (`PYTHON_THREADPOOL_THREAD_COUNT`): invocations never wait for a free thread here, as they can there.
- host.json is not read: no `functionTimeout`, no log levels or sampling (the function's logs go to the console).
- Plain HTTP/1.1 on loopback; one socket timeout (30 s) for each read and write, where Kestrel has separate
  header, body-rate and keep-alive (130 s) limits.
- The path is routed as sent; Kestrel percent-decodes it first (all but %2F).
- Only httpTrigger functions are served, and of route constraints only `alpha`, `int` and `guid` are checked.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from .http_server import IO_TIMEOUT_SECONDS, MAX_BODY_BYTES, RequestHandler, Server

APP_ROOT = Path(__file__).resolve().parent.parent
ROUTE_PREFIX = "/api/"
_CONSTRAINTS = {"alpha": "[A-Za-z]+", "int": "[0-9]+", "guid": "[0-9A-Fa-f-]{36}"}


class Front(Protocol):
    """What stands in front of the host (App Service Authentication): a request's headers as the host then gets
    them, or the answer it gives instead."""

    def admit(self, path: str, headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]] | func.HttpResponse: ...


def load_function(name: str, app_root: Path = APP_ROOT) -> tuple[Callable[..., Any], dict[str, Any]]:
    """The entry point of `app_root/name`, imported as `__app__.<name>` like the Python worker does."""
    root = str(app_root)
    if root not in sys.path:
        sys.path.insert(0, root)
    if "__app__" not in sys.modules:
        spec = importlib.machinery.ModuleSpec("__app__", loader=None, is_package=True)
        package = importlib.util.module_from_spec(spec)
        package.__path__ = [root]
        sys.modules["__app__"] = package
    config = json.loads((app_root / name / "function.json").read_text())
    script = Path(config.get("scriptFile", "__init__.py"))
    module_name = f"__app__.{name}" if script.name == "__init__.py" else f"__app__.{name}.{script.stem}"
    module = importlib.import_module(module_name)
    return getattr(module, config.get("entryPoint", "main")), config


@dataclass(frozen=True)
class Route:
    name: str
    pattern: re.Pattern[str]
    methods: frozenset[str]
    entry: Callable[..., Any]


def route_pattern(template: str) -> re.Pattern[str]:
    """`GetJoinUrl/{action?}` -> a case-insensitive regex with named groups, as ASP.NET routing reads it."""
    regex = ""
    for part in template.strip("/").split("/"):
        match = re.fullmatch(r"\{(\w+)(?::(\w+))?(\?)?\}", part)
        if match is None:
            regex += "/" + re.escape(part)
            continue
        name, constraint, optional = match.groups()
        group = f"/(?P<{name}>{_CONSTRAINTS.get(constraint or '', '[^/]+')})"
        regex += f"(?:{group})?" if optional else group
    return re.compile(regex.removeprefix("/") + "/?", re.IGNORECASE)


def is_disabled(name: str, env: Mapping[str, str]) -> bool:
    """The app setting that turns a function off, as the Functions host reads it."""
    values = (env.get(f"AzureWebJobs.{name}.Disabled", ""), env.get(f"AzureWebJobs_{name}_Disabled", ""))
    return any(value.lower() in ("true", "1") for value in values)


def discover(app_root: Path = APP_ROOT, env: Mapping[str, str] | None = None) -> list[Route]:
    """The HTTP-triggered functions the host serves: all but those an app setting turns off."""
    env = os.environ if env is None else env
    routes = []
    for config_path in sorted(app_root.glob("*/function.json")):
        name = config_path.parent.name
        if is_disabled(name, env):
            continue
        trigger = next((b for b in json.loads(config_path.read_text())["bindings"] if b["type"] == "httpTrigger"), None)
        if trigger is None:
            continue
        entry, _ = load_function(name, app_root)
        methods = frozenset(m.upper() for m in trigger.get("methods") or ["GET", "POST"])
        routes.append(Route(name, route_pattern(trigger.get("route") or name), methods, entry))
    return routes


def joined(pairs: Iterable[tuple[str, str]], drop_empty: bool) -> dict[str, str]:
    """Names compared case-insensitively (the first spelling kept), repeated values joined with ",": what the
    host's StringValues.ToString() hands the worker. The host drops query values that end up empty."""
    values: dict[str, list[str]] = {}
    spelling: dict[str, str] = {}
    for name, value in pairs:
        values.setdefault(spelling.setdefault(name.lower(), name), []).append(value)
    return {name: text for name, parts in values.items() if (text := ",".join(parts)) or not drop_empty}


def body_limit(env: Mapping[str, str]) -> int:
    """The host's limit on request bodies: FUNCTIONS_REQUEST_BODY_SIZE_LIMIT when it is a whole number of bytes,
    else the Functions host's default."""
    raw = env.get("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", "").strip()
    return int(raw) if raw.isascii() and raw.isdecimal() and int(raw) > 0 else MAX_BODY_BYTES


def serve(
    host: str,
    port: int,
    app_root: Path = APP_ROOT,
    io_timeout: float = IO_TIMEOUT_SECONDS,
    front: Front | None = None,
) -> Server:
    routes = discover(app_root)

    class Handler(RequestHandler):
        max_body_bytes = body_limit(os.environ)

        def __getattr__(self, name: str) -> Any:
            """Every method (`do_<METHOD>`) reaches the route check: 405 unless function.json allows it."""
            if name.startswith("do_"):
                return self._invoke
            raise AttributeError(name)

        def _invoke(self) -> None:
            body = self.read_body()
            if body is None:
                return
            headers = list(self.headers.items())
            if front is not None:
                admitted = front.admit(self.path, headers)
                if isinstance(admitted, func.HttpResponse):
                    self._write(admitted)
                    return
                headers = admitted
            url = urlsplit(self.path)
            path = url.path[len(ROUTE_PREFIX) :] if url.path.lower().startswith(ROUTE_PREFIX) else None
            matches = [(r, m) for r in routes if path is not None and (m := r.pattern.fullmatch(path))]
            if not matches:
                self._write(func.HttpResponse(status_code=404))
                return
            route, match = matches[0]
            if self.command not in route.methods:
                self._write(func.HttpResponse(status_code=405))
                return
            request = func.HttpRequest(
                method=self.command,
                url=f"http://{self.headers.get('Host', 'localhost')}{self.path}",
                headers=joined(headers, drop_empty=False),
                params=joined(parse_qsl(url.query, keep_blank_values=True), drop_empty=True),
                route_params={k: v for k, v in match.groupdict().items() if v is not None},
                body=body,
            )
            try:
                response = route.entry(request)
            except Exception:
                self.server.handle_error(self.request, self.client_address)
                response = func.HttpResponse(status_code=500)
            self._write(response)

        def _write(self, response: func.HttpResponse) -> None:
            payload = response.get_body() or b""
            self.send_response(response.status_code)
            headers = dict(response.headers)
            headers.setdefault("Content-Type", response.mimetype or "text/plain")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Server((host, port), Handler, io_timeout=io_timeout)
