"""Schemathesis hooks for scripts/contract-test.

A client sends a new Idempotency-Key with each new request: the server answers a key used again with
another body 422 idempotency_key_reused (as the IETF idempotency-key draft asks), which a generator
that repeats its header values would otherwise meet on every operation that takes the header.
"""
import uuid

import schemathesis


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
