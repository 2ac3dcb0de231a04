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

moto 5.2 has S3 Vectors buckets, indexes and Put/Get/List/DeleteVectors
but no QueryVectors: it is added here, exact (every vector of the index is
compared), with the index's distance metric (cosine: 1 - cosine
similarity; euclidean: L2 distance), closest first, and S3 Vectors'
metadata filters ($eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists,
$and, $or; $eq on a list matches any element).

A TransactWriteItems carrying a ClientRequestToken is idempotent for ten
minutes, as on DynamoDB: the SDK sends one token for all its retries of a
call, so a retry after a lost answer gets the first answer instead of
running again (and failing its own conditions); the same token with other
parameters is an IdempotentParameterMismatchException.
Usage: python3 moto_serial.py HOST PORT
"""
import copy
import io
import json
import os
import sys
import threading
import time

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

# ---- S3 Vectors: QueryVectors ------------------------------------------------

import math
import operator

from moto.core.responses import ActionResult
from moto.s3vectors import urls as _sv_urls
from moto.s3vectors.exceptions import ValidationError as _SVValidation
from moto.s3vectors.models import S3VectorsBackend as _SVBackend
from moto.s3vectors.responses import S3VectorsResponse as _SVResponse


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _elements(v):
    return v if isinstance(v, list) else [v]


def _op(op, arg, present, value):
    if op == "$exists":
        return present == bool(arg)
    if op == "$eq":
        return present and any(x == arg for x in _elements(value))
    if op == "$ne":
        return not present or not any(x == arg for x in _elements(value))
    if op == "$in":
        return present and any(x in arg for x in _elements(value))
    if op == "$nin":
        return not present or not any(x in arg for x in _elements(value))
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if not present or not _number(value) or not _number(arg):
            return False
        return {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}[op](value, arg)
    raise _SVValidation("Invalid filter operator: " + op)


def _matches(flt, meta):
    if not isinstance(flt, dict):
        raise _SVValidation("filter must be an object")
    for key, cond in flt.items():
        if key in ("$and", "$or"):
            if not isinstance(cond, list) or not cond:
                raise _SVValidation(key + " takes a non-empty array of filters")
            results = [_matches(c, meta) for c in cond]
            if (key == "$and" and not all(results)) or (key == "$or" and not any(results)):
                return False
            continue
        present, value = key in meta, meta.get(key)
        ops = cond if isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond) else {"$eq": cond}
        for op, arg in ops.items():
            if not _op(op, arg, present, value):
                return False
    return True


def _distance(metric, q, v):
    if metric == "euclidean":
        return math.sqrt(sum((a - b) * (a - b) for a, b in zip(q, v)))
    dot = sum(map(operator.mul, q, v))
    nq, nv = math.sqrt(sum(map(operator.mul, q, q))), math.sqrt(sum(map(operator.mul, v, v)))
    return 1.0 if nq == 0 or nv == 0 else 1.0 - dot / (nq * nv)


def _query_vectors(self, vector_bucket_name, index_name, index_arn, query_vector, top_k, flt):
    index = self.get_index(vector_bucket_name, index_name=index_name, index_arn=index_arn)
    q = (query_vector or {}).get(index.data_type) or []
    if len(q) != index.dimension:
        raise _SVValidation(f"Query vector has {len(q)} dimensions; the index has {index.dimension}")
    if not isinstance(top_k, int) or not 1 <= top_k <= 100:
        raise _SVValidation("topK must be between 1 and 100")
    scored = []
    for v in index.vectors.values():
        if flt and not _matches(flt, v.metadata or {}):
            continue
        scored.append((_distance(index.distance_metric, q, v.data[index.data_type]), v.key, v))
    scored.sort(key=lambda t: (t[0], t[1]))
    return index.distance_metric, [(v, d) for d, _, v in scored[:top_k]]


def _query_vectors_response(self):
    bucket, arn, name = self._get_param("vectorBucketName"), self._get_param("indexArn"), self._get_param("indexName")
    self._validate_index_params(arn, name, bucket)
    metric, found = self.s3vectors_backend.query_vectors(
        vector_bucket_name=bucket, index_name=name, index_arn=arn,
        query_vector=self._get_param("queryVector"), top_k=self._get_param("topK"), flt=self._get_param("filter"))
    with_meta, with_distance = self._get_bool_param("returnMetadata", False), self._get_bool_param("returnDistance", False)
    vectors = []
    for v, d in found:
        out = {"key": v.key}
        if with_distance:
            out["distance"] = d
        if with_meta:
            out["metadata"] = v.metadata or {}
        vectors.append(out)
    return ActionResult(result={"vectors": vectors, "distanceMetric": metric})


_SVBackend.query_vectors = _query_vectors
_SVResponse.query_vectors = _query_vectors_response
_sv_urls.url_paths["{0}/QueryVectors$"] = _SVResponse.dispatch

_lock = threading.Lock()
_app = DomainDispatcherApplication(create_backend_app)


_tokens = {}  # ClientRequestToken -> (time, parameters, status, headers, answer)
_TOKEN_LIFE = 600


def _idempotent_transaction(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        params = json.loads(raw or b"{}")
        token = params.get("ClientRequestToken")
    except ValueError:
        params, token = None, None
    if not token:
        return list(_app(environ, start_response))
    now = time.time()
    for t in [t for t, v in _tokens.items() if now - v[0] > _TOKEN_LIFE]:
        del _tokens[t]
    hit = _tokens.get(token)
    if hit is not None:
        # The same parameters, whatever the order of their members.
        if hit[1] == params:
            start_response(hit[2], hit[3])
            return [hit[4]]
        body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                           "message": "The request uses the same client token as a previous, but non-identical request."}).encode()
        start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))])
        return [body]
    seen = {}

    def capture(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, headers
        return start_response(status, headers, exc_info)

    answer = b"".join(_app(environ, capture))
    if seen.get("status", "").startswith("200"):
        _tokens[token] = (now, params, seen["status"], seen["headers"], answer)
    return [answer]


def _serialized(environ, start_response):
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target.startswith("DynamoDB"):
        with _lock:
            if target.endswith(".TransactWriteItems"):
                return _idempotent_transaction(environ, start_response)
            # Produce the whole body under the lock: a response may be lazy.
            return list(_app(environ, start_response))
    return _app(environ, start_response)


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    run_simple(host, port, _serialized, threaded=True)
