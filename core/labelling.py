"""Teacher labelling (distillation): an approach labels the unlabelled rows; unsure answers wait for a human.

Any approach can teach: a large hosted model (`openai:<model>:few-shot:k=8`),
or the best local one. Confidence comes from the approach's own scores when it
has them (class probabilities of `classical:tfidf-lr`, label similarities of
the `local:*` approaches turned into a softmax); a chat model gives no
probability, so its answer is checked against a TF-IDF classifier fitted on
the labelled rows, and the probability that classifier gives the teacher's
label is the confidence. Rows below the threshold go to the review queue and
join the training data only once a person accepts or corrects them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from core.approach import Approach

from core.backends import approach_from_spec
from core.data.dataset import Dataset, Example

DEFAULT_THRESHOLD = 0.7
SIMILARITY_TEMPERATURE = 0.05  # cosine similarities differ by a few hundredths: sharpen before a softmax


@dataclass(frozen=True)
class TeacherLabel:
    example_id: str
    text: str
    label: str | None          # None: the teacher gave no valid label
    confidence: float          # 0..1
    needs_review: bool
    teacher: str               # the approach spec
    error: str | None = None   # the call failed (no answer obtained)


def teachers(local_tier: bool = False, hosted_models: Sequence[str] = ()) -> list[str]:
    """The approaches offered as teacher: always the classical one; the local ones with the local tier; each
    hosted model (few-shot) when an endpoint is configured."""
    return (["classical:tfidf-lr"] + (["local:rag:k=8", "local:few-shot:k=8"] if local_tier else [])
            + [f"openai:{m}:few-shot:k=8" for m in hosted_models])


def review_rows(labels: Sequence[TeacherLabel]) -> list[dict]:
    """The review queue as a table: confident answers pre-accepted, unsure ones flagged for a person."""
    return [{"accept": not t.needs_review, "id": t.example_id, "text": t.text, "label": t.label,
             "confidence": t.confidence, "review": t.needs_review} for t in labels]


def _as_probabilities(scores: np.ndarray) -> np.ndarray:
    """Rows that already are probabilities stay; similarity rows become a sharpened softmax."""
    scores = np.asarray(scores, dtype=float)
    if scores.min() >= 0 and np.allclose(scores.sum(axis=1), 1.0, atol=1e-3):
        return scores
    z = scores / SIMILARITY_TEMPERATURE
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def teach(
    dataset: Dataset,
    teacher: str | Approach,
    threshold: float = DEFAULT_THRESHOLD,
    progress: Callable[[int, int], None] | None = None,
    **backend_options,
) -> list[TeacherLabel]:
    """Label every unlabelled example of `dataset` with the teacher fitted on its labelled train examples."""
    todo = [e for e in dataset.examples if e.label is None]
    if not todo:
        return []
    train = [e for e in dataset.split("train") if e.label is not None]
    if len({e.label for e in train}) < 2:
        raise ValueError("teacher labelling needs labelled train examples of at least two labels")
    approach = teacher if isinstance(teacher, Approach) else approach_from_spec(teacher, **backend_options)
    approach.fit(train, dataset.task)
    labels = dataset.task.label_names
    texts = [e.text for e in todo]
    if hasattr(approach, "scores"):
        probs = _as_probabilities(approach.scores(texts))
        best = probs.argmax(axis=1)
        answers = [(labels[b], float(probs[i, b]), None) for i, b in enumerate(best)]
        if progress:
            progress(len(todo), len(todo))
    else:
        predictions = [None] * len(todo)
        for done, (i, p) in enumerate(approach.predict_stream(todo), 1):
            predictions[i] = p
            if progress:
                progress(done, len(todo))
        checker = approach_from_spec("classical:tfidf-lr").fit(train, dataset.task)
        check = checker.scores(texts)
        answers = [(p.label, float(check[i, labels.index(p.label)]) if p.label else 0.0, p.error)
                   for i, p in enumerate(predictions)]
    return [
        TeacherLabel(e.id, e.text, label, round(conf, 3), needs_review=label is None or conf < threshold,
                     teacher=approach.spec, error=error)
        for e, (label, conf, error) in zip(todo, answers)
    ]


def apply(examples: Sequence[Example], accepted: dict[str, str]) -> list[Example]:
    """Examples with the accepted teacher (or reviewer) labels filled in; everything else unchanged."""
    return [replace(e, label=accepted[e.id]) if e.label is None and accepted.get(e.id) else e for e in examples]


def confident(labels: Sequence[TeacherLabel]) -> dict[str, str]:
    """The labels that may join the training data without review."""
    return {t.example_id: t.label for t in labels if not t.needs_review and t.label is not None}
