"""Approach: one configured way to classify, with a scikit-learn feel.

    approach = approach_from_spec("local:rag:k=8")      # configure (validated here)
    approach.fit(dataset.split("train"), dataset.task)  # optional learning / exemplar choice
    predictions = approach.predict(dataset.split("test"))

Every approach has a `spec` (its canonical name), a `backend`, a `model` and a
`config()` — everything that changes its predictions, hashed into the Run so a
changed approach is a new run and an unchanged one resumes.

Specs (`backend:…`, parameters as trailing `key=value` segments):

    local:zero-shot                    label-description embeddings (MiniLM)
    local:few-shot:k=8                 class prototypes of k train examples per class
    local:rag:k=8                      k nearest train examples vote
    classical:tfidf-lr                 TF-IDF + logistic regression (light tier)
    openai:<model>:zero-shot           any model id, `ft:` ones included; colons in ids are fine
    openai:<model>:few-shot:k=N        N class-balanced exemplars in the prompt
    openai:<model>:rag:k=N             N nearest train examples in the prompt

The registry that turns a spec into an Approach (`approach_from_spec`,
`parse_spec`, `@register`) lives in `core.backends`.
"""

from __future__ import annotations

import hashlib
import inspect
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from core import specs
from core.data.dataset import Example
from core.store import to_json
from core.data.task import Task


@dataclass(frozen=True)
class Prediction:
    """One example's answer. `label` is None when the output was not a label (or the call failed)."""

    label: str | None
    raw_output: str = ""
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    error: str | None = None  # the call failed (after retries): no answer was obtained, nothing was paid

    @property
    def invalid(self) -> bool:
        """Answered, but not with one of the labels."""
        return self.label is None and self.error is None


# --- specs ----------------------------------------------------------------------

@dataclass(frozen=True)
class Spec:
    """A parsed approach spec. `model` is the model id (openai) or the positional argument (a path, a job id)."""

    backend: str
    method: str
    model: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    arg: str = ""  # model-first backends only: a positional after the method (`openai:<model>:prompt:<hash>`)

    def __str__(self) -> str:
        if self.backend in MODEL_FIRST_BACKENDS:
            segments = [self.model, self.method] + ([self.arg] if self.arg else [])
        else:
            segments = [self.method] + ([self.model] if self.model else [])
        return specs.join(self.backend, segments, self.params)


# Backends whose spec names the model before the method: `openai:<model>:<method>`.
MODEL_FIRST_BACKENDS = {"openai"}


# --- the base class -------------------------------------------------------------


def config_hash(config: dict) -> str:
    return hashlib.sha256(to_json(config).encode("utf-8")).hexdigest()[:16]


class Approach(ABC):
    """Base class: subclasses set `backend`/`method`, take their parameters as keyword arguments,
    and implement `_fit` and `_predict_batch` (or override `predict_stream` for concurrent backends).

    `params()` must return every constructor parameter that changes predictions; `config()`
    adds the identity (backend, method, model) and is what the Run hashes.
    """

    backend: str = ""
    method: str = ""
    model: str = ""
    arg: str = ""
    model_in_spec: bool = True  # False where the model is implied by the method (the local encoder, TF-IDF)
    backend_options: tuple[str, ...] = ()  # constructor arguments that come from the caller, never from a spec
    batch_size: int = 64  # granularity of progress for batch-wise approaches

    task: Task | None = None

    # -- configuration
    @classmethod
    def from_spec(cls, spec: Spec, **backend_options: Any) -> "Approach":
        """Construct from a spec; `spec.params` are validated against the constructor's signature."""
        sig = inspect.signature(cls.__init__)
        skip = {"self", "model", "arg", *cls.backend_options}
        accepted = [p for p in sig.parameters if p not in skip and not p.startswith("_")]
        unknown = set(spec.params) - set(accepted)
        if unknown:
            raise ValueError(
                f"{spec.backend}:{spec.method} does not take {', '.join(sorted(unknown))}; "
                f"it takes {', '.join(accepted) or 'no parameters'}"
            )
        kwargs = dict(spec.params)
        if "model" in sig.parameters:
            kwargs["model"] = spec.model
        elif spec.model:
            raise ValueError(f"{spec.backend}:{spec.method} takes no model argument (got {spec.model!r})")
        if "arg" in sig.parameters:
            kwargs["arg"] = spec.arg
        elif spec.arg:
            raise ValueError(f"{spec.backend}:{spec.method} takes no argument after the method (got {spec.arg!r})")
        options = {k: v for k, v in backend_options.items() if k in sig.parameters and k not in kwargs}
        return cls(**kwargs, **options)

    def params(self) -> dict[str, Any]:
        """The parameters that change predictions (override; defaults to none)."""
        return {}

    @property
    def spec(self) -> str:
        shown = {k: v for k, v in self.params().items() if k in self.spec_params()}
        return str(Spec(self.backend, self.method, self.model if self.model_in_spec else "", shown, arg=self.arg))

    def spec_params(self) -> set[str]:
        """Which params() appear in the spec (the rest are recorded in config only)."""
        return set(self.params())

    def config(self) -> dict[str, Any]:
        identity = {"backend": self.backend, "method": self.method, "model": self.model}
        return identity | ({"arg": self.arg} if self.arg else {}) | self.params()

    @property
    def config_hash(self) -> str:
        return config_hash(self.config())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec}>"

    # -- learning
    def fit(self, train: Sequence[Example], task: Task) -> "Approach":
        """Learn from the labelled train examples (prototypes, an index, exemplars, a classifier)."""
        labelled = [e for e in train if e.label is not None]
        unknown = sorted({e.label for e in labelled} - set(task.label_names))
        if unknown:
            raise ValueError(f"train examples carry labels the task does not define: {', '.join(unknown)}")
        self.task = task
        self._fit(labelled)
        return self

    def _fit(self, train: list[Example]) -> None:  # noqa: B027 — fitting is optional
        pass

    def _require_fit(self) -> Task:
        if self.task is None:
            raise RuntimeError(f"{self.spec}: call fit(train, task) before predict")
        return self.task

    # -- predicting
    def predict(self, examples: Sequence[Example]) -> list[Prediction]:
        out: list[Prediction | None] = [None] * len(examples)
        for i, pred in self.predict_stream(examples):
            out[i] = pred
        return out  # type: ignore[return-value]

    def predict_stream(self, examples: Sequence[Example]) -> Iterator[tuple[int, Prediction]]:
        """(position, prediction) pairs as they complete — possibly out of order. The Run stores each at once.

        Closing the generator early stops the work (the page's stop button, a killed run).
        """
        self._require_fit()
        for start in range(0, len(examples), self.batch_size):
            batch = list(examples[start:start + self.batch_size])
            t0 = time.perf_counter()
            preds = self._predict_batch([e.text for e in batch])
            # Batched local models: the honest per-call latency is the batch's time shared out.
            per = (time.perf_counter() - t0) * 1000 / max(len(batch), 1)
            for j, p in enumerate(preds):
                yield start + j, p if p.latency_ms is not None else _with_latency(p, per)

    @abstractmethod
    def _predict_batch(self, texts: list[str]) -> list[Prediction]:
        ...


def _with_latency(p: Prediction, ms: float) -> Prediction:
    from dataclasses import replace

    return replace(p, latency_ms=ms)
