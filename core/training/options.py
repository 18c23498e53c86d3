"""Typed hyperparameters of each training backend, and the cost and time estimate shown before launch.

The fields' descriptions are the help texts of the Train page's inputs. Time
constants were measured on this project's 2-core machine (bench/train_banking77.py
prints fresh figures); they are estimates, shown as such.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.data.dataset import Example


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SetFitOptions(_Options):
    epochs: int = Field(1, ge=1, le=10, description="Passes over the generated sentence pairs (body training).")
    batch_size: int = Field(
        16, ge=2, le=128, description="Sentence pairs per step. Lowered automatically for long texts so that a step "
                                      "holds at most ~3,072 texts × word pieces (peak memory stays under 3 GB).")
    num_iterations: int | None = Field(
        None, ge=1, le=100,
        description="Pairs per example and polarity (SetFit's num_iterations). Empty: unique pairs, oversampled, "
                    "drawn until the steps are done.",
    )
    max_steps: int | None = Field(
        65, ge=1, description="Cap on body-training steps. More steps hurt in the sweep (BANKING77 10-shot: 65 steps "
                              "85.6 %, 300 steps 84.6 %). Empty: only the time budget stops the body training.")
    target_minutes: float = Field(
        3.0, gt=0, le=120, description="Time budget of the body training: it stops when the budget runs out (the step "
                                       "time is measured on the first real steps).")
    body_learning_rate: float = Field(2e-5, gt=0, le=1e-2, description="Learning rate of the MiniLM body.")
    max_examples_per_class: int | None = Field(
        None, ge=2, description="Use at most this many train examples per class (empty: all). The head and the "
                                "TF-IDF blend learn from all of them.")
    body_examples_per_class: int | None = Field(
        64, ge=2, description="Sentence pairs for the body are drawn from at most this many examples per class "
                              "(the pair pool grows with the square of the examples).")
    head_c: float | None = Field(
        None, gt=0, le=1e4, description="Inverse regularisation of the logistic-regression head. Empty: chosen by "
                                        "cross-validation on the training examples (C in 0.3–100; C=10 when a class "
                                        "has fewer than 3 examples). SetFit's default C=1 cost ~5 points on BANKING77 "
                                        "10-shot; the cross-validated C with the TF-IDF blend was best or tied on "
                                        "every dataset of the sweep.")
    tfidf_blend: bool = Field(
        True, description="Average the head's probabilities 50/50 with TF-IDF + logistic regression fitted on the "
                          "same examples (MiniLM: +0.5 pt on BANKING77 10-shot, +2.7 on the sample task).")
    max_seq_length: int = Field(
        256, ge=16, le=256, description="Word pieces read per text (MiniLM reads 256 at most); longer texts are cut.")
    seed: int = Field(42, description="Random seed (pairs, head, initialisation).")


class LoraOptions(_Options):
    epochs: int = Field(3, ge=1, le=20, description="Passes over the training examples (3 was best in the sweep).")
    learning_rate: float = Field(
        2e-3, gt=0, le=1e-1, description="AdamW learning rate; 2e-3 beat the usual 5e-4 clearly (~96 % vs ~70 %).")
    r: int = Field(8, ge=1, le=128, description="LoRA rank.")
    alpha: int = Field(16, ge=1, le=256, description="LoRA scaling numerator (scale = alpha / r).")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA branch.")
    batch_size: int = Field(8, ge=1, le=64, description="Examples per optimisation step.")
    max_examples_per_class: int | None = Field(
        32, ge=1, description="Use at most this many train examples per class (32/class reached 96 % in the sweep).")
    max_text_tokens: int = Field(256, ge=16, le=2048, description="Texts longer than this many tokens are cut at the end.")
    prompt: Literal["short", "full"] = Field(
        "short", description="The system prompt the model is trained and asked with. short: the task's instruction "
                             "and the label names — a fine-tune learns the behaviour from the examples, and a short "
                             "prompt makes every step and every prediction cheaper; full: with the label guidelines, "
                             "as the hosted chat records carry them.")
    seed: int = Field(42, description="Random seed.")


class HostedOptions(_Options):
    method: Literal["supervised", "dpo"] = Field(
        "supervised", description="supervised: learn the labels; dpo: prefer the gold label over a wrong one.")
    n_epochs: int | Literal["auto"] = Field("auto", description="Epochs; auto lets the provider choose from the file size.")
    batch_size: int | Literal["auto"] = Field("auto", description="Examples per batch; auto lets the provider choose.")
    learning_rate_multiplier: float | Literal["auto"] = Field("auto", description="Scales the provider's base learning rate.")
    beta: float | Literal["auto"] = Field("auto", description="DPO only: how strongly to prefer the chosen answer.")
    suffix: str = Field("ftlab", max_length=64, description="Added to the fine-tuned model's name.")
    seed: int | None = Field(42, description="The provider's seed for reproducibility.")
    use_validation: bool = Field(True, description="Upload the dev split as the validation file (validation loss curve).")

    def hyperparameters(self) -> dict:
        hp: dict = {"n_epochs": self.n_epochs, "batch_size": self.batch_size,
                    "learning_rate_multiplier": self.learning_rate_multiplier}
        if self.method == "dpo":
            hp["beta"] = self.beta
        return hp

    def method_payload(self) -> dict:
        """The `method` argument of `fine_tuning.jobs.create`."""
        return {"type": self.method, self.method: {"hyperparameters": self.hyperparameters()}}


OPTIONS = {"local-setfit": SetFitOptions, "local-lora": LoraOptions, "openai": HostedOptions}


def options_class(backend: str) -> type[BaseModel]:
    """The typed options of a local backend, or of a hosted provider (declared by its module)."""
    if backend in OPTIONS:
        return OPTIONS[backend]
    from core.training import providers

    return providers.get(backend).options


def options_for(backend: str, values: dict | None = None) -> _Options:
    return options_class(backend).model_validate(values or {})


@dataclass(frozen=True)
class Estimate:
    seconds: float | None          # None: the provider's queue decides
    cost_usd: float
    examples: int
    steps: int | None = None
    tokens: int | None = None      # billed (hosted) or processed (local) tokens
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return asdict(self)


# --- SetFit ------------------------------------------------------------------------------------

# Measured here (2 cores, MiniLM, batch 16): 0.5 s/step for texts of exactly 12 words, 1.6 s/step for 44 words;
# BANKING77 (mean 12 words, 90th percentile 22) ran at 0.95 s/step idle, 1.9-3.5 s/step with the cores shared.
# A batch is padded to its longest text, so the step time follows the long texts: the 90th percentile of the
# word counts predicts it. The real run measures its own step time and stops at the time budget.
SETFIT_STEP_S_BASE = 0.1
SETFIT_STEP_S_PER_WORD = 0.035
SETFIT_OVERHEAD_S = 10.0          # importing torch + loading MiniLM + saving
SETFIT_EVALS = 10                 # validation-loss points per run
SETFIT_EVAL_STEPS = 4             # batches of dev pairs per validation point
# Texts × word pieces per body step (a batch is padded to its longest text, so the longest text counts). Peak
# RSS grows with it: 16 pairs (32 texts) × 256 word pieces reached 4.8 GB. Measured for this limit (2026-11-30,
# MiniLM, max_seq_length 256, texts of 750-1,100 characters): 4 pairs × 204 pieces 1.59 GB, 8 × 204 2.27 GB,
# 6 × 256 (= 3,072) 2.36 GB. BANKING77 (longest text 82 pieces) keeps its 16 pairs.
SETFIT_STEP_TOKENS = 3072
SETFIT_PIECES_PER_WORD = 1.35     # MiniLM word pieces per whitespace word in English (+2 specials per text)
SETFIT_HEAD_S_PER_EXAMPLE = 0.004  # LR head + TF-IDF fit per train example (BANKING77 10-shot: ~3 s)
HEAD_CS = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)  # the head's C grid when it is cross-validated (the sweep's grid)
HEAD_CV_FOLDS = 5
HEAD_CV_MIN_PER_CLASS = 3         # fewer examples in a class: no cross-validation, C=10
HEAD_C_FALLBACK = 10.0


def head_c_words(head_c: float | None) -> str:
    return f"C={head_c:g}" if head_c else f"C cross-validated ({HEAD_CS[0]:g}–{HEAD_CS[-1]:g})"


def _mean_words(examples: list[Example]) -> float:
    return sum(len(e.text.split()) for e in examples) / max(len(examples), 1)


def _long_words(examples: list[Example]) -> float:
    """The 90th percentile of the texts' word counts (what padded batches cost)."""
    counts = sorted(len(e.text.split()) for e in examples)
    return float(counts[min(len(counts) - 1, int(0.9 * len(counts)))]) if counts else 0.0


def word_pieces(words: float, max_seq_length: int = 256) -> int:
    """Estimated MiniLM word pieces of a text of `words` words, cut at max_seq_length."""
    return int(min(max_seq_length, math.ceil(words * SETFIT_PIECES_PER_WORD) + 2))


def setfit_pair_batch(longest_pieces: int, batch_size: int) -> int:
    """Pairs per step so that 2 texts × pairs × the padded length stay within SETFIT_STEP_TOKENS."""
    return max(2, min(batch_size, SETFIT_STEP_TOKENS // (2 * max(longest_pieces, 1))))


def setfit_pairs(label_counts: list[int], num_iterations: int | None) -> int:
    """How many sentence pairs SetFit generates (its ContrastiveDataset, oversampling strategy)."""
    n = sum(label_counts)
    if num_iterations:
        return 2 * num_iterations * n
    positive = sum(c * (c + 1) // 2 for c in label_counts)  # pairs drawn with replacement
    negative = n * (n + 1) // 2 - positive
    return 2 * max(positive, negative)


def setfit_step_seconds(mean_words: float, batch_size: int) -> float:
    return (SETFIT_STEP_S_BASE + SETFIT_STEP_S_PER_WORD * min(mean_words, 200)) * batch_size / 16


@dataclass(frozen=True)
class SetFitPlan:
    max_steps: int            # the trainer's max_steps: min(all pairs, the max_steps cap); the time budget may stop earlier
    natural: int              # steps to go through every generated pair
    steps: int                # expected steps: max_steps, or fewer where the time budget runs out (estimate)
    batch: int                # pairs per step (lowered for long texts)
    step_s: float             # estimated seconds per step (the run measures its own)
    body_examples: int        # examples the pairs are drawn from
    longest_pieces: int       # padded length the batch size was chosen for


def body_examples(train: list[Example], per_class: int | None, seed: int = 42) -> list[Example]:
    """At most `per_class` examples of each label (a seeded sample, original order kept)."""
    by_label: dict[str, list[int]] = {}
    for i, e in enumerate(train):
        by_label.setdefault(e.label, []).append(i)
    if not per_class or all(len(v) <= per_class for v in by_label.values()):
        return list(train)
    rng = random.Random(seed)
    keep: set[int] = set()
    for idxs in by_label.values():
        keep.update(idxs if len(idxs) <= per_class else rng.sample(idxs, per_class))
    return [e for i, e in enumerate(train) if i in keep]


def setfit_plan(train: list[Example], opts: SetFitOptions, longest_pieces: int | None = None) -> SetFitPlan:
    """How the body training is sized: pairs per step from the text lengths, steps from the pairs, the
    max_steps cap and the time budget. `longest_pieces`: the real tokenizer's count, when known."""
    body = body_examples(train, opts.body_examples_per_class, opts.seed)
    counts = list(Counter(e.label for e in body).values())
    if longest_pieces is None:
        longest_pieces = word_pieces(max((len(e.text.split()) for e in body), default=0), opts.max_seq_length)
    batch = setfit_pair_batch(longest_pieces, opts.batch_size)
    natural = math.ceil(setfit_pairs(counts, opts.num_iterations) / batch) * opts.epochs
    max_steps = max(1, min(natural, opts.max_steps or natural))
    step_s = setfit_step_seconds(min(_long_words(body), longest_pieces / SETFIT_PIECES_PER_WORD), batch)
    in_budget = max(1, int(opts.target_minutes * 60 / step_s))
    return SetFitPlan(max_steps=max_steps, natural=natural, steps=min(max_steps, in_budget), batch=batch,
                      step_s=step_s, body_examples=len(body), longest_pieces=longest_pieces)


def estimate_setfit(train: list[Example], dev: list[Example], opts: SetFitOptions) -> Estimate:
    plan = setfit_plan(train, opts)
    step_s, steps = plan.step_s, plan.steps
    evals = SETFIT_EVALS * SETFIT_EVAL_STEPS * step_s / 3 if dev else 0.0  # forward only ≈ 1/3 of a step
    encode = (len(train) + len(dev)) * _mean_words(train + dev) / 4000  # head fit + dev accuracy: ~400 texts/s at 10 words
    # Cross-validating C fits the head once per C and fold (BANKING77 10-shot: 3.5 s → 10.6 s in the sweep).
    head = len(train) * SETFIT_HEAD_S_PER_EXAMPLE * ((3 if opts.head_c is None else 1) + (1 if opts.tfidf_blend else 0))
    notes = [f"body: {steps} steps of {plan.batch} sentence pairs from {plan.body_examples} examples "
             f"at ~{step_s:.2f} s/step (measured on the first steps; it stops at the "
             f"{opts.target_minutes:g}-min budget; the step time is for idle cores — shared cores make each step "
             "2–4× slower and the budget then ends the body training earlier)"]
    if plan.natural > plan.max_steps:
        notes.append(f"capped from {plan.natural} steps (all pairs) to {plan.max_steps} by max_steps: more steps "
                     "hurt in the sweep (BANKING77 10-shot 85.6 % at 65 steps, 84.6 % at 300)"
                     if opts.max_steps else f"{plan.natural} steps would cover all pairs; the time budget stops it")
    if steps < plan.max_steps:
        notes.append(f"the {opts.target_minutes:g}-min budget allows ~{steps} of {plan.max_steps} steps at this "
                     "step time (a busy machine gets fewer)")
    if len(train) > plan.body_examples:
        notes.append(f"pairs from at most {opts.body_examples_per_class} examples per class; the head uses all "
                     f"{len(train)}")
    if plan.batch < opts.batch_size:
        notes.append(f"{plan.batch} pairs per step instead of {opts.batch_size}: texts of up to "
                     f"~{plan.longest_pieces} word pieces (memory stays under 3 GB)")
    notes.append(f"head: logistic regression {head_c_words(opts.head_c)} on all {len(train)} examples"
                 + (", averaged 50/50 with TF-IDF + logistic regression" if opts.tfidf_blend else ""))
    return Estimate(seconds=SETFIT_OVERHEAD_S + steps * step_s + evals + encode + head, cost_usd=0.0,
                    examples=len(train), steps=steps, notes=tuple(notes))


# --- LoRA on Gemma 3 270M --------------------------------------------------------------------

# Measured here (2 cores, fp32, r=8, all linear layers; bench/train_banking77.py prints fresh figures).
# The system prompt runs once per batch (its keys/values are shared), the texts once each; the answer's
# positions also pay the 262k-token output layer, forward and backward — for short texts that dominates.
LORA_TRAIN_S_PER_TOKEN = 0.0052   # forward + backward per text token (a step of 8 × 103 tokens: ~4.3 s)
LORA_PREFIX_S_PER_TOKEN = 0.008   # forward + backward per system-prompt token, once per step (long attention span)
LORA_ANSWER_S_PER_TOKEN = 0.04    # output layer, forward + backward, per answer token (BANKING77: 5 s/step of 8)
LORA_FORWARD_S_PER_TOKEN = 0.0022 # forward only (validation loss)
LORA_VALID_POINTS, LORA_VALID_EXAMPLES = 6, 16   # lora_local.VALID_POINTS / VALID_EXAMPLES
LORA_SCORE_S_BASE = 0.1           # scoring one text: its prompt part …
LORA_SCORE_S_PER_LABEL_TOKEN = 0.012  # … and every label's tokens through the output layer (8 long labels: 0.94 s)
LORA_LOAD_S = 10.0                # torch + model from the converted safetensors
LORA_CONVERT_S = 70.0             # first use only: GGUF → dequantized safetensors under the workspace
LORA_DEV_EXAMPLES = 40            # dev examples scored at the end for the dev accuracy
GEMMA_PER_O200K = 1.05            # Gemma's tokenizer needs ~5 % more tokens than o200k_base on English


def lora_score_seconds(labels: list[str]) -> float:
    """Seconds to classify one text by scoring every label string (estimate; o200k counts, scaled)."""
    from core.tokens import count_tokens

    label_tokens = sum(count_tokens(lab, "gpt-4o") * GEMMA_PER_O200K + 2 for lab in labels)
    return LORA_SCORE_S_BASE + LORA_SCORE_S_PER_LABEL_TOKEN * label_tokens


def estimate_lora(train: list[Example], dev: list[Example], system_prompt: str, opts: LoraOptions,
                  base_ready: bool = True) -> Estimate:
    from core.tokens import count_tokens

    # Gemma's tokenizer is not loaded before launch (that needs torch): o200k_base, scaled.
    system = count_tokens(system_prompt, "gpt-4o") * GEMMA_PER_O200K + 8
    texts = [min(opts.max_text_tokens, count_tokens(e.text, "gpt-4o") * GEMMA_PER_O200K) + 10 for e in train]
    answers = sum(count_tokens(e.label, "gpt-4o") * GEMMA_PER_O200K + 2 for e in train)
    steps_per_epoch = math.ceil(len(train) / opts.batch_size)
    steps = steps_per_epoch * opts.epochs
    train_s = opts.epochs * (sum(texts) * LORA_TRAIN_S_PER_TOKEN + answers * LORA_ANSWER_S_PER_TOKEN) \
        + steps * system * LORA_PREFIX_S_PER_TOKEN
    mean_text = sum(texts) / max(len(texts), 1)
    batches_per_point = math.ceil(LORA_VALID_EXAMPLES / 8)
    valid_s = (LORA_VALID_POINTS * (batches_per_point * system + LORA_VALID_EXAMPLES * mean_text)
               * LORA_FORWARD_S_PER_TOKEN) if dev else 0.0
    n_dev = min(len(dev), LORA_DEV_EXAMPLES)
    labels = sorted({e.label for e in train})
    seconds = LORA_LOAD_S + train_s + valid_s + n_dev * lora_score_seconds(labels)
    tokens = int((steps * system) + sum(texts) * opts.epochs)
    notes = [f"{steps} steps; the {system:.0f}-token system prompt runs once per step, the texts once per epoch",
             "short prompt (instruction + label names, no guidelines): the fine-tune learns the behaviour from "
             "the examples" if opts.prompt == "short" else "full prompt: the label guidelines in every example",
             "~4 GB of memory while training"]
    if not base_ready:
        seconds += LORA_CONVERT_S
        notes.append("first use: the GGUF base model is converted once (~1 min)")
    return Estimate(seconds=seconds, cost_usd=0.0, examples=len(train), steps=steps, tokens=tokens, notes=tuple(notes))
