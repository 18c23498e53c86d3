"""Local generative backend: Gemma 3 270M prompted on this machine — no API, no cost.

    gemma:zero-shot                 the task's instruction and label guidelines
    gemma:few-shot:k=8              k class-balanced exemplars (fixed for the run) as chat turns
    gemma:rag:k=8                   the k nearest train examples (MiniLM retrieval) as chat turns, nearest last
    gemma:prompt:<hash>             a prompt from the Prompts page (core/prompts/gemma_approach.py)

The prompt is the one every chat backend sends: `core.prompting.messages(...)`
(the same `PromptConfig`, the same exemplar choice), rendered into Gemma's chat
template by the tokenizer. So "the prompt" is literally the same text for a
hosted model and for this one.

Classification scores the label strings instead of generating — constrained decoding among the labels:
each label's answer (`format_answer(label)` + `<end_of_turn>`) is scored as the sum of its tokens'
log-probabilities after the prompt, each a log-softmax over the labels' own tokens only (hidden states at the
answer positions times those rows of the tied embedding matrix: the 262k-row output layer is never run), and
the best label wins — so every prediction is a label of the task (no invalid outputs). The forward passes
(shared prefix KV cache, batching, the sliding-window guard) live in `core/training/gemma_scorer.py`, shared
with the LoRA fine-tune, which scores the same way.

Per-prediction latency is the batch's time shared out. The model loads lazily
(torch is imported inside functions, never at import) and once per process.
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from core.approach import Approach, Prediction
from core.backends import per_k, register
from core.data.dataset import Example
from core.prompting import PromptConfig, PromptedExemplars, format_answer, messages as render_messages
from core.training.gemma_scorer import GemmaScorer

MODEL = "gemma-3-270m"
# Prompt tokens after the shared prefix per forward pass (items × the longest). RAG prompts (~500 tokens after
# the prefix) go 2 at a time: a batch of 8 peaked at 2.66 GB RSS and 1.27 s per prediction, of 2 at 2.0 GB and
# 1.17 s (sample task, 48 tickets); zero- and few-shot texts (~80 tokens) still go 8 at a time.
BATCH_TOKENS = 1024
# float32: on this CPU (avx512_bf16, no AMX) bfloat16 was not faster — sample task zero-shot 1.25 s vs 0.84 s
# per prediction (bench/gemma_ladder.py, load 6–8 vs 3.6, so not conclusive) — and bf16 log-probs are coarse.
# FTLAB_GEMMA_DTYPE=bfloat16 (or the `dtype` backend option) halves the weights' memory.
DEFAULT_DTYPE = "float32"
_SENTINEL = "\u2063FTLAB-INPUT\u2063"

# --- the model, once per process ----------------------------------------------------------------


def default_models_dir(store=None) -> Path:
    """The workspace's models folder: the store's workspace, else $FTLAB_WORKSPACE (core.config)."""
    if store is not None and str(getattr(store, "path", ":memory:")) != ":memory:":
        return Path(store.path).parent / "models"
    from core.config import load_settings

    return load_settings().models_dir


def default_dtype() -> str:
    return os.environ.get("FTLAB_GEMMA_DTYPE") or DEFAULT_DTYPE


@functools.lru_cache(maxsize=2)
def _load(base: str, dtype: str):
    from core.training.lora_local import load_base

    model, tokenizer = load_base(Path(base), on_message=lambda m: None, dtype=dtype)
    model.eval()
    return model, tokenizer


def load_model(models_dir: Path | None = None, dtype: str | None = None):
    """(model, tokenizer), converted from the GGUF package on first use, loaded once per process and dtype."""
    from core.training.lora_local import base_dir, ensure_base

    models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
    ensure_base(models_dir)  # first use: ~30–65 s, then reloads take seconds
    return _load(str(base_dir(models_dir)), dtype or default_dtype())


# --- the approach -------------------------------------------------------------------------------


class GemmaApproach(PromptedExemplars, Approach):
    """Gemma 3 270M asked with the lab's chat prompt; the label whose answer is most probable wins."""

    backend = "gemma"
    model = MODEL
    model_in_spec = False
    backend_options = ("store", "models_dir", "dtype")
    batch_size = 8

    def __init__(self, method: str = "zero-shot", *, k: int = 0, seed: int = 0, descriptions: bool = True,
                 output: str = "text", retriever: str | None = None, prompt: PromptConfig | None = None,
                 store=None, models_dir: str | Path | None = None, dtype: str | None = None):
        self.method = method
        if method == "zero-shot" and k:
            raise ValueError("gemma:zero-shot takes no k; use gemma:few-shot:k=N")
        if method in ("few-shot", "rag") and not k:
            k = 8
        if int(k) < 0:
            raise ValueError("k must be ≥ 0")
        selection = "retrieved" if method == "rag" else "balanced"
        # Text contract by default: the answer scored is the bare label name. Scoring makes the two contracts
        # nearly equivalent (with JSON every label's answer starts with the same `{"label": "` tokens, which
        # carry no evidence), but the JSON answer costs ~6 more scored positions per label, and the task's
        # own instruction (the system prompt) asks for "the category name only". Not yet compared for accuracy
        # on this model: run `bench/gemma_ladder.py --rung gemma:zero-shot:output=json`.
        self.prompt = prompt or PromptConfig(k=int(k), selection=selection, seed=int(seed),
                                             descriptions=bool(descriptions), output=output)
        if self.prompt.selection == "retrieved" and retriever is None:
            from core.retrieval import default_retriever

            retriever = default_retriever()
        self.retriever = retriever if self.prompt.selection == "retrieved" else None
        self.store = store
        self.models_dir = Path(models_dir) if models_dir is not None else None
        self.dtype = dtype or default_dtype()
        if self.dtype not in ("float32", "bfloat16"):
            raise ValueError("dtype must be float32 or bfloat16")
        self._scorer: GemmaScorer | None = None
        self._prefix = None

    # -- configuration
    def params(self) -> dict[str, Any]:
        return {"prompt": self.prompt.to_dict(), "retriever": self.retriever, "dtype": self.dtype,
                "scoring": "label log-prob, label vocabulary"}

    @property
    def spec(self) -> str:
        from core.approach import Spec

        from core.prompting import spec_params

        return str(Spec(self.backend, self.method, self.arg, spec_params(self.prompt, self.method, "text")))

    # -- fit: the exemplars (PromptedExemplars); the model loads and the shared prefix is cached on first use
    def _fit(self, train: list[Example]) -> None:
        super()._fit(train)
        self._scorer = None
        self._prefix = None

    def scorer(self) -> GemmaScorer:
        if self._scorer is None:
            model, tok = load_model(self.models_dir or default_models_dir(self.store), self.dtype)
            self._scorer = GemmaScorer(model, tok)
        return self._scorer

    def messages(self, text: str, exemplars: Sequence[Example]) -> list[dict[str, str]]:
        """The chat messages — exactly what the OpenAI-compatible backend would send."""
        return render_messages(self._require_fit(), self.prompt, text, exemplars)

    def prompt_text(self, text: str, exemplars: Sequence[Example] | None = None) -> str:
        """The whole prompt as the model reads it (Gemma's chat template), for one input."""
        shots = self.exemplars_for([text])[0] if exemplars is None else exemplars
        return self.scorer().render(self.messages(text, shots))

    def shared_prefix(self) -> str:
        """The prompt text every input shares: the system prompt and, unless retrieved, the fixed exemplars."""
        rendered = self.scorer().render(self.messages(_SENTINEL, self._fixed))
        return rendered.split(_SENTINEL, 1)[0]

    def answers(self) -> list[str]:
        return [format_answer(lab, self.prompt) for lab in self._require_fit().label_names]

    def _prepare(self):
        """(scorer, prefix text, prefix ids, prefix KV cache, answer ids), computed once per fit."""
        if self._prefix is None:
            sc = self.scorer()
            text = self.shared_prefix()
            ids = sc.ids(text)
            self._prefix = (text, ids, sc.prefix_cache(ids), sc.answer_ids(self.answers()))
        return (self.scorer(), *self._prefix)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Each input's prompt after the shared prefix, as token ids."""
        sc, prefix, _, _, _ = self._prepare()
        out = []
        for text, shots in zip(texts, self.exemplars_for(texts)):
            full = sc.render(self.messages(text, shots))
            if not full.startswith(prefix):  # cannot happen with Gemma's template; a guard, not a fallback
                raise RuntimeError("the prompt does not start with the shared prefix")
            out.append(sc.ids(full[len(prefix):]))
        return out

    def scores(self, texts: Sequence[str], rests: list[list[int]] | None = None) -> np.ndarray:
        """[n_texts, n_labels] log-probability of each label's answer, in the task's label order."""
        sc, _, prefix_ids, cache, answers = self._prepare()
        rests = self.encode(texts) if rests is None else rests
        return sc.score(cache, len(prefix_ids), rests, answers)

    # -- predicting
    def _predictions(self, scores: np.ndarray, rests: list[list[int]]) -> list[Prediction]:
        labels = self._require_fit().label_names
        n_prefix = len(self._prepare()[2])
        answers = self._prepare()[4]
        out = []
        for row, rest in zip(scores, rests):
            best = int(np.argmax(row))
            raw = json.dumps({"label": labels[best], "logprob": round(float(row[best]), 4)})
            out.append(Prediction(labels[best], raw_output=raw, input_tokens=n_prefix + len(rest),
                                  output_tokens=len(answers[best]), cost_usd=0.0))
        return out

    def _predict_batch(self, texts: list[str]) -> list[Prediction]:
        rests = self.encode(texts)
        return self._predictions(self.scores(texts, rests), rests)

    def predict_stream(self, examples: Sequence[Example]) -> Iterator[tuple[int, Prediction]]:
        """Batches of similar prompt length (little padding), yielded as they finish; each prediction's
        latency is its batch's wall time (prompt building, retrieval, forward passes) shared out."""
        self._require_fit()
        self._prepare()  # model load and shared prefix: once per fit, not charged to the first batch
        texts = [e.text for e in examples]
        t0 = time.perf_counter()
        rests = self.encode(texts)
        encode_ms = (time.perf_counter() - t0) * 1000 / max(len(texts), 1)
        order = sorted(range(len(texts)), key=lambda i: len(rests[i]))
        for idx in token_batches(order, [len(r) for r in rests], self.batch_size, BATCH_TOKENS):
            t0 = time.perf_counter()
            preds = self._predictions(self.scores([texts[i] for i in idx], [rests[i] for i in idx]),
                                      [rests[i] for i in idx])
            per = (time.perf_counter() - t0) * 1000 / len(idx) + encode_ms
            for i, p in zip(idx, preds):
                yield i, _with_latency(p, per)


def token_batches(order: Sequence[int], lengths: Sequence[int], size: int, budget: int) -> Iterator[list[int]]:
    """Consecutive batches of `order` (shortest prompts first) of at most `size` items and at most `budget`
    padded tokens (items × the longest, which is the last one); an item longer than the budget goes alone."""
    batch: list[int] = []
    for i in order:
        if batch and (len(batch) == size or (len(batch) + 1) * lengths[i] > budget):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


def _with_latency(p: Prediction, ms: float) -> Prediction:
    from dataclasses import replace

    return replace(p, latency_ms=ms)


def _factory(method: str):
    allowed = {"zero-shot": {"seed", "descriptions", "output"},
               "few-shot": {"k", "seed", "descriptions", "output"},
               "rag": {"k", "retriever", "descriptions", "output"}}[method]

    def build(spec, **options: Any) -> GemmaApproach:
        unknown = set(spec.params) - allowed
        if unknown:
            raise ValueError(f"gemma:{method} does not take {', '.join(sorted(unknown))}; "
                             f"it takes {', '.join(sorted(allowed))}")
        if spec.model:
            raise ValueError(f"gemma:{method} takes no argument after the method (got {spec.model!r})")
        opts = {k: v for k, v in options.items() if k in GemmaApproach.backend_options}
        return GemmaApproach(method, **spec.params, **opts)

    return build


_GEMMA_WORDS = {"zero-shot": lambda s: "zero-shot prompt",
                "few-shot": lambda s: "few-shot prompt" + per_k(s, "examples"),
                "rag": lambda s: "RAG" + per_k(s, "retrieved examples")}

for _method in ("zero-shot", "few-shot", "rag"):
    register("gemma", _method, family="rag" if _method == "rag" else "prompting", model="gemma-3-270m",
             words=lambda s, m=_method: f"Gemma 3 270M · {_GEMMA_WORDS[m](s)}")(_factory(_method))
