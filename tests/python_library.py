"""Drives assets/clients/python/hbmon_client.py for the Rust test suite:
connects to HOST PORT (failing over to each further HOST:PORT given) with
--reconnect behaviour, prints every notice as a JSON line (and every server
it connects to on stderr), and says goodbye when its stdin closes. A further
argument that is a file, a CA, makes it speak TLS."""
import json
import os
import ssl
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "assets", "clients", "python"))
from hbmon_client import HeartbeatClient  # noqa: E402


def show(notice):
    print(json.dumps(notice), flush=True)


def on(server):
    print(json.dumps({"server": server}), file=sys.stderr, flush=True)


extra = sys.argv[3:]
cas = [arg for arg in extra if os.path.isfile(arg)]
servers = [(sys.argv[1], int(sys.argv[2]))] + [arg for arg in extra if arg not in cas]
tls = ssl.create_default_context(cafile=cas[0]) if cas else None
client = HeartbeatClient(servers=servers, interval=0.05, on_notice=show, on_server=on,
                         ssl_context=tls)
client.start()
print(json.dumps({"pid": os.getpid()}), flush=True)
sys.stdin.read()
client.stop()
print(json.dumps({"stopped": True}), flush=True)
