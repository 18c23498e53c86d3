"""Training: turn a Dataset version into a fine-tuned model on a backend, recorded as a Job.

Backends (the `--backend` of `python -m core train`):

    local-setfit          SetFit: contrastive fine-tuning of the embedded MiniLM + a logistic-regression head
    local-lora            LoRA on Gemma 3 270M, trained on the same chat JSONL a hosted provider takes
    openai:<base-model>   any OpenAI-compatible fine-tuning API (OpenAI, Azure OpenAI, …)
    together:<base-model>, fireworks:<base-model>, …   every provider of core/training/providers/

Nothing in this package imports torch at import time: `options` (typed
hyperparameters and the cost/time estimate), `guards`, `curves` and `hosted`
are light; `setfit_local` and `lora_local` import torch inside their functions
and only ever run in a worker process or the CLI. Whether a local backend's
packages are installed is core.tiers' to say (`missing_modules`).
"""

from __future__ import annotations

from core import specs

LOCAL_SETFIT = "local-setfit"
LOCAL_LORA = "local-lora"
HOSTED = "openai"

SETFIT_BASE = "all-MiniLM-L6-v2"
LORA_BASE = "gemma-3-270m"


class JobCancelled(Exception):
    """Raised inside a training loop when the user asked the job to stop."""


def parse_backend(text: str) -> tuple[str, str]:
    """`local-setfit` | `local-lora` | `<provider>:<base-model>` (a registered provider) → (backend, base model)."""
    from core.training import providers

    return specs.backend_and_model(text, {LOCAL_SETFIT: SETFIT_BASE, LOCAL_LORA: LORA_BASE}, providers.names())
