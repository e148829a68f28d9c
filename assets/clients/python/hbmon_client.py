"""An hbmon heartbeat client to drop into a Python program (3.8 and later,
standard library only).

    from hbmon_client import HeartbeatClient

    client = HeartbeatClient("127.0.0.1", 14000, interval=1.0,
                             on_notice=lambda notice: print(notice))
    client.start()          # heartbeats on a background thread
    ...
    client.stop()           # says goodbye; the server records a clean exit

The client connects, sends a heartbeat every `interval` seconds with its
reported ip and pid (and the shared secret in the first one, when given),
hands every frame the server sends to `on_notice` (a dict: `status`,
`reason`, and `retry_after` on some closes), and when the connection is
closed or lost connects again, backing off from 0.5 s up to 30 s with
jitter, never sooner than a close frame's `retry_after`. With
`reconnect=False` it stops instead.

Given several servers, it fails over as `hbmon client` does:

    client = HeartbeatClient(servers=["10.0.0.5:14000", ("10.0.0.6", 14000)],
                             on_server=lambda server: print("on", server))

It uses the first that accepts. When the server shuts down, the
connection is lost or cannot be made, it goes on to the next after the
back-off; refused as full, to the next at once, coming back to the full
one no sooner than its `retry_after`; kicked, it stays away from every
server for the kick's `retry_after`. `on_server` hears each server it
connects to ("host:port"). With `reconnect=False` it goes down the list
once and stops at its end.
Over TLS, pass an `ssl.SSLContext` (the server's certificate is checked
against `server_hostname`, by default the host of the server it connects to):

    import ssl
    tls = ssl.create_default_context(cafile="/etc/hbmon/ca.pem")
    tls.load_cert_chain("client.pem", "client.key")  # for serve --client-ca
    client = HeartbeatClient("hbmon.example", 14000, ssl_context=tls)

The wire format: a 4-byte big-endian signed length, then that many bytes
of UTF-8 JSON.
"""

import json
import os
import random
import socket
import struct
import threading
import time

__all__ = ["HeartbeatClient"]

BACKOFF_MIN = 0.5
BACKOFF_MAX = 30.0
# A connection that lasted this long was healthy: the back-off starts over.
HEALTHY = 30.0
# How long a server may take to accept before the client moves on.
CONNECT_TIMEOUT = 5.0
MAX_SERVERS = 64
SHUTDOWN_REASON = "server shutting down"


def _frame(message):
    body = json.dumps(message).encode("utf-8")
    return struct.pack("!i", len(body)) + body


def _read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _read_frame(sock):
    header = _read_exact(sock, 4)
    if header is None:
        return None
    (length,) = struct.unpack("!i", header)
    if length <= 0 or length > 1 << 20:
        raise ValueError("bad frame length %d from the server" % length)
    body = _read_exact(sock, length)
    return None if body is None else json.loads(body.decode("utf-8"))


class HeartbeatClient:
    """Sends heartbeats to an hbmon server from a background thread."""

    def __init__(self, host=None, port=None, interval=1.0, pid=None, ip=None,
                 token=None, on_notice=None, reconnect=True, servers=None,
                 on_server=None, ssl_context=None, server_hostname=None):
        self.servers = _servers(host, port, servers)
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname
        self.interval = interval
        self.pid = os.getpid() if pid is None else pid
        self.ip = ip
        self.token = token
        self.on_notice = on_notice or (lambda notice: None)
        self.on_server = on_server or (lambda server: None)
        self.reconnect = reconnect
        self._stop = threading.Event()
        self._thread = None
        self._sock = None
        self._lock = threading.Lock()

    def start(self):
        """Starts heartbeating in the background; returns at once."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._run, name="hbmon-heartbeats",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=2.0):
        """Says goodbye (status "close") and waits for the thread to end."""
        self._stop.set()
        with self._lock:
            sock = self._sock
            if sock is not None:
                try:
                    sock.sendall(_frame(self._heartbeat("close", sock)))
                except OSError:
                    pass
        if self._thread is not None:
            self._thread.join(timeout)

    def _heartbeat(self, status, sock, token=None):
        ip = self.ip or sock.getsockname()[0]
        message = {"ip": ip, "status": status, "pid": self.pid}
        if token is not None:
            message["token"] = token
        return message

    def _run(self):
        step = BACKOFF_MIN
        at = 0
        barred = [0.0] * len(self.servers)
        while not self._stop.is_set():
            host, port = self.servers[at]
            try:
                sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
                if self.ssl_context is not None:
                    sock = self.ssl_context.wrap_socket(
                        sock, server_hostname=self.server_hostname or host)
            except OSError:
                sock = None
            close = None
            if sock is not None:
                self.on_server("%s:%d" % (host, port))
                started = _now()
                close = self._session(sock)
                if _now() - started >= HEALTHY:
                    step = BACKOFF_MIN
            if self._stop.is_set():
                return
            floor = 0.0
            if close is not None and _is_refusal(close):
                barred[at] = _now() + float(close.get("retry_after") or 0)
            elif close is not None and close.get("reason") != SHUTDOWN_REASON:
                if not self.reconnect:
                    return
                floor = float(close.get("retry_after") or 0)
            if not self.reconnect and at + 1 >= len(self.servers):
                return
            at, free_in = _next(at, barred, self.reconnect)
            if close is not None and _is_refusal(close) and free_in == 0:
                continue
            wait = max(step / 2 + random.random() * step / 2, floor, free_in)
            step = min(step * 2, BACKOFF_MAX)
            self._stop.wait(wait)

    def _session(self, sock):
        """Heartbeats over one connection until it ends; returns the
        server's close frame, if it sent one."""
        sock.settimeout(None)
        with self._lock:
            self._sock = sock
        close = [None]
        reader = threading.Thread(target=self._read, args=(sock, close),
                                  daemon=True)
        reader.start()
        token = self.token
        try:
            while not self._stop.is_set() and reader.is_alive():
                sock.sendall(_frame(self._heartbeat("alive", sock, token)))
                token = None
                self._stop.wait(self.interval)
        except OSError:
            pass
        if self._stop.is_set():
            # The goodbye was sent by stop(); give the server's answer a moment.
            reader.join(1.0)
        with self._lock:
            self._sock = None
        try:
            sock.close()
        except OSError:
            pass
        reader.join(1.0)
        return close[0]

    def _read(self, sock, close):
        while True:
            try:
                notice = _read_frame(sock)
            except (OSError, ValueError):
                return
            if notice is None:
                return
            self.on_notice(notice)
            if notice.get("status") == "close":
                close[0] = notice
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return


def _now():
    return time.monotonic()


def _servers(host, port, servers):
    """The servers as (host, port) pairs: `host` and `port`, or the list."""
    if servers is None:
        if host is None or port is None:
            raise ValueError("give host and port, or servers")
        servers = [(host, port)]
    pairs = []
    for server in servers:
        if isinstance(server, str):
            name, sep, number = server.rpartition(":")
            if not sep or not name or not number.isdigit():
                raise ValueError("server %r is not HOST:PORT" % server)
            server = (name.strip("[]"), int(number))
        pairs.append((server[0], int(server[1])))
    if not pairs:
        raise ValueError("servers is empty")
    if len(pairs) > MAX_SERVERS:
        raise ValueError("%d servers given; at most %d are taken" % (len(pairs), MAX_SERVERS))
    return pairs


def _is_refusal(close):
    """A refusal at the door (full, too many from one address): it bars
    only that server."""
    reason = close.get("reason") or ""
    return reason.startswith("server full") or reason.startswith("too many connections from")


def _next(at, barred, wraps):
    """The server after `at` not barred now (or, all barred, the one free
    soonest), and how long until it is free."""
    n = len(barred)
    count = n if wraps else n - at - 1
    order = [(at + k) % n for k in range(1, count + 1)]
    now = _now()
    free_in = {i: max(0.0, barred[i] - now) for i in order}
    chosen = next((i for i in order if free_in[i] == 0), None)
    if chosen is None:
        chosen = min(order, key=lambda i: free_in[i])
    return chosen, free_in[chosen]
