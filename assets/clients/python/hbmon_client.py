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

Over TLS, pass an `ssl.SSLContext` (the server's certificate is checked
against `server_hostname`, the host by default):

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

    def __init__(self, host, port, interval=1.0, pid=None, ip=None,
                 token=None, on_notice=None, reconnect=True,
                 ssl_context=None, server_hostname=None):
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname or host
        self.interval = interval
        self.pid = os.getpid() if pid is None else pid
        self.ip = ip
        self.token = token
        self.on_notice = on_notice or (lambda notice: None)
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
        while not self._stop.is_set():
            floor = 0.0
            try:
                sock = socket.create_connection((self.host, self.port), timeout=10)
                if self.ssl_context is not None:
                    sock = self.ssl_context.wrap_socket(
                        sock, server_hostname=self.server_hostname)
            except OSError:
                sock = None
            if sock is not None:
                started = _now()
                floor = self._session(sock)
                if _now() - started >= HEALTHY:
                    step = BACKOFF_MIN
            if self._stop.is_set() or not self.reconnect:
                return
            wait = max(step / 2 + random.random() * step / 2, floor)
            step = min(step * 2, BACKOFF_MAX)
            self._stop.wait(wait)

    def _session(self, sock):
        """Heartbeats over one connection until it ends; returns how long
        the server asked to wait before the next (its `retry_after`)."""
        sock.settimeout(None)
        with self._lock:
            self._sock = sock
        retry_after = [0.0]
        reader = threading.Thread(target=self._read, args=(sock, retry_after),
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
        return retry_after[0]

    def _read(self, sock, retry_after):
        while True:
            try:
                notice = _read_frame(sock)
            except (OSError, ValueError):
                return
            if notice is None:
                return
            self.on_notice(notice)
            if notice.get("status") == "close":
                retry_after[0] = float(notice.get("retry_after") or 0)
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return


def _now():
    return time.monotonic()
