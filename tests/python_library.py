"""Drives assets/clients/python/hbmon_client.py for the Rust test suite:
connects to HOST PORT (failing over to each further HOST:PORT given) with
--reconnect behaviour, prints every notice as a JSON line (and every server
it connects to on stderr), and says goodbye when its stdin closes."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "assets", "clients", "python"))
from hbmon_client import HeartbeatClient  # noqa: E402


def show(notice):
    print(json.dumps(notice), flush=True)


def on(server):
    print(json.dumps({"server": server}), file=sys.stderr, flush=True)


servers = [(sys.argv[1], int(sys.argv[2]))] + sys.argv[3:]
client = HeartbeatClient(servers=servers, interval=0.05, on_notice=show, on_server=on)
client.start()
print(json.dumps({"pid": os.getpid()}), flush=True)
sys.stdin.read()
client.stop()
print(json.dumps({"stopped": True}), flush=True)
