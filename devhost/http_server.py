"""The HTTP server under both the dev host and the emulator: what it takes to hold up as the Functions host does.

- A listen backlog that takes a burst of new connections (socketserver's default of 5 drops SYNs: a burst of 100
  waits seconds for retransmits). 512 is Kestrel's default backlog.
- Timeouts on every socket read and write: a client that sends nothing, or less body than its Content-Length,
  is dropped after `io_timeout` seconds instead of holding its thread for ever. Each connection has its own thread,
  so a slow one never holds up another.
- Request bodies framed by Content-Length or `Transfer-Encoding: chunked` (Kestrel reads both; http.server reads
  neither for you), up to a handler's `max_body_bytes` (the Functions host's limit, 100 MB unless
  FUNCTIONS_REQUEST_BODY_SIZE_LIMIT says otherwise: a larger declared Content-Length is refused before any of the
  body is read), and handed over whole as the host does.
"""

from __future__ import annotations

import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LISTEN_BACKLOG = 512
IO_TIMEOUT_SECONDS = 30.0  # Kestrel's RequestHeadersTimeout; here for each read or write on a connection
MAX_BODY_BYTES = 100 * 1024 * 1024  # the Functions host's default limit on request bodies
_MAX_LINE = 65536  # a chunk-size or trailer line, as long as http.server allows a header line
_MAX_TRAILERS = 100
_CONTENT_LENGTH_RE = re.compile(r"[0-9]{1,20}")
_CHUNK_SIZE_RE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n")


class Server(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], io_timeout: float = IO_TIMEOUT_SECONDS
    ) -> None:
        self.io_timeout = io_timeout
        super().__init__(address, handler)

    @property
    def origin(self) -> str:
        """`http://host:port` as bound: port 0 becomes the port the system chose."""
        host, port = self.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (a reset, a close before the answer) is routine, not a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class BodyError(Exception):
    """A request body that cannot be read as framed: answered with `status`, then the connection is closed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients and the Functions host expect
    disable_nagle_algorithm = True  # headers and body go in two writes; Nagle would stall each answer ~40 ms
    max_body_bytes = MAX_BODY_BYTES
    server: Server

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.io_timeout)  # the server's, where StreamRequestHandler takes its class's

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the function logs each invocation itself, and tests read what the emulator recorded."""

    def read_body(self) -> bytes | None:
        """The request body, de-chunked; None when it could not be read, which has been answered (400, 408, 413,
        501) and the connection marked for closing. Transfer-Encoding wins over Content-Length (RFC 9112, 6.3)."""
        try:
            encoding = (self.headers.get("Transfer-Encoding") or "").strip().lower()
            if encoding:
                if encoding != "chunked":
                    raise BodyError(501, f"Transfer-Encoding {encoding!r} is not supported, only chunked")
                return self._read_chunked()
            return self._read_sized()
        except BodyError as error:
            self.send_error(error.status, error.reason)
        except TimeoutError:
            self.send_error(408, f"No body data for {self.server.io_timeout:g} s")
        self.close_connection = True
        return None

    def _read_sized(self) -> bytes:
        values = set(self.headers.get_all("Content-Length") or [])
        if not values:
            return b""
        value = values.pop().strip()
        if values or not _CONTENT_LENGTH_RE.fullmatch(value):
            raise BodyError(400, "Bad Content-Length")
        return self._read_exactly(int(value), 0)

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(_MAX_LINE + 1)
            match = _CHUNK_SIZE_RE.fullmatch(line)
            if match is None:
                raise BodyError(400, "Bad chunk size line" if line else "The chunked body ended early")
            size = int(match.group(1), 16)
            if size == 0:
                break
            body += self._read_exactly(size, len(body))
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise BodyError(400, "A chunk is not followed by CRLF")
        for _ in range(_MAX_TRAILERS):  # trailer fields: read past, not passed on (nor does the Functions host)
            line = self.rfile.readline(_MAX_LINE + 1)
            if line in (b"\r\n", b"\n"):
                return bytes(body)
            if not line or len(line) > _MAX_LINE:
                break
        raise BodyError(400, "Bad chunked trailer")

    def _read_exactly(self, size: int, already: int) -> bytes:
        if already + size > self.max_body_bytes:
            raise BodyError(413, f"The request body is over {self.max_body_bytes} bytes")
        data = self.rfile.read(size)
        if len(data) < size:
            raise BodyError(400, "The request body ended before its declared length")
        return data
