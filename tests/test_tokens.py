import inspect
import json
import random
import subprocess
import sys

import pytest

from core import tokens

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def test_known_token_ids():
    # Reference ids from OpenAI's published tokenizers (tiktoken README / cookbook examples).
    assert tokens.get_encoding("cl100k_base").encode("tiktoken is great!") == [83, 1609, 5963, 374, 2294, 0]
    assert tokens.get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
    assert tokens.get_encoding("o200k_base").encode("hello world") == [24912, 2375]


@pytest.mark.parametrize(
    "model, encoding",
    [
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1-2025-04-14", "o200k_base"),
        ("ft:gpt-4o-mini-2024-07-18:acme:tickets:9xYz", "o200k_base"),
        # tiktoken alone says cl100k_base for this one (prefix "ft:gpt-4"): the base model decides.
        ("ft:gpt-4.1-mini-2025-04-14:acme::AbC123", "o200k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("ft:gpt-3.5-turbo-0125:acme::x", "cl100k_base"),
        ("llama3.1:8b", "o200k_base"),  # unknown to tiktoken: estimated with o200k_base
    ],
)
def test_model_to_encoding(model, encoding):
    assert tokens.encoding_name_for_model(model) == encoding


def test_vocabulary_hashes_match_tiktoken():
    """If tiktoken ever changes a vocabulary's URL or hash, the seeded cache would be ignored."""
    from tiktoken_ext import openai_public

    for name, (url, sha) in tokens.VOCABULARIES.items():
        src = inspect.getsource(getattr(openai_public, name))
        assert url in src and sha in src


def test_chat_overhead():
    msgs = [{"role": "user", "content": "hi"}]
    # 3 framing + "user" (1) + "hi" (1) + 3 reply priming
    assert tokens.count_chat_tokens(msgs, "gpt-4o-mini") == 8
    named = [{"role": "user", "content": "hi", "name": "bob"}]
    assert tokens.count_chat_tokens(named, "gpt-4o-mini") == 8 + 1 + len(tokens.get_encoding("o200k_base").encode("bob"))


def _strings(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    pieces = ["hello", " world", "Ünïcödé", "日本語のテキスト", "emoji 🤖🚀", "\n\n", "  ", "\t", "1234567",
              "don't", "I'VE", "<|endoftext|>", "https://example.com/a?b=c", "ß", "'s", "!!!", "\r\n", "naïve café"]
    out = []
    for _ in range(n):
        k = rng.randint(1, 12)
        out.append("".join(rng.choice(pieces) if rng.random() < 0.7 else chr(rng.randint(32, 0x2FFF)) for _ in range(k)))
    return out


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_cross_check_with_bpe_openai(name):
    """tiktoken (with the seeded vocabulary) and bpe-openai's own Rust encoder agree on 3,000 strings."""
    import bpe_openai

    ours = tokens.get_encoding(name)
    theirs = bpe_openai.get_encoding(name)
    mismatches = [s for s in _strings(3000) if ours.encode_ordinary(s) != theirs.encode_ordinary(s)]
    assert not mismatches, mismatches[:5]


def test_cli_tokens_json_contract(tmp_path):
    """Works with an empty tiktoken cache and no network: the vocabulary comes from bpe-openai."""
    env = {"PATH": "/usr/bin:/bin", "TIKTOKEN_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "core", "tokens", "--model", "gpt-4o-mini-2024-07-18", "--text", "hello world", "--json"],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"encoding": "o200k_base", "tokens": 2}


def test_corrupt_cache_is_replaced(tmp_path, monkeypatch):
    import hashlib

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    url, _ = tokens.VOCABULARIES["cl100k_base"]
    (tmp_path / hashlib.sha1(url.encode()).hexdigest()).write_bytes(b"garbage")
    tokens._seed("cl100k_base")
    assert hashlib.sha256((tmp_path / hashlib.sha1(url.encode()).hexdigest()).read_bytes()).hexdigest() == tokens.VOCABULARIES["cl100k_base"][1]
