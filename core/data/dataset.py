"""Example and Dataset: labelled texts, their frozen split, and a content hash as the version.

A Dataset is immutable: an edit produces a new Dataset with a new hash, and the
store keeps every version (with the hash it was derived from).
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Iterable, Literal

from core.config import DATA_DIR
from core.store import Store, to_json
from core.data.task import Task

Split = Literal["train", "dev", "test"]
SPLITS: tuple[Split, ...] = ("train", "dev", "test")
SAMPLE_DIR = DATA_DIR / "sample_task"


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    label: str | None  # None: unlabelled (for teacher labelling)
    split: Split = "train"


@dataclass(frozen=True)
class Dataset:
    name: str
    task: Task
    examples: tuple[Example, ...]
    parent_hash: str | None = field(default=None, compare=False)

    @property
    def hash(self) -> str:
        """Content hash of task + examples + split: same content, same version, wherever it came from."""
        payload = to_json(
            {
                "task": self.task.model_dump(),
                "examples": [[e.id, e.text, e.label, e.split] for e in self.examples],
            }
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    def split(self, name: Split) -> list[Example]:
        return [e for e in self.examples if e.split == name]

    @property
    def labelled(self) -> list[Example]:
        return [e for e in self.examples if e.label is not None]

    def counts(self) -> dict[str, Counter]:
        """Examples per label in each split."""
        return {s: Counter(e.label for e in self.split(s)) for s in SPLITS}

    def with_examples(self, examples: Iterable[Example], name: str | None = None) -> "Dataset":
        """A new version derived from this one."""
        return replace(self, examples=tuple(examples), name=name or self.name, parent_hash=self.hash)


def stratified_split(
    examples: list[Example], dev: float = 0.15, test: float = 0.25, seed: int = 7
) -> list[Example]:
    """Assign train/dev/test stratified by label (scikit-learn), deterministic for a seed.

    Unlabelled examples stay in train. Classes too small to stratify fall back to
    a plain random split rather than failing.
    """
    from sklearn.model_selection import train_test_split

    labelled = [e for e in examples if e.label is not None]
    unlabelled = [replace(e, split="train") for e in examples if e.label is None]
    if len(labelled) < 3:
        return [replace(e, split="train") for e in labelled] + unlabelled
    labels = [e.label for e in labelled]

    def _strat(ys: list[str], n_holdout: float | int) -> list[str] | None:
        counts = Counter(ys)
        n = n_holdout if isinstance(n_holdout, int) else int(round(n_holdout * len(ys)))
        return ys if min(counts.values()) >= 2 and n >= len(counts) and len(ys) - n >= len(counts) else None

    idx = list(range(len(labelled)))
    rest, test_idx = train_test_split(idx, test_size=test, random_state=seed, stratify=_strat(labels, test))
    rest_labels = [labels[i] for i in rest]
    dev_share = dev / (1 - test)
    train_idx, dev_idx = train_test_split(
        rest, test_size=dev_share, random_state=seed, stratify=_strat(rest_labels, dev_share)
    )
    split_of = {i: "train" for i in train_idx} | {i: "dev" for i in dev_idx} | {i: "test" for i in test_idx}
    return [replace(e, split=split_of[i]) for i, e in enumerate(labelled)] + unlabelled


# --- the bundled sample task ---------------------------------------------------


def load_sample() -> Dataset:
    """The support-ticket task shipped in data/sample_task (its split is fixed in the CSV)."""
    task = Task.load(SAMPLE_DIR / "task.json")
    with open(SAMPLE_DIR / "tickets.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    examples = tuple(Example(id=r["id"], text=r["text"], label=r["label"], split=r["split"]) for r in rows)
    return Dataset(name="Sample: support tickets", task=task, examples=examples)


# --- persistence ---------------------------------------------------------------


def save(store: Store, dataset: Dataset, note: str = "") -> str:
    """Store a dataset version (idempotent: an identical version is stored once). Returns its hash."""
    h = dataset.hash
    with store.transaction() as conn:
        if conn.execute("SELECT 1 FROM datasets WHERE hash = ?", (h,)).fetchone():
            return h
        conn.execute(
            "INSERT INTO datasets(hash, name, task_json, parent_hash, note) VALUES (?, ?, ?, ?, ?)",
            (h, dataset.name, dataset.task.model_dump_json(), dataset.parent_hash, note),
        )
        conn.executemany(
            "INSERT INTO examples(dataset_hash, idx, example_id, text, label, split) VALUES (?, ?, ?, ?, ?, ?)",
            [(h, i, e.id, e.text, e.label, e.split) for i, e in enumerate(dataset.examples)],
        )
    return h


def load(store: Store, hash_or_prefix: str) -> Dataset:
    """A stored version by hash (a unique prefix is enough, as with git)."""
    rows = store.query("SELECT * FROM datasets WHERE hash LIKE ? || '%'", (hash_or_prefix,))
    if not rows:
        raise KeyError(f"no dataset version {hash_or_prefix!r} in the store")
    if len(rows) > 1:
        raise KeyError(f"dataset prefix {hash_or_prefix!r} is ambiguous ({len(rows)} versions)")
    row = rows[0]
    examples = tuple(
        Example(id=r["example_id"], text=r["text"], label=r["label"], split=r["split"])
        for r in store.query("SELECT * FROM examples WHERE dataset_hash = ? ORDER BY idx", (row["hash"],))
    )
    ds = Dataset(
        name=row["name"], task=Task.model_validate_json(row["task_json"]), examples=examples,
        parent_hash=row["parent_hash"],
    )
    if ds.hash != row["hash"]:  # a hand-edited database would silently change results
        raise ValueError(f"dataset {row['hash']} does not match its content hash {ds.hash}")
    return ds


def list_versions(store: Store) -> list[dict]:
    return [
        dict(r)
        for r in store.query(
            "SELECT d.hash, d.name, d.parent_hash, d.note, d.created_at, COUNT(e.idx) AS examples"
            " FROM datasets d LEFT JOIN examples e ON e.dataset_hash = d.hash"
            " GROUP BY d.hash ORDER BY d.created_at"
        )
    ]
