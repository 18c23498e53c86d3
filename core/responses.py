"""The paid-response cache: every API response is written here first, keyed by what was asked.

Key = hash of (endpoint, request) where the request holds the model, the
messages and every parameter, so a re-run, a resume after a kill, or another
approach that happens to send the identical request never pays twice.
The endpoint is part of the key: the same model name on another server is
another model. API keys never enter the request stored here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from core.store import Store, to_json


def endpoint_id(base_url: str | None) -> str:
    return (base_url or "https://api.openai.com/v1").rstrip("/")


def response_key(base_url: str | None, request: dict[str, Any]) -> str:
    return hashlib.sha256(to_json({"endpoint": endpoint_id(base_url), "request": request}).encode()).hexdigest()


@dataclass(frozen=True)
class StoredResponse:
    key: str
    body: dict[str, Any]  # the provider's JSON response
    latency_ms: float | None


def get(store: Store, key: str) -> StoredResponse | None:
    row = store.query_one("SELECT key, response_json, latency_ms FROM responses WHERE key = ?", (key,))
    if row is None:
        return None
    return StoredResponse(row["key"], json.loads(row["response_json"]), row["latency_ms"])


def put(store: Store, key: str, base_url: str | None, request: dict[str, Any], body: str | dict,
        latency_ms: float | None) -> None:
    """Record a paid response (idempotent: the first one recorded stays — it is the one that was paid for)."""
    text = body if isinstance(body, str) else to_json(body)
    store.execute(
        "INSERT OR IGNORE INTO responses(key, base_url, model, request_json, response_json, latency_ms)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (key, endpoint_id(base_url), request.get("model", ""), to_json(request), text, latency_ms),
    )


def count(store: Store) -> int:
    return store.query_one("SELECT COUNT(*) FROM responses")[0]
