#!/usr/bin/env python3
"""Open N keep-alive HTTP/1.1 connections, send one GET on each, keep them idle.

Used by bench/run for the memory scenario (RSS per idle keep-alive connection).
Standard library only.

  idleconns.py HOST PORT N [--path /] [--concurrency 256]

Prints "READY <ok> <failed>" on stdout once every connection has had its
response, then holds all connections open, idle, until stdin is closed or it
gets SIGTERM/SIGINT. Exit status 0 if every connection succeeded.
"""
import argparse
import asyncio
import signal
import sys


async def one(host, port, path, sem, conns):
    async with sem:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = head.split(b" ", 2)[1]
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length:
            await reader.readexactly(length)
        if status != b"200":
            raise RuntimeError(f"status {status.decode()}")
        conns.append(writer)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("--path", default="/")
    ap.add_argument("--concurrency", type=int, default=256)
    a = ap.parse_args()

    sem = asyncio.Semaphore(a.concurrency)
    conns = []
    results = await asyncio.gather(
        *(one(a.host, a.port, a.path, sem, conns) for _ in range(a.n)),
        return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        print(f"first error: {errors[0]!r}", file=sys.stderr)
    print(f"READY {len(conns)} {len(errors)}", flush=True)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # stdin closing (the parent went away) also ends the hold
    loop.add_reader(sys.stdin.fileno(),
                    lambda: stop.set() if not sys.stdin.buffer.read1(4096) else None)
    await stop.wait()
    for w in conns:
        w.close()
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
