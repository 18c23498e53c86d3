"""The OpenAI Batch API for evaluations: every uncached request in one JSONL file, results within 24 h, half price.

Each request's `custom_id` is its response key (core/responses.py), so results
land in the same paid-response cache as live calls. The batch id is recorded
in the store as soon as the provider accepts it: a killed run resumes polling
that batch rather than paying for a second one.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import TYPE_CHECKING, AsyncIterator

from core import responses
from core.approach import Prediction
from core.store import to_json

if TYPE_CHECKING:
    from core.approach import Approach as ChatApproach  # the ChatApproach (typed loosely: no import cycle)
    from core.data.dataset import Example

TERMINAL = {"completed", "failed", "expired", "cancelled"}
POLL_INTERVAL_S = 10.0


def open_batches(store, base_url: str | None) -> list[dict]:
    return [dict(r) for r in store.query(
        "SELECT * FROM batches WHERE endpoint = ? AND status NOT IN ('done', 'failed', 'expired', 'cancelled')",
        (responses.endpoint_id(base_url),))]


def _set_status(store, batch_id: str, status: str, error: str | None = None) -> None:
    store.execute("UPDATE batches SET status = ?, error = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
                  " WHERE id = ?", (status, error, batch_id))


async def _collect(client, store, base_url: str | None, batch_id: str, requests: dict[str, dict],
                   stop: threading.Event, poll_s: float) -> dict[str, str]:
    """Poll a batch to its end and store every answer; returns key -> error for requests that failed."""
    while True:
        batch = await client.batches.retrieve(batch_id)
        if batch.status in TERMINAL:
            break
        _set_status(store, batch_id, batch.status)
        if stop.is_set():
            return {}  # left running at the provider; the next run resumes polling it
        await asyncio.sleep(poll_s)
    errors: dict[str, str] = {}
    if batch.output_file_id:
        text = (await client.files.content(batch.output_file_id)).text
        for line in text.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, resp = item["custom_id"], item.get("response") or {}
            if resp.get("status_code") == 200 and key in requests:
                responses.put(store, key, base_url, requests[key], resp["body"], None)
            else:
                errors[key] = json.dumps(item.get("error") or resp.get("body"))[:500]
    if batch.error_file_id:
        text = (await client.files.content(batch.error_file_id)).text
        for line in filter(str.strip, text.splitlines()):
            item = json.loads(line)
            errors[item["custom_id"]] = json.dumps(item.get("error") or item.get("response"))[:500]
    if batch.status != "completed":
        reason = f"batch {batch_id} {batch.status}"
        errors.update({k: reason for k in requests if responses.get(store, k) is None})
    _set_status(store, batch_id, "done" if batch.status == "completed" else batch.status)
    return errors


async def run_batch(approach: "ChatApproach", texts: list[str], shots: list[list["Example"]],
                    stop: threading.Event, poll_s: float | None = None) -> AsyncIterator[tuple[int, Prediction]]:
    """(position, prediction) for every text: cached ones at once, the rest when the batch completes."""
    from core.endpoint import Endpoint, async_client, describe_error

    store, base_url = approach.store, approach.base_url
    poll_s = POLL_INTERVAL_S if poll_s is None else poll_s
    structured = approach.structured is not False  # no live probing in batch mode: a refusal comes back per line
    reqs = [approach.request(t, s, structured) for t, s in zip(texts, shots)]
    keys = [responses.response_key(base_url, r) for r in reqs]
    by_key = dict(zip(keys, reqs))
    done: set[int] = set()

    def ready() -> list[tuple[int, Prediction]]:
        out = []
        for i, k in enumerate(keys):
            if i not in done and (hit := responses.get(store, k)) is not None:
                done.add(i)
                out.append((i, approach.to_prediction(hit.body, None, reqs[i])))
        return out

    for item in ready():
        yield item
    if len(done) == len(keys):
        return
    client = async_client(Endpoint(approach.api_key, base_url), max_retries=approach.max_retries, timeout=approach.timeout)
    errors: dict[str, str] = {}
    try:
        # First finish what an earlier (killed) run already submitted.
        for b in open_batches(store, base_url):
            mine = {k: by_key[k] for k in json.loads(b["keys_json"]) if k in by_key}
            if mine:
                errors |= await _collect(client, store, base_url, b["id"], mine, stop, poll_s)
        for item in ready():
            yield item
        missing = {k: by_key[k] for i, k in enumerate(keys) if i not in done and k not in errors}
        if missing and not stop.is_set():
            lines = "\n".join(json.dumps({"custom_id": k, "method": "POST", "url": "/v1/chat/completions", "body": r})
                              for k, r in missing.items())
            f = await client.files.create(file=("evaluation.jsonl", lines.encode()), purpose="batch")
            batch = await client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions",
                                                completion_window="24h", metadata={"source": "fine-tuning-lab"})
            store.execute("INSERT INTO batches(id, endpoint, input_file_id, keys_json, status) VALUES (?, ?, ?, ?, ?)",
                          (batch.id, responses.endpoint_id(base_url), f.id, to_json(list(missing)), batch.status))
            errors |= await _collect(client, store, base_url, batch.id, missing, stop, poll_s)
    except Exception as exc:  # noqa: BLE001 — the run records the reason; a rerun resumes
        reason = describe_error(exc)
        errors |= {k: reason for i, k in enumerate(keys) if i not in done}
    finally:
        await client.close()
    for item in ready():
        yield item
    for i, k in enumerate(keys):
        if i not in done and k in errors:
            yield i, Prediction(None, error=f"batch: {errors[k]}")
