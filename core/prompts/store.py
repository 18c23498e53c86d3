"""The prompts table: every scored candidate prompt, the promoted one ("the prompted baseline"), exports.

A row is a hashed, fully materialised prompt design (core.prompts.space.Candidate)
with what it scored. Promoting a row makes it the prompted baseline of its
dataset version — the one Evaluate and Decide compare everything against —
and gives it a version number (v1, v2, … per dataset) that never changes.
Run it anywhere an approach spec is accepted:

    local:prompt:<hash>                 the local backend (MiniLM)
    openai:<model>:prompt:<hash>        any OpenAI-compatible chat model
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.data import dataset as datasets
from core.prompts.space import Candidate, resolve_exemplars
from core.prompting import format_answer, response_format, system_prompt
from core.store import Store, to_json


@dataclass(frozen=True)
class PromptRecord:
    hash: str
    dataset_hash: str
    candidate: Candidate
    name: str
    backend: str
    model: str
    dev_accuracy: float | None
    dev_n: int | None
    test_accuracy: float | None
    test_n: int | None
    tokens_per_call: float | None
    cost_per_1k_usd: float | None
    promoted: bool
    version: int | None
    promoted_at: str | None
    optimization_id: int | None
    created_at: str

    @property
    def spec(self) -> str:
        """The approach spec that runs this prompt on the backend it was optimized for."""
        return spec_for(self.candidate)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "candidate"}
        return d | {"spec": self.spec, "config": self.candidate.to_dict()}

    @classmethod
    def from_row(cls, row) -> "PromptRecord":
        cand = Candidate.from_dict(json.loads(row["config_json"]))
        return cls(row["hash"], row["dataset_hash"], cand, row["name"], row["backend"], row["model"],
                   row["dev_accuracy"], row["dev_n"], row["test_accuracy"], row["test_n"], row["tokens_per_call"],
                   row["cost_per_1k_usd"], bool(row["promoted"]), row["version"], row["promoted_at"],
                   row["optimization_id"], row["created_at"])


def spec_for(candidate: Candidate) -> str:
    if candidate.backend == "local":
        return f"local:prompt:{candidate.hash}"
    return f"{candidate.backend}:{candidate.model}:prompt:{candidate.hash}"


def save(store: Store, candidate: Candidate, **scores: Any) -> None:
    """Insert the candidate (once) and update the scores given (dev_accuracy, dev_n, tokens_per_call, …)."""
    allowed = {"dev_accuracy", "dev_n", "test_accuracy", "test_n", "tokens_per_call", "cost_per_1k_usd",
               "optimization_id"}
    unknown = set(scores) - allowed
    if unknown:
        raise ValueError(f"unknown prompt fields: {', '.join(sorted(unknown))}")
    with store.transaction() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO prompts(hash, dataset_hash, config_json, backend, model, name)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (candidate.hash, candidate.dataset, to_json(candidate.to_dict()), candidate.backend, candidate.model,
             candidate.name),
        )
        if scores:
            cols = ", ".join(f"{k} = ?" for k in scores)
            conn.execute(f"UPDATE prompts SET {cols} WHERE hash = ?", (*scores.values(), candidate.hash))


def get(store: Store, hash_or_prefix: str) -> PromptRecord:
    """A stored prompt by hash (a unique prefix of 6+ characters is enough)."""
    ref = hash_or_prefix.strip()
    if len(ref) < 6:
        raise KeyError(f"prompt reference {ref!r} is too short (give at least 6 characters of its hash)")
    rows = store.query("SELECT * FROM prompts WHERE hash LIKE ? || '%'", (ref,))
    if not rows:
        raise KeyError(f"no prompt {ref!r} in the store (optimize on the Prompts page or `python -m core optimize`)")
    if len(rows) > 1:
        raise KeyError(f"prompt prefix {ref!r} is ambiguous ({len(rows)} prompts)")
    return PromptRecord.from_row(rows[0])


def list_prompts(store: Store, dataset_hash: str, optimization_id: int | None = None) -> list[PromptRecord]:
    sql, args = "SELECT * FROM prompts WHERE dataset_hash = ?", [dataset_hash]
    if optimization_id is not None:
        sql += " AND optimization_id = ?"
        args.append(optimization_id)
    return [PromptRecord.from_row(r) for r in store.query(sql + " ORDER BY created_at, hash", args)]


def promote(store: Store, hash_or_prefix: str) -> PromptRecord:
    """Make this prompt the prompted baseline of its dataset version (exactly one per version)."""
    rec = get(store, hash_or_prefix)
    with store.transaction() as conn:
        conn.execute("UPDATE prompts SET promoted = 0 WHERE dataset_hash = ? AND hash != ?",
                     (rec.dataset_hash, rec.hash))
        if rec.version is None:
            nxt = conn.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM prompts WHERE dataset_hash = ?",
                               (rec.dataset_hash,)).fetchone()[0]
            conn.execute("UPDATE prompts SET version = ? WHERE hash = ?", (nxt, rec.hash))
        conn.execute("UPDATE prompts SET promoted = 1, promoted_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
                     " WHERE hash = ?", (rec.hash,))
    return get(store, rec.hash)


def unpromote(store: Store, dataset_hash: str) -> None:
    store.execute("UPDATE prompts SET promoted = 0 WHERE dataset_hash = ?", (dataset_hash,))


def promoted_baseline(store: Store, dataset_hash: str) -> PromptRecord | None:
    """The prompted baseline of a dataset version: its promoted prompt, or None if none was promoted.

    Evaluate and Decide run `record.spec` (e.g. `openai:gpt-4.1-mini:prompt:<hash>`) as "the prompted
    baseline"; with None they fall back to their own default zero-shot prompt.
    """
    row = store.query_one("SELECT * FROM prompts WHERE dataset_hash = ? AND promoted = 1", (dataset_hash,))
    return PromptRecord.from_row(row) if row else None


# --- export: the prompt as plain text / JSON, for use outside the lab ------------------------------------


def export(store: Store, hash_or_prefix: str) -> dict:
    """The prompt as a provider-neutral JSON document: system prompt, exemplar turns, output contract."""
    rec = get(store, hash_or_prefix)
    cand = rec.candidate
    ds = datasets.load(store, rec.dataset_hash)
    train = [e for e in ds.split("train") if e.label is not None]
    cfg = cand.prompt_config()
    doc: dict[str, Any] = {
        "prompt": rec.hash,
        "version": rec.version,
        "dataset": rec.dataset_hash,
        "task": ds.task.name,
        "optimized_for": cand.model or "local (all-MiniLM-L6-v2)",
        "dev_accuracy": rec.dev_accuracy,
        "test_accuracy": rec.test_accuracy,
        "labels": ds.task.label_names,
        "system": system_prompt(ds.task, cfg),
        "examples": [{"user": e.text, "assistant": format_answer(e.label, cfg)}
                     for e in resolve_exemplars(cand, train)],
        "output": cand.output,
        "response_format": response_format(ds.task) if cand.output == "json" else None,
        "retrieval": None,
    }
    if cand.selection == "retrieved":
        doc["retrieval"] = {
            "k": cand.k,
            "how": ("for each input, put the k most similar pool examples (cosine similarity of "
                    f"{cand.retriever or 'minilm'} vectors) as user/assistant turns before it, nearest last"),
            "pool": [{"user": e.text, "assistant": format_answer(e.label, cfg)} for e in train],
        }
    return doc


def export_text(doc: dict) -> str:
    """The exported prompt as plain text a person can paste into any chat tool."""
    lines = [f"# Prompt {doc['prompt']}" + (f" (v{doc['version']})" if doc.get("version") else ""),
             f"# Task: {doc['task']} · dataset {doc['dataset']} · optimized for {doc['optimized_for']}",
             "", "## System", doc["system"]]
    if doc["examples"]:
        lines += ["", "## Examples (as user / assistant turns, in this order)"]
        for ex in doc["examples"]:
            lines += ["", f"User: {ex['user']}", f"Assistant: {ex['assistant']}"]
    if doc.get("retrieval"):
        r = doc["retrieval"]
        lines += ["", f"## Retrieved examples: {r['how']} (k = {r['k']}; the pool of {len(r['pool'])} "
                      "labelled examples is in the JSON export)"]
    lines += ["", "## Then", "User: <the text to classify>"]
    return "\n".join(lines) + "\n"
