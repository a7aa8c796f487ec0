#!/usr/bin/env python3
"""Writes the seed corpus of admin_fuzz (tests/fuzz/corpus/admin).

A seed is a control byte and then what a client sends (see the top of
tests/fuzz/admin_fuzz.cc): bit 0x80 makes the harness wait for the answers
before its FIN, bit 0x40 gives the client a small receive buffer, and
0x40 with 0x20 and 0x10 makes it slow to read. Run from anywhere:
    python3 tests/fuzz/make_admin_seeds.py
"""
import os

H = "Host: 127.0.0.1\r\n"
SEEDS = {
    "ready": "GET /ready HTTP/1.1\r\n" + H + "\r\n",
    "stats": "GET /stats HTTP/1.1\r\n" + H + "\r\n",
    "config_dump": "GET /config_dump?pretty HTTP/1.1\r\nHost: localhost:9901\r\n\r\n",
    "go": "GET /go HTTP/1.1\r\nHost: admin.test\r\n\r\n",
    "head": "HEAD /stats HTTP/1.1\r\n" + H + "\r\nHEAD /nope HTTP/1.1\r\n" + H + "\r\n",
    "pipelined": "GET /ready HTTP/1.1\r\n" + H + "\r\nHEAD /config_dump HTTP/1.1\r\n" + H + "\r\n"
                 "POST /ready HTTP/1.1\r\n" + H + "Content-Length: 3\r\n\r\nabc"
                 "GET /missing HTTP/1.1\r\n" + H + "\r\nGET /ready HTTP/1.0\r\n\r\n",
    "close": "GET /stats HTTP/1.1\r\n" + H + "Connection: close\r\n\r\nGET /ready HTTP/1.1\r\n" + H + "\r\n",
    "chunked_body": "POST /ready HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "huge_target": "GET /" + "a" * 9000 + " HTTP/1.1\r\n" + H + "\r\n",
    "huge_target_head": "HEAD /" + "a" * 9000 + " HTTP/1.1\r\n" + H + "\r\n",
    "big_headers": "GET /ready HTTP/1.1\r\n" + H + "".join("x-%d: %s\r\n" % (i, "v" * 1000) for i in range(17)) + "\r\n",
    "bad_host": "GET /config_dump HTTP/1.1\r\nHost: evil.example\r\n\r\n",
    "bad_host_head": "HEAD /stats HTTP/1.1\r\nHost: [::1\r\n\r\n",
    "two_hosts": "GET /ready HTTP/1.1\r\n" + H + "Host: localhost\r\n\r\n",
    "garbage": "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n",
    "head_then_garbage": "HEAD /ready HTTP/1.1\r\n" + H + "\r\nHEAD /ready HTTP/1.1\r\n" + H + "X: \x01\r\n\r\n",
}
# Many pipelined /stats answers (700 KB) for a slow reader: past what the
# (shrunk) socket buffers hold, the server's write queue passes its
# high-water mark and it stops parsing until the client reads.
BACKPRESSURE = "".join("GET /stats HTTP/1.1\r\n" + H + "\r\n" for _ in range(200))

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "admin")
os.makedirs(here, exist_ok=True)
for name, text in SEEDS.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(b"\x87" + text.encode("latin-1"))
    with open(os.path.join(here, name + "_nowait"), "wb") as f:
        f.write(b"\x05" + text.encode("latin-1"))
with open(os.path.join(here, "backpressure"), "wb") as f:
    f.write(b"\xf3" + BACKPRESSURE.encode())
with open(os.path.join(here, "backpressure_nowait"), "wb") as f:
    f.write(b"\x73" + BACKPRESSURE.encode())
