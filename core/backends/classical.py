"""The classical baseline: TF-IDF + logistic regression (scikit-learn, light tier — no torch).

If an LLM cannot beat this, nobody should pay for one.
"""

from __future__ import annotations

import json

import numpy as np

from core.approach import Approach, Prediction

from core.backends import register
from core.data.dataset import Example


@register("classical", "tfidf-lr", family="classifier", model="tfidf-lr",
          words=lambda s: "TF-IDF + logistic regression")
class TfidfLogReg(Approach):
    backend = "classical"
    method = "tfidf-lr"
    model = "tfidf-lr"
    model_in_spec = False
    batch_size = 256

    def __init__(self, C: float = 10.0, ngrams: int = 2):
        if float(C) <= 0 or int(ngrams) < 1:
            raise ValueError("classical:tfidf-lr needs C > 0 and ngrams ≥ 1")
        self.C, self.ngrams = float(C), int(ngrams)

    def params(self) -> dict:
        return {"C": self.C, "ngrams": self.ngrams, "features": "word+char_wb"}

    def spec_params(self) -> set[str]:
        return {k for k, default in (("C", 10.0), ("ngrams", 2)) if getattr(self, k) != default}

    def _fit(self, train: list[Example]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union

        if len({e.label for e in train}) < 2:
            raise ValueError("classical:tfidf-lr needs train examples of at least two labels")
        # Character n-grams catch typos and inflections that word n-grams miss on short tickets.
        features = make_union(
            TfidfVectorizer(ngram_range=(1, self.ngrams), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
        )
        self._pipe = make_pipeline(features, LogisticRegression(C=self.C, max_iter=2000))
        self._pipe.fit([e.text for e in train], [e.label for e in train])

    def scores(self, texts: list[str]) -> np.ndarray:
        """Class probabilities in the task's label order (labels unseen in training get 0)."""
        proba = self._pipe.predict_proba(texts)
        labels = self._require_fit().label_names
        out = np.zeros((len(texts), len(labels)))
        for j, cls in enumerate(self._pipe.classes_):
            out[:, labels.index(cls)] = proba[:, j]
        return out

    def _predict_batch(self, texts: list[str]) -> list[Prediction]:
        labels = self._require_fit().label_names
        out = []
        for row in self.scores(texts):
            best = int(np.argmax(row))
            raw = json.dumps({"label": labels[best], "probability": round(float(row[best]), 4)})
            out.append(Prediction(label=labels[best], raw_output=raw, cost_usd=0.0))
        return out
