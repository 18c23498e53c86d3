"""A dataset from what a user names: 'sample', a file of any format the Dataset page imports, or a stored hash."""

from __future__ import annotations

from pathlib import Path

from core.data import dataset as datasets
from core.data.dataset import Dataset
from core.data.importer import read_file
from core.data.report import dataset_from_import
from core.store import Store


def resolve(store: Store, ref: str) -> Dataset:
    """A dataset from a CLI argument: 'sample', a file path, or a stored hash (prefix)."""
    if ref == "sample":
        ds = datasets.load_sample()
        datasets.save(store, ds)
        return ds
    path = Path(ref)
    if path.exists():
        # Any format the Dataset page imports; bad lines are left out (`python -m core validate` lists them).
        ds = dataset_from_import(read_file(path))
        datasets.save(store, ds)
        return ds
    return datasets.load(store, ref)
