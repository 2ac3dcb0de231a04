"""Runs moto's server with DynamoDB requests serialized.

moto's threaded server interleaves concurrent requests, so a conditional
write or a transaction can pass its condition while another request writes
the same item, which DynamoDB never allows. Serializing DynamoDB requests
restores that guarantee; other services (SQS long polls) stay concurrent.
Usage: python3 moto_serial.py HOST PORT
"""
import os
import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

_lock = threading.Lock()
_app = DomainDispatcherApplication(create_backend_app)


def _serialized(environ, start_response):
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
        with _lock:
            # Produce the whole body under the lock: a response may be lazy.
            return list(_app(environ, start_response))
    return _app(environ, start_response)


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    run_simple(host, port, _serialized, threaded=True)
