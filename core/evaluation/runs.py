"""Run: one approach evaluated on one dataset split — per-example predictions in the store, metrics derived.

A run is identified by (dataset version, split, approach config hash): starting
the same approach again on the same data resumes that run and predicts only the
examples it has no answer for yet (or whose call failed), so a killed or
stopped evaluation picks up where it stopped, and a finished one costs nothing.
Each prediction is written the moment it arrives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Sequence

from core.data import dataset as datasets
from core.approach import Approach, Prediction
from core.data.dataset import Dataset, Example
from core.store import Store, to_json

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class Run:
    id: int
    dataset_hash: str
    split: str
    approach: str  # the spec
    config_hash: str
    config: dict
    backend: str
    model: str
    status: str  # running | finished | incomplete (calls failed or were stopped; a rerun completes them)
    created_at: str
    finished_at: str | None
    origin: str = ""  # '' for runs made here; 'preloaded: <command> on <date>' for shipped results

    @classmethod
    def from_row(cls, row) -> "Run":
        return cls(row["id"], row["dataset_hash"], row["split"], row["approach"], row["config_hash"],
                   json.loads(row["config_json"]), row["backend"], row["model"], row["status"],
                   row["created_at"], row["finished_at"], row["origin"])


def start(store: Store, dataset: Dataset, split: str, approach: Approach) -> Run:
    """The run of this approach on this data: created, or the existing one (to resume)."""
    h = datasets.save(store, dataset)
    cfg = approach.config()
    with store.transaction() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO runs(dataset_hash, split, approach, config_hash, config_json, backend, model)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (h, split, approach.spec, approach.config_hash, to_json(cfg), approach.backend, approach.model),
        )
    return get_by_key(store, h, split, approach.config_hash)


def get_by_key(store: Store, dataset_hash: str, split: str, config_hash: str) -> Run:
    row = store.query_one("SELECT * FROM runs WHERE dataset_hash = ? AND split = ? AND config_hash = ?",
                          (dataset_hash, split, config_hash))
    return Run.from_row(row)


def get(store: Store, run_id: int) -> Run:
    row = store.query_one("SELECT * FROM runs WHERE id = ?", (run_id,))
    if row is None:
        raise KeyError(f"no run {run_id}")
    return Run.from_row(row)


def list_runs(store: Store, dataset_hash: str | None = None, split: str | None = None) -> list[dict]:
    """Runs with their progress (answered / failed counts), newest last."""
    sql = ("SELECT r.*, COUNT(p.example_idx) AS n_predictions, SUM(p.error IS NOT NULL) AS n_errors"
           " FROM runs r LEFT JOIN predictions p ON p.run_id = r.id WHERE 1=1")
    args: list = []
    if dataset_hash:
        sql += " AND r.dataset_hash = ?"
        args.append(dataset_hash)
    if split:
        sql += " AND r.split = ?"
        args.append(split)
    return [dict(r) for r in store.query(sql + " GROUP BY r.id ORDER BY r.id", args)]


def split_examples(dataset: Dataset, split: str) -> list[tuple[int, Example]]:
    """(index in the dataset, example) of the labelled examples of a split — the examples a run answers."""
    if split not in datasets.SPLITS:
        raise ValueError(f"split must be one of {', '.join(datasets.SPLITS)}, not {split!r}")
    return [(i, e) for i, e in enumerate(dataset.examples) if e.split == split and e.label is not None]


def pending(store: Store, run: Run, dataset: Dataset) -> list[tuple[int, Example]]:
    """Examples without an answer yet: never predicted, or the call failed."""
    answered = {r[0] for r in store.query(
        "SELECT example_idx FROM predictions WHERE run_id = ? AND error IS NULL", (run.id,))}
    return [(i, e) for i, e in split_examples(dataset, run.split) if i not in answered]


def record(store: Store, run_id: int, example_idx: int, gold: str | None, p: Prediction) -> None:
    store.execute(
        "INSERT OR REPLACE INTO predictions(run_id, example_idx, gold, label, raw_output, latency_ms,"
        " input_tokens, output_tokens, cost_usd, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (run_id, example_idx, gold, p.label, p.raw_output or "", p.latency_ms, p.input_tokens, p.output_tokens,
         p.cost_usd, p.error),
    )


def _finish(store: Store, run: Run, dataset: Dataset) -> Run:
    """finished when every example has an answer; incomplete (a rerun completes it) otherwise."""
    left = len(pending(store, run, dataset))
    store.execute(
        "UPDATE runs SET status = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
        ("incomplete" if left else "finished", run.id),
    )
    return get(store, run.id)


def execute(store: Store, dataset: Dataset, approach: Approach, split: str = "test",
            progress: Progress | None = None) -> Run:
    """Evaluate `approach` on `split`: fit on the train split, predict the pending examples, store each answer.

    Resumable: only examples without an answer are predicted, so calling it again after a
    kill (or on a finished run) never repeats work already recorded.
    """
    run = start(store, dataset, split, approach)
    todo = pending(store, run, dataset)
    total = len(split_examples(dataset, split))
    done = total - len(todo)
    if progress:
        progress(done, total)
    if todo:
        store.execute("UPDATE runs SET status = 'running', finished_at = NULL WHERE id = ?", (run.id,))
        if approach.task != dataset.task:  # fitted elsewhere (or not at all): learn from this train split
            approach.fit(dataset.split("train"), dataset.task)
        examples = [e for _, e in todo]
        for pos, pred in approach.predict_stream(examples):
            idx, ex = todo[pos]
            record(store, run.id, idx, ex.label, pred)
            done += 1
            if progress:
                progress(done, total)
    return _finish(store, run, dataset)


def evaluate(store: Store, dataset: Dataset, approaches: Sequence[Approach], split: str = "test",
             progress: Callable[[str, int, int], None] | None = None) -> list[Run]:
    """Run several approaches one after the other on the same split (progress gets the spec too)."""
    out = []
    for a in approaches:
        cb = (lambda d, t, _s=a.spec: progress(_s, d, t)) if progress else None
        out.append(execute(store, dataset, a, split, cb))
    return out


def predictions(store: Store, run_id: int) -> list[dict]:
    """The run's per-example rows joined with the example text, in dataset order."""
    return [dict(r) for r in store.query(
        "SELECT p.example_idx, e.example_id, e.text, p.gold, p.label, p.raw_output, p.latency_ms,"
        " p.input_tokens, p.output_tokens, p.cost_usd, p.error"
        " FROM predictions p JOIN runs r ON r.id = p.run_id"
        " JOIN examples e ON e.dataset_hash = r.dataset_hash AND e.idx = p.example_idx"
        " WHERE p.run_id = ? ORDER BY p.example_idx", (run_id,))]


# The stored fields of a prediction (what a bundle of pre-loaded results carries per example).
PREDICTION_FIELDS = ("example_idx", "gold", "label", "raw_output", "latency_ms", "input_tokens",
                     "output_tokens", "cost_usd", "error")


def prediction_rows(store: Store, run_ids: Sequence[int]) -> dict[int, list[dict]]:
    """run id -> its stored prediction rows (PREDICTION_FIELDS), in example order; runs without any are absent."""
    out: dict[int, list[dict]] = {}
    ids = list(run_ids)
    if not ids:
        return out
    marks = ",".join("?" * len(ids))
    for r in store.query(f"SELECT run_id, {', '.join(PREDICTION_FIELDS)} FROM predictions"
                         f" WHERE run_id IN ({marks}) ORDER BY run_id, example_idx", ids):
        row = dict(r)
        out.setdefault(row.pop("run_id"), []).append(row)
    return out


def test_runs(store: Store, dataset_hash: str) -> int:
    """How many runs used this dataset version's test split (which freezes it: see core.data.versions)."""
    row = store.query_one("SELECT COUNT(*) AS n FROM runs WHERE dataset_hash = ? AND split = 'test'", (dataset_hash,))
    return int(row["n"]) if row else 0


def add_recorded(store: Store, dataset_hash: str, recorded: Sequence[dict], origin: str) -> list[int]:
    """Add runs recorded elsewhere (dicts of Run fields + `predictions` rows of PREDICTION_FIELDS), in one
    transaction, skipping any whose key (dataset version, split, config hash) is already here. The new ids."""
    added = []
    with store.transaction() as conn:
        for r in recorded:
            cur = conn.execute(
                "INSERT OR IGNORE INTO runs(dataset_hash, split, approach, config_hash, config_json, backend, model,"
                " status, created_at, finished_at, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (dataset_hash, r["split"], r["approach"], r["config_hash"], to_json(r["config"]), r["backend"],
                 r["model"], r["status"], r["created_at"], r["finished_at"], origin),
            )
            if cur.rowcount == 0:
                continue
            run_id = cur.lastrowid
            conn.executemany(
                f"INSERT INTO predictions(run_id, {', '.join(PREDICTION_FIELDS)})"
                f" VALUES (?, {', '.join('?' * len(PREDICTION_FIELDS))})",
                [(run_id, *(p[k] for k in PREDICTION_FIELDS)) for p in r["predictions"]],
            )
            added.append(run_id)
    return added


def delete(store: Store, run_id: int) -> None:
    """Forget a run's predictions (its paid responses stay cached, so re-running it is free)."""
    with store.transaction() as conn:
        conn.execute("DELETE FROM predictions WHERE run_id = ?", (run_id,))
        conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))


# --- for the prompt search (core.prompts.scoring), which scores candidates on parts of a split ---------------


def answers(store: Store, run_id: int) -> dict[int, dict]:
    """example index -> its stored prediction (gold, label, tokens, cost, error), without the example texts."""
    return {r["example_idx"]: dict(r) for r in store.query(
        "SELECT example_idx, gold, label, input_tokens, output_tokens, cost_usd, error FROM predictions"
        " WHERE run_id = ?", (run_id,))}


def mark_running(store: Store, run_id: int) -> None:
    store.execute("UPDATE runs SET status = 'running', finished_at = NULL WHERE id = ?", (run_id,))


def mark_scored(store: Store, run_id: int, total: int) -> str:
    """After scoring part of a split: 'partial' below `total` answers, else finished (incomplete if a call failed)."""
    row = store.query_one("SELECT COUNT(*) AS n, SUM(error IS NOT NULL) AS failed FROM predictions"
                          " WHERE run_id = ?", (run_id,))
    status = "partial" if row["n"] < total else ("incomplete" if row["failed"] else "finished")
    store.execute("UPDATE runs SET status = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
                  " WHERE id = ?", (status, run_id))
    return status
