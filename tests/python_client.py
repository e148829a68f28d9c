"""A plain Python heartbeat client (socket + struct + json only), used by the
interoperability test and handy as a reference for writing clients.

Usage: python3 tests/python_client.py HOST PORT [COUNT] [INTERVAL]
Sends COUNT heartbeats (default: forever) INTERVAL seconds apart (default 1),
prints each frame the server sends as a JSON line, and exits when the server
closes the connection.
"""
import json
import os
import select
import socket
import struct
import sys
import time


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_frame(sock):
    header = read_exact(sock, 4)
    if header is None:
        return None
    (length,) = struct.unpack("!i", header)
    body = read_exact(sock, length)
    return None if body is None else json.loads(body.decode("utf-8"))


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    count = int(sys.argv[3]) if len(sys.argv) > 3 else None
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    sock = socket.create_connection((host, port))
    ip = sock.getsockname()[0]
    print(json.dumps({"local": "%s:%d" % sock.getsockname()}), flush=True)
    sent = 0
    while count is None or sent < count:
        body = json.dumps({"ip": ip, "status": "alive", "pid": os.getpid()}).encode("utf-8")
        sock.sendall(struct.pack("!i", len(body)) + body)
        sent += 1
        deadline = time.monotonic() + interval
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([sock], [], [], left)
            if ready:
                frame = read_frame(sock)
                if frame is None:
                    return
                print(json.dumps(frame), flush=True)
                if frame.get("status") == "close":
                    return
    sock.close()


if __name__ == "__main__":
    main()
