"""Runs moto's server with DynamoDB requests serialized, and two of its
DynamoDB costs brought in line with DynamoDB's.

moto's threaded server interleaves concurrent requests, so a conditional
write or a transaction can pass its condition while another request writes
the same item, which DynamoDB never allows. Serializing DynamoDB requests
restores that guarantee; other services (SQS long polls) stay concurrent.

moto 5.2 also makes a Query on a table's key read and sort the whole table,
and a TransactWriteItems deep-copy every table it touches once per item (to
roll back on failure): both grow with the table, which makes batched
deletions quadratic. Here a key Query reads only its partition, and a
transaction snapshots only the items it writes. Semantics are unchanged.
Usage: python3 moto_serial.py HOST PORT
"""
import copy
import os
import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from moto.dynamodb import models as _models
from moto.dynamodb.models.table import Table as _Table

_query = _Table.query


def _partition_query(self, hash_key, *args, **kwargs):
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    if index_name is not None or hash_key is None or not self.range_key_attr:
        return _query(self, hash_key, *args, **kwargs)
    items = list(self.items[hash_key].values()) if hash_key in self.items else []
    self.all_items = lambda: items  # shadows the method for this call only
    try:
        return _query(self, hash_key, *args, **kwargs)
    finally:
        del self.all_items


_Table.query = _partition_query


class _TableKeepingCopy:
    """The copy module, except that tables are not deep-copied: the
    transaction wrapper below snapshots the items it writes instead."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(x, memo=None):
        return x if isinstance(x, _Table) else copy.deepcopy(x, memo)


_models.copy = _TableKeepingCopy()
_transact = _models.DynamoDBBackend.transact_write_items


def _item_snapshot_transact(self, transact_items):
    saved = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = self.tables.get(op.get("TableName"))
        if table is None:
            continue
        keys = op.get("Key") or {
            a: op["Item"][a] for a in (table.hash_key_attr, table.range_key_attr) if a and a in op.get("Item", {})
        }
        try:
            hk, rk = self.get_keys_value(table, keys)
        except Exception:
            continue
        saved.append((table, hk, rk, copy.deepcopy(table.items.get(hk, {}).get(rk) if rk is not None else table.items.get(hk))))
    try:
        return _transact(self, transact_items)
    except Exception:
        for table, hk, rk, old in reversed(saved):
            if rk is None:
                if old is None:
                    table.items.pop(hk, None)
                else:
                    table.items[hk] = old
            elif old is None:
                if hk in table.items:
                    table.items[hk].pop(rk, None)
            else:
                table.items[hk][rk] = old
        raise


_models.DynamoDBBackend.transact_write_items = _item_snapshot_transact

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
