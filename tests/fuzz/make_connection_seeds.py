#!/usr/bin/env python3
"""Writes the seed corpus of connection_fuzz (tests/fuzz/corpus/connection).

A seed is a control byte and then what a client sends (see the top of
tests/fuzz/connection_fuzz.cc): for h2c, the frames after the connection
preface, which the harness sends itself; for HTTP/1.1 (control bit 0x40),
the bytes as they are. Control bit 0x80: the harness waits for moe's
answers before the client's FIN. With control bit 0x20 the bytes are what
the upstream answers to a fixed GET instead (HTTP/1.1, or h2c frames with
bit 0x10). Header blocks use HPACK literals without
Huffman coding, so the seeds stay readable in a hex dump. Run from
anywhere:
    python3 tests/fuzz/make_connection_seeds.py
"""
import os
import struct

DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, END_HEADERS = 0x1, 0x4


def frame(typ, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([typ, flags]) + struct.pack(">I", sid) + payload


def literals(fields):
    """An HPACK block of literal fields, not indexed, new names (short ones)."""
    out = b""
    for n, v in fields:
        n, v = n.encode(), v.encode()
        out += b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v
    return out


def block(method="GET", path="/", extra=()):
    return literals([(":method", method), (":scheme", "http"), (":authority", "fuzz"), (":path", path), *extra])


def get(sid, path, extra=()):
    return frame(HEADERS, END_HEADERS | END_STREAM, sid, block("GET", path, extra))


def post(sid, path, body, end=True):
    return frame(HEADERS, END_HEADERS, sid, block("POST", path, [("content-type", "text/plain")])) + \
        frame(DATA, END_STREAM if end else 0, sid, body)


SETTINGS0 = frame(SETTINGS, 0, 0)
SEEDS = {
    "direct": SETTINGS0 + get(1, "/d"),
    "proxy_h1": SETTINGS0 + get(1, "/"),
    "proxy_h2": SETTINGS0 + get(1, "/h2/x"),
    "refused": SETTINGS0 + get(1, "/dead"),
    "abort_h1": SETTINGS0 + get(1, "/abort"),  # no wait: the FIN resets the upstream request
    "post_h2": SETTINGS0 + post(1, "/p", b"hello world"),
    "body_too_big": SETTINGS0 + post(1, "/small", b"0123456789abcdef"),
    "body_unfinished": SETTINGS0 + post(1, "/h2", b"part", end=False),
    "three_streams_rst": SETTINGS0 + get(1, "/d") + get(3, "/") + get(5, "/h2") +
        frame(RST_STREAM, 0, 3, struct.pack(">I", 8)),
    "continuation": SETTINGS0 + frame(HEADERS, END_STREAM, 1, block("GET", "/d")[:20]) +
        frame(CONTINUATION, END_HEADERS, 1, block("GET", "/d")[20:]),
    "trailers": SETTINGS0 + frame(HEADERS, END_HEADERS, 1, block("POST", "/", [("te", "trailers")])) +
        frame(DATA, 0, 1, b"abc") + frame(HEADERS, END_HEADERS | END_STREAM, 1, literals([("x-t", "v")])),
    "control": SETTINGS0 + frame(PING, 0, 0, b"12345678") + frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 65535)) +
        get(1, "/d") + frame(GOAWAY, 0, 0, struct.pack(">II", 0, 0)),
}

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "connection")
os.makedirs(here, exist_ok=True)
NO_WAIT = {"abort_h1", "body_unfinished"}
for name, body in SEEDS.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write((b"\x07" if name in NO_WAIT else b"\x87") + body)

H = "Host: fuzz\r\n"
H1_SEEDS = {
    "h1_get": "GET / HTTP/1.1\r\n" + H + "\r\n",
    "h1_pipeline": "GET /d HTTP/1.1\r\n" + H + "\r\nGET / HTTP/1.1\r\n" + H + "\r\nHEAD /h2 HTTP/1.1\r\n" + H + "\r\n",
    "h1_post_chunked": "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\nTE: trailers\r\n\r\n"
                       "5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n",
    "h1_expect_too_big": "POST /small HTTP/1.1\r\n" + H + "Expect: 100-continue\r\nContent-Length: 20\r\n\r\n" + "x" * 20,
    "h1_close_refused": "GET /dead HTTP/1.1\r\n" + H + "Connection: close\r\n\r\n",
    "h1_upgrade": "GET / HTTP/1.1\r\n" + H + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    "h1_connect": "CONNECT fuzz:80 HTTP/1.1\r\n" + H + "\r\n",
    "h1_abort": "GET /abort HTTP/1.1\r\n" + H + "\r\n",  # no wait: the FIN resets the upstream request
    "h1_http10": "GET /h2 HTTP/1.0\r\n\r\n",
}
for name, text in H1_SEEDS.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write((b"\x47" if name == "h1_abort" else b"\xc7") + text.encode())

# The fuzzed upstream's answers: 0x20 set; 0x40 picks the client's protocol,
# 0x10 the upstream's (h2c).
UP_H1 = {
    "up_h1_ok": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "up_h1_chunked_trailers": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-t\r\n\r\n"
                              "5\r\nhello\r\n0\r\nx-t: 1\r\n\r\n",
    "up_h1_until_close": "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbody until the FIN",
    "up_h1_100_then_200": "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "up_h1_103_with_length": "HTTP/1.1 103 Early Hints\r\nContent-Length: 4\r\n\r\nbodyHTTP/1.1 200 OK\r\n"
                             "Content-Length: 2\r\n\r\nok",
    "up_h1_cl_and_te": "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "up_h1_short_body": "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
    "up_h1_hop_by_hop": "HTTP/1.1 200 OK\r\nConnection: x-foo, keep-alive\r\nx-foo: bar\r\nKeep-Alive: timeout=5\r\n"
                        "Content-Length: 2\r\n\r\nok",
    "up_h1_204_with_body": "HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\nbody",
    "up_h1_extra_bytes": "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n",
}
for name, text in UP_H1.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(b"\xa7" + text.encode())  # h2 client; h1_ variants below
    with open(os.path.join(here, name + "_h1client"), "wb") as f:
        f.write(b"\xe7" + text.encode())


def status(code, *extra):
    return literals([(":status", code), *extra])


UP_H2 = {
    "up_h2_ok": SETTINGS0 + frame(SETTINGS, 1, 0) + frame(HEADERS, END_HEADERS, 1, status("200")) +
        frame(DATA, END_STREAM, 1, b"hi"),
    "up_h2_trailers": SETTINGS0 + frame(HEADERS, END_HEADERS, 1, status("200", ("content-type", "text/plain"))) +
        frame(DATA, 0, 1, b"hi") + frame(HEADERS, END_HEADERS | END_STREAM, 1, literals([("x-t", "1")])),
    "up_h2_refused": SETTINGS0 + frame(RST_STREAM, 0, 1, struct.pack(">I", 7)),
    "up_h2_goaway": SETTINGS0 + frame(GOAWAY, 0, 0, struct.pack(">II", 0, 0)),
    "up_h2_1xx": SETTINGS0 + frame(HEADERS, END_HEADERS, 1, status("103", ("link", "</a>"))) +
        frame(HEADERS, END_HEADERS | END_STREAM, 1, status("204")),
}
for name, body in UP_H2.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(b"\xb7" + body)
    with open(os.path.join(here, name + "_h1client"), "wb") as f:
        f.write(b"\xf7" + body)



def hpack_int(value, prefix_bits, flags):
    """An HPACK integer (RFC 7541 5.1) with `flags` in the bits above its prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([flags | value])
    out, value = [flags | limit], value - limit
    while value >= 128:
        out.append(0x80 | (value & 0x7f))
        value >>= 7
    return bytes(out + [value])


def indexed_literal(n, v):
    """A literal field with incremental indexing, new name: it enters the dynamic table."""
    n, v = n.encode(), v.encode()
    return b"\x40" + hpack_int(len(n), 7, 0) + n + hpack_int(len(v), 7, 0) + v


# HPACK bombs: a 4000-byte value enters the dynamic table (index 62), then
# 1-byte references to it. On front (max_request_headers 4 KiB) one block
# of them crosses twice max_request_headers; on the hpack listener (control
# bit 0x10, 64 KiB) blocks of 14 references stay under the per-block cap,
# and about 30 of them (26 bytes each, 56 KB decoded) run out the
# connection's credit (1 MiB + 128 per byte + 4 KiB per block). Either way
# moe must end the connection with GOAWAY(ENHANCE_YOUR_CALM), and
# connection_fuzz checks what it decoded against that bound; the seed has
# 60 blocks, so that without the credit check moe would decode more than
# the bound allows (3.4 MB, bound 2 MB) and the check would see it.
BOMB_ENTRY = indexed_literal("x-bomb", "b" * 4000)
REF = bytes([0x80 | 62])
STATIC_GET = b"\x82\x86\x84"  # :method GET, :scheme http, :path / from the static table
HPACK_SEEDS = {
    "hpack_bomb_block": (0x87, SETTINGS0 + frame(HEADERS, END_HEADERS | END_STREAM, 1,
                                                 block("GET", "/d") + BOMB_ENTRY + REF * 200)),
    "hpack_amplification": (0x97, SETTINGS0 + frame(HEADERS, END_HEADERS | END_STREAM, 1, block() + BOMB_ENTRY) +
                            b"".join(frame(HEADERS, END_HEADERS | END_STREAM, 3 + 2 * i, STATIC_GET + REF * 14)
                                     for i in range(60))),
}
for name, (ctl, body) in HPACK_SEEDS.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(bytes([ctl]) + body)

# 0x08 with the HTTP/1.1 client and an HTTP/1.1 upstream: the client's GET
# asks for a WebSocket Upgrade and a second request follows it at once; the
# harness checks that moe sends nothing of it before the upstream answered.
UP_UPGRADE = {
    "up_upgrade_refused": "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "up_upgrade_101": "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nraw",
    "up_upgrade_100_then_101": "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n"
                               "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    "up_upgrade_400_close": "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n",
}
for name, text in UP_UPGRADE.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(b"\xef" + text.encode())

# Spellings of /private, which the first route denies (403): none may reach
# an upstream, and the harness checks every request-target that does
# (check_routed in connection_fuzz.cc). One spelling per seed for each client
# protocol, and one seed with the plain path and more spellings together
# (one under /h2, which a later route sends to up-h2, the h2c upstream; an
# absolute-form target over HTTP/1.1; a POST, which a later route sends to
# up-h2 too, last: moe closes an HTTP/1.1 connection after answering a
# request whose body it did not read).
DENY = {
    "escaped": "/%70rivate",
    "dot_segments": "/public/../private",
    "double_slash": "//private",
}
DENY_MORE = ["/private", "/public/%2e%2E/private/x", "/./private?q", "/public/..//private", "/public\\..\\private",
             "/h2/../private"]
for name, path in DENY.items():
    with open(os.path.join(here, "deny_h2_" + name), "wb") as f:
        f.write(b"\x87" + SETTINGS0 + get(1, path))
    with open(os.path.join(here, "deny_h1_" + name), "wb") as f:
        f.write(b"\xc7" + ("GET " + path + " HTTP/1.1\r\n" + H + "\r\n").encode())
with open(os.path.join(here, "deny_h2_mixed"), "wb") as f:
    f.write(b"\x87" + SETTINGS0 + b"".join(get(1 + 2 * i, p) for i, p in enumerate(DENY_MORE)) +
            post(1 + 2 * len(DENY_MORE), "/%2e/private/p", b"body"))
with open(os.path.join(here, "deny_h1_mixed"), "wb") as f:
    f.write(b"\xc7" + "".join(["GET " + p + " HTTP/1.1\r\n" + H + "\r\n" for p in DENY_MORE] +
                              ["GET http://fuzz/public/%2E%2E/private HTTP/1.1\r\n" + H + "\r\n",
                               "POST /%2e/private/p HTTP/1.1\r\n" + H + "Content-Length: 4\r\n\r\nbody"]).encode())
