"""How the emulator's answers travel: compressed, chunked, trickled or cut off, as Graph's front end may send them.

A fake that never compresses hides a client that cannot decompress: a gzipped answer once broke every call and no
test saw it. So by default (`WIRES[0]`, "gzip+chunked") JSON answers are compressed (gzip, or deflate when that is
all the request accepts) for requests whose `Accept-Encoding` allows it, and sent with `Transfer-Encoding: chunked`
in small chunks. The other wires name the coding preferred ("gzip", "deflate" or none) and whether answers are
chunked or carry a Content-Length: "gzip", "deflate+chunked", "deflate", "chunked", "plain".
"""

from __future__ import annotations

import gzip
import re
import socket
import struct
import zlib

WIRES = ("gzip+chunked", "gzip", "deflate+chunked", "deflate", "chunked", "plain")  # the first: Graph's, the default
CODINGS = ("gzip", "deflate")  # the content codings the emulator compresses with
CHUNK_BYTES = 64  # a chunked answer comes in pieces of this size, so a client reads several chunks of each answer
_QUALITY = re.compile(r";\s*q\s*=\s*(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)\s*$", re.IGNORECASE)


def content_coding(accept_encoding: str | None, preferred: str = CODINGS[0]) -> str | None:
    """The coding to compress an answer with: `preferred` when the request's Accept-Encoding allows it, else the
    other one it allows, else none. A weight of 0 refuses a coding; "*" stands for any not named (RFC 9110,
    12.5.3). A request without Accept-Encoding gets none: RFC 9110 would allow any, servers in practice send none."""
    weights: dict[str, float] = {}
    for item in (accept_encoding or "").split(","):
        quality = _QUALITY.search(item)
        weights[item.split(";", 1)[0].strip().lower()] = float(quality.group(1)) if quality else 1.0
    ordered = sorted(CODINGS, key=lambda coding: coding != preferred)
    return next((coding for coding in ordered if weights.get(coding, weights.get("*", 0.0)) > 0), None)


def wire_coding(wire: str, accept_encoding: str | None) -> str | None:
    """The coding a compressible answer gets on `wire` for a request that accepts `accept_encoding`."""
    preferred = wire.split("+")[0]
    return content_coding(accept_encoding, preferred) if preferred in CODINGS else None


def is_chunked(wire: str) -> bool:
    return wire.endswith("chunked")


def compressed(payload: bytes, coding: str) -> bytes:
    """gzip, or deflate as RFC 9110 defines it: the zlib format."""
    return gzip.compress(payload, compresslevel=6, mtime=0) if coding == "gzip" else zlib.compress(payload)


def pieces(payload: bytes, chunked: bool, trickle: bool) -> list[bytes]:
    """The body as written: in chunks of CHUNK_BYTES when chunked (framed, with the last chunk), whole otherwise; a
    byte at a time (a chunk per byte, when chunked) when it trickles."""
    step = 1 if trickle else CHUNK_BYTES if chunked else max(len(payload), 1)
    parts = [payload[at : at + step] for at in range(0, len(payload), step)]
    if chunked:
        parts = [b"%x\r\n%s\r\n" % (len(part), part) for part in parts] + [b"0\r\n\r\n"]
    return parts


def reset(connection: socket.socket) -> None:
    """Drop the connection with a TCP reset (RST, not FIN): SO_LINGER on, with a zero timeout, then close."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()
