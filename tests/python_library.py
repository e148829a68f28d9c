"""Drives assets/clients/python/hbmon_client.py for the Rust test suite:
connects to HOST PORT with --reconnect behaviour, prints every notice as a
JSON line, and says goodbye when its stdin closes."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "assets", "clients", "python"))
from hbmon_client import HeartbeatClient  # noqa: E402


def show(notice):
    print(json.dumps(notice), flush=True)


client = HeartbeatClient(sys.argv[1], int(sys.argv[2]), interval=0.05, on_notice=show)
client.start()
print(json.dumps({"pid": os.getpid()}), flush=True)
sys.stdin.read()
client.stop()
print(json.dumps({"stopped": True}), flush=True)
