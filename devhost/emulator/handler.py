"""The emulator's HTTP handler: each request recorded, routed to Entra ID, the identity endpoint or Graph, played
through the fault scripted for it, and answered on the emulator's wire.

One handler class per emulator (`handler_for`), because http.server makes a handler per connection and gives it
only the server: the class carries the emulator, whose `state` it reads afresh for each request, so `reset()`
takes effect on connections already open.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from ..http_server import RequestHandler
from .entra_endpoints import entra_reply
from .graph_routes import graph_reply, odata_error
from .identity_endpoint import PATH as IDENTITY_PATH
from .identity_endpoint import identity_reply
from .state import Exchange, Fault, Recorded, take_fault
from .wire import compressed, is_chunked, pieces, reset, wire_coding

if TYPE_CHECKING:
    from . import GraphEmulator


class EmulatorHandler(RequestHandler):
    emulator: ClassVar[GraphEmulator]  # set on the class handler_for makes
    trickle = 0.0
    exchange: Exchange | None = None  # the request being answered, once recorded

    def setup(self) -> None:
        super().setup()
        with self.emulator.counter_lock:
            self.emulator.state.connections += 1

    def do_GET(self) -> None:
        self._observed("GET")

    def do_POST(self) -> None:
        self._observed("POST")

    def _observed(self, method: str) -> None:
        """Serve, then hand the observer the exchange with its status and time, whichever way it was answered.
        The observer is the one there when the request came: one set while it was answered (`make run` sets it
        once the tenant's keys are fetched) does not hear it after its client has read the answer."""
        observer = self.emulator.observer
        try:
            self._serve(method)
        finally:
            exchange, self.exchange = self.exchange, None  # a later request's parse error is not this one's
            if exchange is not None and observer is not None:
                exchange.seconds = time.perf_counter() - exchange.started
                observer(exchange)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """http.server calls this from send_response (and send_error) with the status: the one place every
        answer passes, faults and the identity endpoint's included."""
        if self.exchange is not None and isinstance(code, int):
            self.exchange.status = int(code)

    def _serve(self, method: str) -> None:
        raw = self.read_body()
        if raw is None:
            return
        emulator = self.emulator
        record = Recorded(method, self.path, dict(self.headers.items()), _json_or_none(raw))
        if self.path.lower().startswith(f"/{emulator.tenant_id}/"):
            # Never faulted: tests fault Graph and the identity endpoint, which the function calls.
            self.exchange = emulator.record(record, identity=False, entra=True)
            self._send_json(*entra_reply(emulator.state.entra, emulator.base_url, method, self.path, raw))
            return
        is_identity = self.path.startswith(IDENTITY_PATH)
        state = emulator.state
        self.exchange = exchange = emulator.record(record, is_identity)
        if state.graph_latency and not is_identity:
            emulator.wait(state.graph_latency)
        fault = take_fault(state.identity_faults if is_identity else state.graph_faults)
        self.trickle = fault.trickle if fault is not None else 0.0
        if fault is not None and self._played(fault):
            return
        if is_identity:
            presented = self.headers.get("X-IDENTITY-HEADER")
            status, token = identity_reply(state, emulator.tenant_id, emulator.identity_header, self.path, presented)
            self._send_json(status, {}, token)
        else:
            authorization = self.headers.get("Authorization", "")
            status, headers, reply = graph_reply(state, method, self.path, authorization, record.body)
            exchange.reply = reply
            self._send_json(status, headers, reply)

    def _played(self, fault: Fault) -> bool:
        """Play a scripted fault: its delay, then a reset or its status (with its own body, else an OData error).
        False when it only delays or trickles, and the request is then answered as usual."""
        self.emulator.wait(fault.delay)
        if fault.reset:
            self.close_connection = True
            reset(self.connection)
            return True
        if fault.status is None:
            return False
        headers = dict(fault.headers)
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        if fault.body is not None:
            self._send(fault.status, headers, fault.body, "text/plain")
        else:
            status, _, reply = odata_error(fault.status, "ServiceUnavailable", "Scripted fault.")
            self._send_json(status, headers, reply)
        return True

    def _send_json(self, status: int, headers: dict[str, str], reply: Any) -> None:
        self._send(status, headers, json.dumps(reply).encode(), "application/json", compress=True)

    def _send(
        self, status: int, headers: dict[str, str], payload: bytes, content_type: str, compress: bool = False
    ) -> None:
        """One answer on the emulator's wire: compressed when `compress` and the wire and the request allow it,
        chunked when the wire says so, and a byte at a time (a chunk per byte) when a fault trickles it."""
        wire = self.emulator.wire  # read per answer, so a test may change it between calls
        coding = wire_coding(wire, self.headers.get("Accept-Encoding")) if compress else None
        if coding is not None:
            payload = compressed(payload, coding)
        chunked = is_chunked(wire)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if coding is not None:
            self.send_header("Content-Encoding", coding)
            self.send_header("Vary", "Accept-Encoding")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(payload)))
        self.send_header("request-id", str(uuid.uuid4()))
        client_request_id = self.headers.get("client-request-id")
        if client_request_id:
            self.send_header("client-request-id", client_request_id)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        parts = pieces(payload, chunked, trickle=bool(self.trickle))
        if not self.trickle:
            self.wfile.write(b"".join(parts))
            return
        for part in parts:
            self.wfile.write(part)
            self.emulator.wait(self.trickle)


def handler_for(emulator: GraphEmulator) -> type[EmulatorHandler]:
    class Handler(EmulatorHandler):
        pass

    Handler.emulator = emulator
    return Handler


def _json_or_none(raw: bytes) -> Any:
    """A request's JSON body as recorded; None when it has none or it is not JSON."""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
