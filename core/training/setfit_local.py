"""Local backend 1: SetFit on the embedded MiniLM — contrastive fine-tuning of the body, logistic-regression head.

`SetFitClassifier` is an estimator (fit / predict / predict_proba / save /
load); `train_job` runs it for a registered Job, streaming progress and loss
to the store. torch is imported inside the functions: this module is safe to
import anywhere, but it only trains in a worker process or the CLI.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Callable, Sequence

from core.data.dataset import Dataset, Example
from core.encoder import minilm_path, prepare_torch_env
from core.training import SETFIT_BASE
from core.training.chat import training_examples
from core.training.options import SETFIT_EVAL_STEPS, SETFIT_EVALS, SetFitOptions, setfit_plan

MANIFEST = "ftlab.json"


class SetFitClassifier:
    """A SetFit model with string labels. Labels are mapped to integer ids in the task's order, so that
    `predict_proba` columns follow `labels`."""

    def __init__(self, options: SetFitOptions | None = None, model=None, labels: Sequence[str] | None = None):
        self.options = options or SetFitOptions()
        self.model = model
        self.labels = list(labels or [])

    # -- training
    def fit(self, texts: Sequence[str], labels: Sequence[str], *, dev: tuple[Sequence[str], Sequence[str]] | None = None,
            label_order: Sequence[str] | None = None, callbacks: Sequence = (),
            on_phase: Callable[[str], None] | None = None) -> "SetFitClassifier":
        prepare_torch_env()
        from datasets import Dataset as HFDataset
        from setfit import SetFitModel, Trainer, TrainingArguments

        present = set(labels)
        self.labels = [lab for lab in (label_order or sorted(present)) if lab in present]
        if len(self.labels) < 2:
            raise ValueError("SetFit needs examples of at least two labels")
        ids = {lab: i for i, lab in enumerate(self.labels)}
        phase = on_phase or (lambda name: None)

        phase("loading MiniLM")
        self.model = SetFitModel.from_pretrained(str(minilm_path()), labels=self.labels)

        steps, _ = setfit_plan([Example(str(i), t, lab) for i, (t, lab) in enumerate(zip(texts, labels))], self.options)
        dev_pairs = [(t, lab) for t, lab in zip(*dev) if lab in ids] if dev else []
        eval_ds = None
        if len({lab for _, lab in dev_pairs}) >= 2:
            eval_ds = HFDataset.from_dict({"text": [t for t, _ in dev_pairs], "label": [ids[lab] for _, lab in dev_pairs]})
        train_ds = HFDataset.from_dict({"text": list(texts), "label": [ids[lab] for lab in labels]})
        with tempfile.TemporaryDirectory(prefix="setfit-") as out:
            args = TrainingArguments(
                output_dir=out, batch_size=self.options.batch_size, num_epochs=self.options.epochs,
                max_steps=steps, num_iterations=self.options.num_iterations,
                body_learning_rate=self.options.body_learning_rate, seed=self.options.seed,
                logging_steps=max(1, steps // 50), save_strategy="no", report_to="none", show_progress_bar=False,
                # Validation loss on dev pairs, a few batches at a few points: the curve without the cost.
                # (eval_steps alone switches evaluation on, so it is only given with a dev set)
                **({"eval_strategy": "steps", "eval_steps": max(1, steps // SETFIT_EVALS),
                    "eval_max_steps": SETFIT_EVAL_STEPS} if eval_ds is not None else {}),
            )
            # A metric function, never the default "accuracy" string: that one is fetched from the hub.
            trainer = Trainer(model=self.model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
                              metric=_accuracy, callbacks=list(callbacks))
            phase(f"training the MiniLM body ({steps} steps)")
            trainer.train_embeddings(*trainer.dataset_to_parameters(train_ds),
                                     *(trainer.dataset_to_parameters(eval_ds) if eval_ds is not None else []), args=args)
            phase("fitting the classification head")
            trainer.train_classifier(*trainer.dataset_to_parameters(train_ds), args=args)
        return self

    # -- predicting
    def _require_model(self):
        if self.model is None:
            raise RuntimeError("SetFitClassifier: fit or load a model first")
        return self.model

    def predict(self, texts: Sequence[str]) -> list[str]:
        ids = self._require_model().predict(list(texts), use_labels=False, as_numpy=True, show_progress_bar=False)
        return [self.labels[int(i)] for i in ids]

    def predict_proba(self, texts: Sequence[str]):
        """Probabilities as a numpy array, one column per label in `labels` order."""
        return self._require_model().predict_proba(list(texts), as_numpy=True, show_progress_bar=False)

    # -- persistence
    def save(self, path: str | Path, manifest: dict | None = None) -> Path:
        path = Path(path)
        self._require_model().save_pretrained(str(path))
        (path / MANIFEST).write_text(json.dumps(
            {"backend": "local-setfit", "base_model": SETFIT_BASE, "labels": self.labels,
             "options": self.options.model_dump(), **(manifest or {})}, indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "SetFitClassifier":
        path = Path(path)
        if not (path / MANIFEST).is_file():
            raise FileNotFoundError(f"{path} is not a SetFit model saved by the lab (no {MANIFEST})")
        prepare_torch_env()
        from setfit import SetFitModel

        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        model = SetFitModel.from_pretrained(str(path), local_files_only=True)
        return cls(SetFitOptions.model_validate(manifest.get("options", {})), model, manifest["labels"])


def _accuracy(y_pred, y_true) -> dict[str, float]:
    from sklearn.metrics import accuracy_score

    return {"accuracy": float(accuracy_score(y_true, y_pred))}


def train_job(job, dataset: Dataset, reporter, models_dir: Path) -> tuple[str, dict]:
    """Train the job's SetFit model on the dataset's train split; returns (model path, summary)."""
    from core.training.progress import hf_callback

    opts = SetFitOptions.model_validate(job.params)
    train = training_examples(dataset, opts.max_examples_per_class, opts.seed)
    dev = [e for e in dataset.split("dev") if e.label is not None]
    spans = {"loading MiniLM": (0.0, 0.05), "fitting the classification head": (0.9, 0.95)}

    def on_phase(name: str) -> None:
        reporter.message(name)
        reporter.phase(*spans.get(name, (0.05, 0.9)), note=name)
        reporter.check_cancel(every_s=0)

    clf = SetFitClassifier(opts).fit(
        [e.text for e in train], [e.label for e in train], dev=([e.text for e in dev], [e.label for e in dev]),
        label_order=dataset.task.label_names, callbacks=[hf_callback(reporter)], on_phase=on_phase,
    )
    summary: dict = {"train_examples": len(train), "labels": clf.labels}
    if dev:
        reporter.phase(0.95, 0.98, "dev accuracy")
        summary["dev_accuracy"] = _accuracy(clf.predict([e.text for e in dev]), [e.label for e in dev])["accuracy"]
        summary["dev_examples"] = len(dev)
    path = clf.save(models_dir / job.id, {"job_id": job.id, "dataset_hash": dataset.hash, "task": dataset.task.name,
                                          "summary": summary})
    return str(path), summary
