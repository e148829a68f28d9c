"""Drives assets/clients/python/hbmon_client.py for the Rust test suite:
connects to HOST PORT with --reconnect behaviour, prints every notice as a
JSON line, and says goodbye when its stdin closes. A third argument, a CA
file, makes it speak TLS."""
import json
import os
import ssl
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "assets", "clients", "python"))
from hbmon_client import HeartbeatClient  # noqa: E402


def show(notice):
    print(json.dumps(notice), flush=True)


tls = ssl.create_default_context(cafile=sys.argv[3]) if len(sys.argv) > 3 else None
client = HeartbeatClient(sys.argv[1], int(sys.argv[2]), interval=0.05, on_notice=show,
                         ssl_context=tls)
client.start()
print(json.dumps({"pid": os.getpid()}), flush=True)
sys.stdin.read()
client.stop()
print(json.dumps({"stopped": True}), flush=True)
