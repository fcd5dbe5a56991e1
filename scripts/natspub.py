#!/usr/bin/env python3
"""Publish one message to JetStream and print the server's PubAck — no nats CLI needed.

    scripts/natspub.py [--server nats://127.0.0.1:4333] [-H Name:Value]... SUBJECT PAYLOAD

Speaks the NATS text protocol (INFO / CONNECT / SUB / HPUB / MSG) over a plain TCP socket,
so it needs only python3. Headers go out with HPUB (JetStream reads `Nats-Msg-Id` from them
for its duplicate window); the reply inbox receives the PubAck, printed as one JSON line:
{"stream":"ORDERS","seq":42} (plus "duplicate":true when the message id was seen before).
Exit status 1 with a message on stderr when no stream captures the subject, the server
refuses the message, or nothing answers in time. TLS and credentials files are not supported
(the local stack uses neither); user:password in the URL is.

The nats CLI equivalent: nats pub SUBJECT PAYLOAD -H Nats-Msg-Id:ID --jetstream
"""

import argparse
import json
import os
import socket
import sys
import uuid
from urllib.parse import urlparse


def fail(message: str) -> None:
    print(f"natspub: {message}", file=sys.stderr)
    sys.exit(1)


def read_line(f) -> str:
    line = f.readline()
    if not line:
        fail("the server closed the connection")
    return line.decode("utf-8", "replace").rstrip("\r\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    parser.add_argument("-H", "--header", action="append", default=[], metavar="NAME:VALUE")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("subject")
    parser.add_argument("payload")
    args = parser.parse_args()

    url = urlparse(args.server.split(",")[0].strip())
    host = url.hostname or "127.0.0.1"
    port = url.port or 4222
    headers = []
    for raw in args.header:
        name, sep, value = raw.partition(":")
        if not sep or not name.strip():
            fail(f"header {raw!r} is not NAME:VALUE")
        headers.append((name.strip(), value.strip()))

    try:
        sock = socket.create_connection((host, port), timeout=args.timeout)
    except OSError as e:
        fail(f"cannot connect to {host}:{port}: {e}")
    f = sock.makefile("rb")
    info_line = read_line(f)
    if not info_line.startswith("INFO "):
        fail(f"not a NATS server at {host}:{port} (said {info_line[:60]!r})")
    info = json.loads(info_line[5:])
    if info.get("tls_required"):
        fail("the server requires TLS; use the nats CLI")
    if not info.get("headers", False):
        fail("the server does not support headers (nats-server < 2.2)")

    connect = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True,
               "protocol": 1, "name": "paymsa-natspub", "lang": "python", "version": "1"}
    if url.username:
        connect["user"] = url.username
        connect["pass"] = url.password or ""
    inbox = f"_INBOX.natspub.{uuid.uuid4().hex}"
    hdr = "NATS/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    hdr_bytes = hdr.encode()
    body = args.payload.encode()
    sock.sendall(
        f"CONNECT {json.dumps(connect)}\r\n".encode()
        + f"SUB {inbox} 1\r\n".encode()
        + f"HPUB {args.subject} {inbox} {len(hdr_bytes)} {len(hdr_bytes) + len(body)}\r\n".encode()
        + hdr_bytes + body + b"\r\n"
        + b"PING\r\n"
    )
    while True:
        try:
            line = read_line(f)
        except socket.timeout:
            fail(f"no PubAck within {args.timeout}s (does a stream capture {args.subject!r}?)")
        if line in ("PONG", "+OK"):
            continue
        if line == "PING":
            sock.sendall(b"PONG\r\n")
            continue
        if line.startswith("-ERR"):
            fail(f"server error: {line[5:]}")
        parts = line.split(" ")
        if parts[0] == "MSG":  # MSG subject sid [reply] size
            size = int(parts[-1])
            payload = f.read(size + 2)[:size].decode()
            ack = json.loads(payload)
            if "error" in ack:
                fail(f"JetStream refused the message: {ack['error']}")
            print(json.dumps(ack, separators=(",", ":")))
            return
        if parts[0] == "HMSG":  # HMSG subject sid [reply] hdr_size total_size
            total = int(parts[-1])
            hdr_size = int(parts[-2])
            data = f.read(total + 2)[:total]
            status = data[:hdr_size].decode("utf-8", "replace").split("\r\n", 1)[0]
            if " 503" in status:
                fail(f"no stream captures {args.subject!r} (no responders)")
            payload = data[hdr_size:].decode("utf-8", "replace")
            if payload:
                ack = json.loads(payload)
                if "error" in ack:
                    fail(f"JetStream refused the message: {ack['error']}")
                print(json.dumps(ack, separators=(",", ":")))
                return
            fail(f"unexpected status from the server: {status}")


if __name__ == "__main__":
    main()
