"""The models the Train page fine-tunes on this machine, as Approaches Evaluate can run.

    local:setfit:<job-id | model folder>    SetFit (MiniLM body + logistic-regression head, averaged with
                                            TF-IDF + LR when the model was trained with the blend)
    local:lora:<job-id | model folder>      Gemma 3 270M + LoRA adapter, scoring the label strings

A job id is looked up in the store (`python -m core jobs` lists them); a folder
must hold a model the lab saved (its `ftlab.json` manifest). A relative folder not found from the current
directory is looked up from the project's root, so a model shipped in data/ — the pre-loaded LoRA adapter,
`local:lora:data/results/models/gemma-lora-sample` — is found wherever the lab runs; its config names it
relative to the root, so the run's key is the same on every machine. Models load once
per process (a LoRA model holds ~1 GB). torch is imported on first use only.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from core.training import jobs
from core.approach import Approach, Prediction
from core.backends import register, register_suggestions
from core.data.dataset import Example

MANIFEST = "ftlab.json"
_BACKEND_OF = {"setfit": "local-setfit", "lora": "local-lora"}


def resolve_model_dir(ref: str, method: str, store=None) -> Path:
    """A job id (from the store, or the default workspace) or a model folder → the saved model's folder."""
    from core.config import PROJECT_ROOT

    path = Path(ref).expanduser()
    if not path.is_absolute() and not (path / MANIFEST).is_file() and (PROJECT_ROOT / path / MANIFEST).is_file():
        path = PROJECT_ROOT / path
    if not (path / MANIFEST).is_file():
        if store is None:
            from core.store import open_store

            store = open_store()
        try:
            job = jobs.get(store, ref)
        except KeyError:
            raise ValueError(f"local:{method}:{ref} — no such trained model: give a job id from "
                             f"`python -m core jobs` or the folder of a model the lab saved") from None
        if job.backend != _BACKEND_OF[method]:
            raise ValueError(f"job {ref} trained a {job.backend} model; use its own spec {job.approach_spec or ''}")
        if job.status != "succeeded" or not job.model_ref:
            raise ValueError(f"job {ref} is {job.status}: it has no model to evaluate")
        path = Path(job.model_ref)
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("backend") != _BACKEND_OF[method]:
        raise ValueError(f"{path} holds a {manifest.get('backend')} model, not {_BACKEND_OF[method]}")
    return path.resolve()


def _shown_path(path: Path) -> str:
    """A model folder inside the project (a shipped model) relative to its root; any other one absolute."""
    from core.config import PROJECT_ROOT

    try:
        return str(path.relative_to(PROJECT_ROOT.resolve()))
    except ValueError:
        return str(path)


@functools.lru_cache(maxsize=3)
def _load(method: str, path: str, models_dir: str | None = None):
    if method == "setfit":
        from core.training.setfit_local import SetFitClassifier

        return SetFitClassifier.load(path)
    from core.training.lora_local import LoraClassifier

    # The base model comes from the workspace's models folder (or $FTLAB_BASE_MODELS), never from beside a
    # shipped adapter.
    return LoraClassifier.load(path, Path(models_dir) if models_dir else None)


class _FineTunedLocal(Approach):
    backend = "local"

    def __init__(self, model: str, store=None):
        self.model = model
        self.store = store
        self._path = resolve_model_dir(model, self.method, store)
        manifest_text = (self._path / MANIFEST).read_text(encoding="utf-8")
        self._manifest = json.loads(manifest_text)
        # A job's folder is written once; the manifest's hash still tells two models at one path apart.
        self._fingerprint = hashlib.sha256(manifest_text.encode()).hexdigest()[:16]

    def params(self) -> dict[str, Any]:
        return {"model_dir": _shown_path(self._path), "fingerprint": self._fingerprint,
                "trained_on": self._manifest.get("dataset_hash")}

    def spec_params(self) -> set[str]:
        return set()  # the spec stays `local:<method>:<job-id>`; the folder and fingerprint go into the config

    def _model(self):
        models_dir = None
        if self.method == "lora":
            from core.backends.gemma import default_models_dir

            models_dir = str(default_models_dir(self.store))
        return _load(self.method, str(self._path), models_dir)

    def _fit(self, train: list[Example]) -> None:
        """Nothing to learn (the Train page trained it); check that it speaks this task's labels."""
        unknown = sorted(set(self._manifest.get("labels", [])) - set(self._require_fit().label_names))
        if unknown:
            raise ValueError(f"{self.spec} was trained on labels this task does not have: {', '.join(unknown)}")

    def _predict_batch(self, texts: list[str]) -> list[Prediction]:
        labels = self._model().predict(texts)
        return [Prediction(label=lab, raw_output=lab, cost_usd=0.0) for lab in labels]  # this machine: no API cost


def _short(model: str) -> str:
    """A trained model's folder name (its job), not the whole workspace path."""
    return model.rstrip("/").rsplit("/", 1)[-1] or model


_MANIFESTS: dict[tuple[str, str], dict] = {}


def _manifest_of(ref: str, method: str) -> dict:
    """A saved model's manifest, for its name in words (whether SetFit blends TF-IDF, how many examples it was
    trained on). A model that cannot be found (yet) gives {}; a found one is remembered (a folder is written
    once)."""
    if (ref, method) not in _MANIFESTS:
        try:
            path = resolve_model_dir(ref, method)
            _MANIFESTS[ref, method] = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        except Exception:  # no such job or folder, no workspace: words only, never an error
            return {}
    return _MANIFESTS[ref, method]


def _trained_on(manifest: dict) -> str:
    n = (manifest.get("summary") or {}).get("train_examples")
    return f" on {n:,} examples" if n else ""


def _setfit_words(s) -> str:
    m = _manifest_of(s.model, "setfit")
    blend = " + TF-IDF blend" if m.get("tfidf_blend") else ""
    return f"SetFit (MiniLM) fine-tuned{_trained_on(m)}{blend} · {_short(s.model)}"


def _lora_words(s) -> str:
    return f"Gemma 3 270M · LoRA fine-tuned{_trained_on(_manifest_of(s.model, 'lora'))} · {_short(s.model)}"


@register("local", "setfit", family="fine-tuned", model="all-MiniLM-L6-v2", words=_setfit_words)
class LocalSetFit(_FineTunedLocal):
    method = "setfit"
    batch_size = 64


@register("local", "lora", family="fine-tuned", model="gemma-3-270m", words=_lora_words)
class LocalLora(_FineTunedLocal):
    method = "lora"
    batch_size = 8  # ~0.5 s per text: small batches keep the progress bar moving


@register_suggestions
def trained_models(store, dataset) -> list[str]:
    """The models trained on this machine whose labels this dataset's task has, newest first. (Hosted
    fine-tunes need an endpoint and cost money per call: the Train page sends them to Evaluate explicitly.)"""
    labels = set(dataset.task.label_names)
    out = []
    for version in jobs.models(store, include_baselines=False):
        if not version.approach_spec.startswith("local:"):
            continue
        row = store.query_one("SELECT task_json FROM datasets WHERE hash = ?", (version.dataset_hash,))
        if row is None:
            continue
        trained = {lab["name"] for lab in json.loads(row["task_json"])["labels"]}
        if trained <= labels:
            out.append(version.approach_spec)
    return out
