"""Schemathesis hooks for scripts/openapi-check.

Native wallet requests (/wallet/v1/*) must carry an HMAC signature of their
exact body, which schemathesis cannot make: when CROUPIER_AGGREGATOR and
CROUPIER_AGGREGATOR_SECRET are set, every such request whose generated case
has the three signature headers is sent with the body serialized here and
signed over those bytes (a case missing one of them is sent as generated,
to be refused). Generated game-launch tokens and player ids name nothing,
so about half the cases get the real CROUPIER_LAUNCH_TOKEN / CROUPIER_PLAYER
(and a plausible currency and amount) to reach the answers behind 401/404.
The choice is a function of the case, so a seed reproduces a run.
"""

import hashlib
import hmac
import json
import os
import time
import zlib

import schemathesis
from schemathesis.core import NotSet

AGGREGATOR = os.environ.get("CROUPIER_AGGREGATOR", "")
SECRET = bytes.fromhex(os.environ.get("CROUPIER_AGGREGATOR_SECRET", ""))
LAUNCH_TOKEN = os.environ.get("CROUPIER_LAUNCH_TOKEN", "")
PLAYER = os.environ.get("CROUPIER_PLAYER", "")
SIGNATURE_HEADERS = ("x-croupier-aggregator", "x-croupier-timestamp", "x-croupier-signature")


def _choose(case, n):
    """A number in [0, n) fixed by the case's generated values."""
    key = repr((case.path_parameters, case.query, case.body)).encode()
    return zlib.crc32(key) % n


def _realistic(case):
    """Half the cases get values that pass validation, so that the answers
    behind 400/401/404 (and their bodies) are checked too."""
    if PLAYER and case.path_parameters and "player" in case.path_parameters and _choose(case, 2) == 0:
        case.path_parameters["player"] = int(PLAYER)
    body = case.body
    if not isinstance(body, dict) or _choose(case, 2) != 0:
        return
    n = _choose(case, 1 << 30)
    ids = {"transaction_id": "t", "bet_transaction_id": "t", "deposit_id": "d", "name": "n"}
    for field, prefix in ids.items():
        if field in body:
            body[field] = "%s-%x" % (prefix, n)
    if "bet_transaction_id" in body and n % 2:
        body["bet_transaction_id"] = "t-%x" % (n // 2)  # sometimes a bet that exists
    fixed = {
        "round_id": "r-%d" % (n % 4),
        "game": "slots",
        "currency": "EUR",
        "jurisdiction": "MT",
        "role": ("admin", "finance", "compliance", "support", "read-only")[n % 5],
        "metric": ("deposit", "loss", "wager")[n % 3],
        "period": ("day", "week", "month")[n % 3],
        "until_ms": int(time.time() * 1000) + 86_400_000,
        "ttl_ms": 600_000,
    }
    for field, value in fixed.items():
        if field in body:
            body[field] = value
    if LAUNCH_TOKEN and "token" in body:
        body["token"] = LAUNCH_TOKEN
    if PLAYER and "player" in body:
        body["player"] = int(PLAYER)
    if AGGREGATOR and isinstance(body.get("aggregator"), int):
        body["aggregator"] = int(AGGREGATOR)
    body.pop("rsa_public_key", None)
    if isinstance(body.get("amount"), str):
        body["amount"] = "0.%02d" % (1 + n % 99)


def _sign(case, kwargs):
    headers = case.headers
    if not (AGGREGATOR and SECRET and headers and all(name in headers for name in SIGNATURE_HEADERS)):
        return
    raw = b""
    if isinstance(case.body, bytes):
        raw = case.body
    elif not isinstance(case.body, NotSet):
        try:
            raw = json.dumps(case.body).encode()
        except (TypeError, ValueError):
            return  # not JSON: sent as generated, unsigned
    if not isinstance(case.body, NotSet):
        kwargs["data"] = raw
    timestamp = str(int(time.time() * 1000))
    mac = hmac.new(SECRET, timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    headers["x-croupier-aggregator"] = AGGREGATOR
    headers["x-croupier-timestamp"] = timestamp
    headers["x-croupier-signature"] = mac


@schemathesis.hook
def before_call(context, case, kwargs):
    _realistic(case)
    if case.operation.path.startswith("/wallet/v1/"):
        _sign(case, kwargs)
