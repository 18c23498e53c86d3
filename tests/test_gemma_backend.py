"""The local generative backend (Gemma 3 270M): specs, predictions, the prefix cache, RAG prompts, promoted prompts.

Runs the real model on a tiny two-label task (short prompts, so the whole module stays well under a minute
once the base model exists). The base is converted from its GGUF package ONCE for the whole test session
(the `gemma_base` fixture of tests/conftest.py, shared with every test that needs the base): that first
conversion takes ~30–65 s on two free cores and is most of this module's time; the model is then loaded once
per process (core.backends.gemma).
"""

import os

import numpy as np
import pytest

from core.backends import approach_from_spec, family, parse_spec
from tests.training_data import tiny_dataset


def _local_llm_missing() -> str | None:
    from core.tiers import local_status, missing_modules
    from core.training import LOCAL_LORA

    missing = missing_modules(LOCAL_LORA)
    if missing:
        return f"the local LLM tier is not installed (missing {', '.join(missing)})"
    if not local_status().ready:
        return "the local tier (MiniLM for retrieval) is not installed"
    return None


needs_model = pytest.mark.skipif(_local_llm_missing() is not None, reason=_local_llm_missing() or "")


@pytest.fixture(scope="session")
def gemma_models(gemma_base, tmp_path_factory):
    """A temporary workspace's models folder; the base model comes from the session's `gemma_base`."""
    ws = tmp_path_factory.mktemp("gemma-workspace")
    old = os.environ.get("FTLAB_WORKSPACE")
    os.environ["FTLAB_WORKSPACE"] = str(ws)
    from core.backends.gemma import load_model

    load_model(ws / "models")  # loads the session's base (converted once, by gemma_base)
    yield ws / "models"
    if old is None:
        os.environ.pop("FTLAB_WORKSPACE", None)
    else:
        os.environ["FTLAB_WORKSPACE"] = old


def _fitted(spec: str, models_dir, **options):
    ds = tiny_dataset()
    return approach_from_spec(spec, models_dir=models_dir, **options).fit(ds.split("train"), ds.task), ds


def test_specs_parse_and_build_without_loading_the_model():
    import sys

    zs = approach_from_spec("gemma:zero-shot")
    assert zs.spec == "gemma:zero-shot" and zs.prompt.output == "text" and zs.prompt.k == 0
    fs = approach_from_spec("gemma:few-shot:k=4")
    assert fs.spec == "gemma:few-shot:k=4" and fs.prompt.selection == "balanced"
    rag = approach_from_spec("gemma:rag:k=8")
    assert rag.spec == "gemma:rag:k=8" and rag.prompt.selection == "retrieved" and rag.retriever
    assert approach_from_spec("gemma:few-shot:k=4:output=json").spec == "gemma:few-shot:k=4:output=json"
    assert parse_spec("gemma:prompt:abc123def").model == "abc123def"
    assert [family(s) for s in ("gemma:zero-shot", "gemma:few-shot:k=4", "gemma:rag:k=8")] == \
        ["prompting", "prompting", "rag"]
    assert fs.config_hash != approach_from_spec("gemma:few-shot:k=8").config_hash
    with pytest.raises(ValueError, match="does not take"):
        approach_from_spec("gemma:zero-shot:k=3")
    with pytest.raises(ValueError, match="needs the store"):
        approach_from_spec("gemma:prompt:abc123def")
    if "torch" not in sys.modules:  # (another test module may have imported it already)
        assert "transformers" not in sys.modules  # configuring loads nothing


@needs_model
def test_long_prompts_go_fewer_at_a_time_so_memory_stays_flat():
    """RAG prompts (hundreds of tokens each) are batched by a token budget, short ones by the batch size."""
    from core.backends.gemma import token_batches

    assert list(token_batches(range(10), [80] * 10, 8, 1024)) == [list(range(8)), [8, 9]]
    assert list(token_batches(range(5), [500] * 5, 8, 1024)) == [[0, 1], [2, 3], [4]]
    assert list(token_batches(range(3), [100, 400, 2000], 8, 1024)) == [[0, 1], [2]]  # too long: alone


def test_predictions_are_labels_of_the_task_with_latency_and_no_cost(gemma_models):
    approach, ds = _fitted("gemma:zero-shot", gemma_models)
    test = ds.split("test")
    preds = approach.predict(test)
    assert len(preds) == len(test)
    assert all(p.label in ds.task.label_names for p in preds)
    assert all(p.latency_ms > 0 and p.cost_usd == 0.0 and p.input_tokens > 20 and p.error is None for p in preds)


@needs_model
@pytest.mark.parametrize("spec", ["gemma:few-shot:k=2", "gemma:rag:k=2"])
def test_the_prefix_cache_gives_the_scores_of_the_whole_prompt_scored_without_it(gemma_models, spec):
    """Batched scoring over the cached shared prefix (left-padded texts, labels batched) = each label appended
    to the whole prompt — tokenized in one piece from its rendered text — in plain uncached forwards."""
    approach, ds = _fitted(spec, gemma_models)
    texts = [e.text for e in ds.split("test")[:3]]  # different lengths: the batch is padded
    cached = approach.scores(texts)
    sc, _, prefix_ids, _, answers = approach._prepare()
    assert len(prefix_ids) > 50  # the system prompt (and fixed exemplars) really are shared
    for row, text in zip(cached, texts):
        whole = sc.ids(approach.prompt_text(text))
        assert whole[:len(prefix_ids)] == prefix_ids
        reference = sc.score_uncached(whole, answers)
        assert np.abs(row - reference).max() < 2e-3, (row, reference)
        assert (row < 0).all()


@needs_model
def test_the_rag_prompt_holds_the_retrieved_examples_and_is_the_chat_backends_prompt(gemma_models):
    from core.backends.openai_compat import ChatApproach

    approach, ds = _fitted("gemma:rag:k=2", gemma_models)
    text = "I was charged twice on my card this month"
    shots = approach.exemplars_for([text])[0]
    assert len(shots) == 2 and all(s.label == "billing" for s in shots)
    prompt = approach.prompt_text(text)
    for shot in shots:
        # as a user turn (the first one opens with the system prompt, as in Gemma's template) and its answer
        assert f"{shot.text}<end_of_turn>\n<start_of_turn>model\n{shot.label}<end_of_turn>\n" in prompt
    assert prompt.startswith("<bos><start_of_turn>user\n") and prompt.endswith(f"{text}<end_of_turn>\n"
                                                                               "<start_of_turn>model\n")
    # The very messages the OpenAI-compatible backend sends for the same spec.
    chat = ChatApproach("any-model", "rag", k=2, output="text", retriever=approach.retriever)
    chat.fit(ds.split("train"), ds.task)
    assert chat.request(text, chat.exemplars_for([text])[0], structured=False)["messages"] == \
        approach.messages(text, shots)


@needs_model
def test_a_promoted_prompt_spec_resolves_and_runs(gemma_models, store):
    from core.prompts import store as prompt_store
    from core.prompts.space import Candidate

    ds = tiny_dataset()
    cand = Candidate("openai", "gpt-4.1-mini", ds.hash, "Route the customer message to one team.",
                     (("billing", "money: charges, refunds"), ("shipping", "parcels and delivery")),
                     k=2, selection="balanced", exemplar_ids=("tr4", "tr0"), output="text")
    prompt_store.save(store, cand)
    prompt_store.promote(store, cand.hash)
    approach = approach_from_spec(f"gemma:prompt:{cand.hash[:10]}", store=store, models_dir=gemma_models)
    assert approach.spec == f"gemma:prompt:{cand.hash}" and family(approach.spec) == "prompting"
    approach.fit(ds.split("train"), ds.task)
    assert [e.id for e in approach.exemplars_for(["x"])[0]] == ["tr4", "tr0"]
    prefix = approach.shared_prefix()
    assert "Route the customer message to one team." in prefix and "money: charges, refunds" in prefix
    preds = approach.predict(ds.split("test")[:2])
    assert all(p.label in ds.task.label_names for p in preds)
    with pytest.raises(ValueError, match="no prompt"):
        approach_from_spec("gemma:prompt:ffffffffff", store=store)


@pytest.mark.slow  # ~20 s on free cores (uncached 550-token forwards): outside the default suite's budget
@needs_model
def test_prompts_longer_than_the_sliding_window_are_scored_exactly_too(gemma_models):
    """Past 512 tokens Gemma 3's sliding-window layers count pads as tokens: such prompts must not be padded.
    (The sample task's prompt is 1,115 tokens: without the guard, log-probs were off by up to 0.2.)"""
    from core.data.task import Label

    ds = tiny_dataset()
    words = " ".join(f"Rule {i}: read the whole message before choosing a team." for i in range(34))
    task = ds.task.model_copy(update={"labels": [Label(name=lab.name, description=f"{lab.description}. {words}")
                                                 for lab in ds.task.labels]})
    approach = approach_from_spec("gemma:zero-shot", models_dir=gemma_models).fit(ds.split("train"), task)
    texts = ["Refund please", "The parcel was delivered to my neighbour and I want it back today"]
    cached = approach.scores(texts)  # one batch call, texts of different lengths
    sc, _, prefix_ids, _, answers = approach._prepare()
    assert len(prefix_ids) > 512
    for row, text in zip(cached, texts):
        reference = sc.score_uncached(sc.ids(approach.prompt_text(text)), answers)
        assert np.abs(row - reference).max() < 2e-3, (row, reference)
