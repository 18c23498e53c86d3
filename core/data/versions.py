"""Versions: editing a dataset (relabel, drop, redact, re-split) always saves a new version; the old one stays.

The test split is frozen once an evaluation used it: an edit that changes a
test example still saves (as a new version, like every edit) but says that
results measured on the old test split stay tied to the old version, and a
re-split keeps the used test examples where they are.

Whether runs used a test split is the caller's to say (core.evaluation.runs.test_runs
counts them): data sits below evaluation and never reads the runs itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping

from core.data import dataset as datasets
from core.data import pii
from core.data.dataset import Dataset, Example
from core.data.report import DataReport, rejected_answers, to_dataset
from core.store import Store


@dataclass(frozen=True)
class SavedVersion:
    hash: str
    parent: str | None
    message: str              # what the user is told
    test_changed: int = 0     # test examples added, removed or changed relative to the parent
    test_was_frozen: bool = False


def save_import(store: Store, report: DataReport, name: str, file_name: str) -> SavedVersion:
    """Store an import's usable rows as a new dataset (errors left out), with the rejected answers of a
    preference file kept as its preference pairs."""
    new = to_dataset(report, name=name)
    h = save_version(store, None, new, f"imported {file_name}").hash
    rejected = rejected_answers(report, new)
    if rejected:
        save_preferences(store, h, rejected)
    return SavedVersion(h, None, f"Saved {len(new.examples)} examples as version {h[:8]}.")



def test_changes(old: Dataset, new: Dataset) -> int:
    """Test examples added, removed or changed (text or label) between two versions, matched by id."""
    before = {e.id: (e.text, e.label) for e in old.split("test")}
    after = {e.id: (e.text, e.label) for e in new.split("test")}
    return sum(before.get(k) != after.get(k) for k in before.keys() | after.keys())


def save_version(store: Store, parent: Dataset | None, new: Dataset, note: str, *,
                 test_runs: int | None = None) -> SavedVersion:
    """Store `new` (derived from `parent`), carry its parent's preference pairs over, and say what happened.

    `test_runs`: how many evaluation runs used the parent's test split (core.evaluation.runs.test_runs);
    required with a parent, since a used test split is frozen.
    """
    if parent is not None and test_runs is None:
        raise TypeError("save_version(parent=…) needs test_runs=: how many runs used the parent's test split")
    h = datasets.save(store, new, note=note)
    if parent is None:
        return SavedVersion(h, None, f"Saved version {h[:8]} ({len(new.examples)} examples).")
    carry_preferences(store, parent, new)
    if h == parent.hash:
        return SavedVersion(h, parent.hash, f"Nothing changed: still version {h[:8]}.")
    changed = test_changes(parent, new)
    used = test_runs
    message = f"Saved new version {h[:8]} ({note}); version {parent.hash[:8]} is kept."
    if changed and used:
        message = (
            f"The test split of {parent.hash[:8]} was used by {used} evaluation run(s), so it is frozen. "
            f"This edit changes {changed} test example(s) and is saved as new version {h[:8]}; "
            f"earlier results stay tied to {parent.hash[:8]} and are not comparable with runs on {h[:8]}."
        )
    return SavedVersion(h, parent.hash, message, test_changed=changed, test_was_frozen=bool(used))


# --- edits: pure functions from examples to examples ------------------------------------------


def relabel(examples: Iterable[Example], labels: Mapping[str, str | None]) -> list[Example]:
    return [replace(e, label=labels[e.id]) if e.id in labels else e for e in examples]


def drop(examples: Iterable[Example], ids: Iterable[str]) -> list[Example]:
    gone = set(ids)
    return [e for e in examples if e.id not in gone]


def table_edits(examples: Iterable[Example], rows: Iterable[Mapping]) -> dict[str, tuple[str, str | None]]:
    """What an edited table of examples changed: id -> (text, label), for the changed rows only.

    Rows carry `id`, `text` and `label` as a table editor returns them: a blank or missing label (None,
    NaN, "") means unlabelled; a cleared text keeps the example's text (dropping is a fix of its own).
    """
    by_id = {e.id: e for e in examples}
    changed = {}
    for row in rows:
        old = by_id.get(row.get("id"))
        if old is None:
            continue
        text = row.get("text") if isinstance(row.get("text"), str) and row.get("text") else old.text
        label = row.get("label") if isinstance(row.get("label"), str) and row.get("label") else None
        if text != old.text or label != (old.label or None):
            changed[old.id] = (text, label)
    return changed


def apply_edits(examples: Iterable[Example], edits: Mapping[str, tuple[str, str | None]]) -> list[Example]:
    """The examples with `table_edits` applied; the others unchanged, in their order."""
    return [replace(e, text=edits[e.id][0], label=edits[e.id][1]) if e.id in edits else e for e in examples]


def redact(examples: Iterable[Example], ids: Iterable[str] | None = None) -> list[Example]:
    """PII in the texts (of the given ids, default all) replaced by typed placeholders."""
    only = None if ids is None else set(ids)
    return [replace(e, text=pii.redact(e.text)) if only is None or e.id in only else e for e in examples]


def resplit(dataset: Dataset, frozen: bool = False, seed: int = 7, dev: float = 0.15, test: float = 0.25) -> list[Example]:
    """A stratified train/dev/test split with a seed; if the test split is `frozen` (runs used it:
    core.evaluation.runs.test_runs), its examples stay in test."""
    if frozen and dataset.split("test"):
        fixed = dataset.split("test")
        rest = [e for e in dataset.examples if e.split != "test"]
        # The rest goes to train/dev only: its stratified "test" share becomes dev, and the
        # minimal dev share stratified_split insists on (one example) goes back to train.
        share = dev / (1 - test) if test < 1 else dev
        redone = datasets.stratified_split(rest, dev=1e-9, test=share, seed=seed)
        redone = [replace(e, split="dev" if e.split == "test" else "train") for e in redone]
        return _in_order(dataset.examples, fixed + redone)
    return _in_order(dataset.examples, datasets.stratified_split(list(dataset.examples), dev=dev, test=test, seed=seed))


def _in_order(original: Iterable[Example], changed: Iterable[Example]) -> list[Example]:
    """stratified_split groups labelled before unlabelled; keep the user's row order instead."""
    by_id = {e.id: e for e in changed}
    return [by_id[e.id] for e in original]


# --- preference pairs (DPO) ----------------------------------------------------------------------


def save_preferences(store: Store, dataset_hash: str, rejected: Mapping[str, str]) -> None:
    with store.transaction() as conn:
        conn.executemany(
            "INSERT OR REPLACE INTO preferences(dataset_hash, example_id, rejected) VALUES (?, ?, ?)",
            [(dataset_hash, k, v) for k, v in rejected.items()],
        )


def preferences(store: Store, dataset_hash: str) -> dict[str, str]:
    rows = store.query("SELECT example_id, rejected FROM preferences WHERE dataset_hash = ?", (dataset_hash,))
    return {r["example_id"]: r["rejected"] for r in rows}


def preference_pairs(store: Store, dataset: Dataset, split: str | None = "train") -> list[tuple[Example, str]]:
    rejected = preferences(store, dataset.hash)
    examples = dataset.examples if split is None else dataset.split(split)
    return [(e, rejected[e.id]) for e in examples if e.id in rejected and e.label is not None]


def carry_preferences(store: Store, parent: Dataset, new: Dataset) -> None:
    """Pairs follow an example into a new version while its text and label are unchanged."""
    rejected = preferences(store, parent.hash)
    if not rejected:
        return
    old = {e.id: (e.text, e.label) for e in parent.examples}
    keep = {e.id: rejected[e.id] for e in new.examples if e.id in rejected and old.get(e.id) == (e.text, e.label)}
    if keep:
        save_preferences(store, new.hash, keep)
