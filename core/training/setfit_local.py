"""Local backend 1: SetFit on the embedded MiniLM — contrastive fine-tuning of the body (a few dozen steps, stopped
by a time budget), a logistic-regression head (C cross-validated) on every training example, averaged with TF-IDF + LR.

Why these defaults: docs/train.md (the sweep of issue 12).

`SetFitClassifier` is an estimator (fit / predict / predict_proba / save /
load); `train_job` runs it for a registered Job, streaming progress and loss
to the store. torch is imported inside the functions: this module is safe to
import anywhere, but it only trains in a worker process or the CLI.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
import time
from pathlib import Path
from typing import Callable, Sequence

from core.data.dataset import Dataset, Example
from core.encoder import minilm_path, prepare_torch_env
from core.training import SETFIT_BASE
from core.training.chat import training_examples
from core.training.options import (HEAD_C_FALLBACK, HEAD_CS, HEAD_CV_FOLDS, HEAD_CV_MIN_PER_CLASS,
                                   SETFIT_EVAL_STEPS, SETFIT_EVALS, SetFitOptions, body_examples, setfit_plan)

MANIFEST = "ftlab.json"
TFIDF_FILE = "tfidf_lr.joblib"


class SetFitClassifier:
    """A SetFit model with string labels. Labels are mapped to integer ids in the task's order, so that
    `predict_proba` columns follow `labels`. With `tfidf_blend` the probabilities are the 50/50 average of the
    SetFit head's and a TF-IDF + logistic regression's fitted on the same examples (saved with the model)."""

    def __init__(self, options: SetFitOptions | None = None, model=None, labels: Sequence[str] | None = None,
                 tfidf=None):
        self.options = options or SetFitOptions()
        self.model = model
        self.labels = list(labels or [])
        self.tfidf = tfidf
        self.fit_info: dict = {}

    # -- training
    def fit(self, texts: Sequence[str], labels: Sequence[str], *, dev: tuple[Sequence[str], Sequence[str]] | None = None,
            label_order: Sequence[str] | None = None, callbacks: Sequence = (),
            on_phase: Callable[[str], None] | None = None) -> "SetFitClassifier":
        prepare_torch_env()
        from datasets import Dataset as HFDataset
        from setfit import SetFitModel, Trainer, TrainingArguments

        opts = self.options
        present = set(labels)
        self.labels = [lab for lab in (label_order or sorted(present)) if lab in present]
        if len(self.labels) < 2:
            raise ValueError("SetFit needs examples of at least two labels")
        ids = {lab: i for i, lab in enumerate(self.labels)}
        phase = on_phase or (lambda name: None)

        phase("loading MiniLM")
        self.model = SetFitModel.from_pretrained(
            str(minilm_path()), labels=self.labels, normalize_embeddings=True,
            head_params={"C": opts.head_c, "max_iter": 3000})
        self.model.model_body.max_seq_length = opts.max_seq_length

        examples = [Example(str(i), t, lab) for i, (t, lab) in enumerate(zip(texts, labels))]
        body = body_examples(examples, opts.body_examples_per_class, opts.seed)
        plan = setfit_plan(examples, opts, longest_pieces=_longest_pieces(self.model.model_body, [e.text for e in body],
                                                                          opts.max_seq_length))
        steps = plan.max_steps
        dev_pairs = [(t, lab) for t, lab in zip(*dev) if lab in ids] if dev else []
        eval_ds = None
        if len({lab for _, lab in dev_pairs}) >= 2:
            eval_ds = HFDataset.from_dict({"text": [t for t, _ in dev_pairs], "label": [ids[lab] for _, lab in dev_pairs]})
        body_ds = HFDataset.from_dict({"text": [e.text for e in body], "label": [ids[e.label] for e in body]})
        budget = TimeBudget(opts.target_minutes * 60)
        with tempfile.TemporaryDirectory(prefix="setfit-") as out:
            args = TrainingArguments(
                output_dir=out, batch_size=plan.batch, num_epochs=opts.epochs,
                max_steps=steps, num_iterations=opts.num_iterations,
                body_learning_rate=opts.body_learning_rate, seed=opts.seed,
                logging_steps=max(1, steps // 50), save_strategy="no", report_to="none", show_progress_bar=False,
                # Validation loss on dev pairs, a few batches at a few points: the curve without the cost.
                # (eval_steps alone switches evaluation on, so it is only given with a dev set)
                **({"eval_strategy": "steps", "eval_steps": max(1, steps // SETFIT_EVALS),
                    "eval_max_steps": SETFIT_EVAL_STEPS} if eval_ds is not None else {}),
            )
            # A metric function, never the default "accuracy" string: that one is fetched from the hub.
            trainer = Trainer(model=self.model, args=args, train_dataset=body_ds, eval_dataset=eval_ds,
                              metric=_accuracy, callbacks=[*callbacks, budget.callback()])
            phase(f"training the MiniLM body (≤ {steps} steps of {plan.batch} pairs, "
                  f"≤ {opts.target_minutes:g} min)")
            trainer.train_embeddings(*trainer.dataset_to_parameters(body_ds),
                                     *(trainer.dataset_to_parameters(eval_ds) if eval_ds is not None else []), args=args)
            phase("fitting the classification head")
            # The head learns from every example, not only the ones the pairs came from.
            self.model.model_head = logistic_head(opts.head_c, [ids[lab] for lab in labels])
            trainer.train_classifier(list(texts), [ids[lab] for lab in labels], args=args)
        if opts.tfidf_blend:
            phase("fitting the TF-IDF blend")
            self.tfidf = tfidf_pipeline().fit(list(texts), [ids[lab] for lab in labels])
        self.fit_info = {
            "body_steps": budget.steps, "body_seconds": round(budget.elapsed, 1),
            "s_per_step": round(budget.elapsed / budget.steps, 3) if budget.steps else None,
            "stopped_by": "time budget" if budget.stopped else ("max_steps" if steps < plan.natural else "all pairs"),
            "pair_batch": plan.batch, "longest_word_pieces": plan.longest_pieces,
            "body_examples": len(body), "head_examples": len(texts), "head_c": head_c_of(self.model.model_head),
            "head_c_chosen_by": "option" if opts.head_c else "cross-validation",
            "tfidf_blend": self.tfidf is not None,
        }
        return self

    # -- predicting
    def _require_model(self):
        if self.model is None:
            raise RuntimeError("SetFitClassifier: fit or load a model first")
        return self.model

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [self.labels[int(i)] for i in self.predict_proba(texts).argmax(axis=1)]

    def predict_proba(self, texts: Sequence[str]):
        """Probabilities as a numpy array, one column per label in `labels` order."""
        texts = list(texts)
        proba = self._require_model().predict_proba(texts, as_numpy=True, show_progress_bar=False)
        if self.tfidf is not None:
            proba = 0.5 * proba + 0.5 * self.tfidf.predict_proba(texts)
        return proba

    # -- persistence
    def save(self, path: str | Path, manifest: dict | None = None) -> Path:
        import joblib

        path = Path(path)
        self._require_model().save_pretrained(str(path))
        if self.tfidf is not None:
            joblib.dump(self.tfidf, path / TFIDF_FILE)
        (path / MANIFEST).write_text(json.dumps(
            {"backend": "local-setfit", "base_model": SETFIT_BASE, "labels": self.labels,
             "tfidf_blend": self.tfidf is not None, "options": self.options.model_dump(), **(manifest or {})},
            indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "SetFitClassifier":
        path = Path(path)
        if not (path / MANIFEST).is_file():
            raise FileNotFoundError(f"{path} is not a SetFit model saved by the lab (no {MANIFEST})")
        prepare_torch_env()
        import joblib
        from setfit import SetFitModel

        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        model = SetFitModel.from_pretrained(str(path), local_files_only=True)
        tfidf = joblib.load(path / TFIDF_FILE) if manifest.get("tfidf_blend") else None
        # Options saved by older versions lack today's fields; a model's own manifest says what it was.
        known = set(SetFitOptions.model_fields)
        options = SetFitOptions.model_validate({k: v for k, v in manifest.get("options", {}).items() if k in known})
        return cls(options, model, manifest["labels"], tfidf)


def logistic_head(head_c: float | None, y: Sequence[int]):
    """The classification head: logistic regression with the given C, or with C cross-validated on the training
    embeddings (stratified folds, accuracy) when no C is given and every class has enough examples. In the sweep
    the cross-validated C + TF-IDF blend was best or tied on every dataset (BANKING77 10-shot 86.2 vs 85.5 %)."""
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

    smallest = min(Counter(y).values())
    if head_c or smallest < HEAD_CV_MIN_PER_CLASS:
        return LogisticRegression(C=head_c or HEAD_C_FALLBACK, max_iter=3000)
    return LogisticRegressionCV(Cs=list(HEAD_CS), cv=min(HEAD_CV_FOLDS, smallest), max_iter=3000,
                                use_legacy_attributes=False)  # scikit-learn 1.10's attributes (C_ a float)


def head_c_of(head) -> float:
    """The C the fitted head uses (the cross-validated choice, or the one it was given)."""
    import numpy as np

    return float(np.ravel(head.C_)[0]) if hasattr(head, "C_") else float(head.C)


def tfidf_pipeline():
    """The same TF-IDF + logistic regression as the classical:tfidf-lr approach (word 1-2 + char_wb 2-5
    n-grams, C=10), fitted beside the SetFit head."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    return make_pipeline(make_union(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                                    TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
                         LogisticRegression(C=10.0, max_iter=2000))


def _longest_pieces(body, texts: Sequence[str], max_seq_length: int) -> int:
    """The longest text's word pieces (cut at max_seq_length): the padded length of the worst batch."""
    if not texts:
        return 1
    lengths = body.tokenizer(list(texts), truncation=True, max_length=max_seq_length)["input_ids"]
    return max(len(x) for x in lengths)


class TimeBudget:
    """Stops body training by wall clock: after each step, if one more step (at the mean step time measured
    so far) would end past the budget. The step time is measured on this run's own steps, never assumed."""

    def __init__(self, seconds: float):
        self.seconds, self.steps, self.elapsed, self.stopped = seconds, 0, 0.0, False
        self._t0: float | None = None

    def callback(self):
        from transformers import TrainerCallback

        budget = self

        class _Budget(TrainerCallback):
            def on_train_begin(self, args, state, control, **kw):
                budget._t0 = time.perf_counter()

            def on_step_end(self, args, state, control, **kw):
                budget.steps = state.global_step
                budget.elapsed = time.perf_counter() - (budget._t0 or time.perf_counter())
                if budget.elapsed + budget.elapsed / max(state.global_step, 1) > budget.seconds:
                    budget.stopped = state.global_step < state.max_steps
                    control.should_training_stop = True

        return _Budget()


def _accuracy(y_pred, y_true) -> dict[str, float]:
    from sklearn.metrics import accuracy_score

    return {"accuracy": float(accuracy_score(y_true, y_pred))}


def train_job(job, dataset: Dataset, reporter, models_dir: Path) -> tuple[str, dict]:
    """Train the job's SetFit model on the dataset's train split; returns (model path, summary)."""
    from core.training.progress import hf_callback

    opts = SetFitOptions.model_validate(job.params)
    train = training_examples(dataset, opts.max_examples_per_class, opts.seed)
    dev = [e for e in dataset.split("dev") if e.label is not None]
    spans = {"loading MiniLM": (0.0, 0.05), "fitting the classification head": (0.88, 0.92),
             "fitting the TF-IDF blend": (0.92, 0.95)}

    def on_phase(name: str) -> None:
        reporter.message(name)
        reporter.phase(*spans.get(name, (0.05, 0.88)), note=name)
        reporter.check_cancel(every_s=0)

    clf = SetFitClassifier(opts).fit(
        [e.text for e in train], [e.label for e in train], dev=([e.text for e in dev], [e.label for e in dev]),
        label_order=dataset.task.label_names, callbacks=[hf_callback(reporter)], on_phase=on_phase,
    )
    info = clf.fit_info
    reporter.message(
        f"body: {info['body_steps']} steps of {info['pair_batch']} pairs in {info['body_seconds']:.0f} s "
        f"(stopped by {info['stopped_by']}); head: C={info['head_c']:g} ({info['head_c_chosen_by']}) on all {info['head_examples']} examples"
        + (" + TF-IDF blend" if info["tfidf_blend"] else ""), dict(info))
    summary: dict = {"train_examples": len(train), "labels": clf.labels, **info}
    if dev:
        reporter.phase(0.95, 0.98, "dev accuracy")
        summary["dev_accuracy"] = _accuracy(clf.predict([e.text for e in dev]), [e.label for e in dev])["accuracy"]
        summary["dev_examples"] = len(dev)
    path = clf.save(models_dir / job.id, {"job_id": job.id, "dataset_hash": dataset.hash, "task": dataset.task.name,
                                          "summary": summary})
    return str(path), summary
