"""The Approach protocol: specs, the registry, prompts rendered from the Task, the classical baseline."""

import json

import pytest

from core.approach import Approach, Prediction

from core.backends import approach_from_spec, parse_spec, register
from core.prompting import PromptConfig, messages, parse_label, select_exemplars
from tests.eval_data import make_dataset, make_task


@pytest.mark.parametrize("spec, backend, method, model, params", [
    ("local:zero-shot", "local", "zero-shot", "", {}),
    ("local:few-shot:k=8", "local", "few-shot", "", {"k": 8}),
    ("local:rag:k=8", "local", "rag", "", {"k": 8}),
    ("classical:tfidf-lr", "classical", "tfidf-lr", "", {}),
    ("openai:gpt-4.1-mini:zero-shot", "openai", "zero-shot", "gpt-4.1-mini", {}),
    ("openai:gpt-4o-mini:few-shot:k=4", "openai", "few-shot", "gpt-4o-mini", {"k": 4}),
    ("openai:llama3.2:3b:rag:k=5", "openai", "rag", "llama3.2:3b", {"k": 5}),
    ("openai:ft:gpt-4o-mini-2024-07-18:acme::9xYz:zero-shot", "openai", "zero-shot",
     "ft:gpt-4o-mini-2024-07-18:acme::9xYz", {}),
])
def test_specs_parse_and_print_back(spec, backend, method, model, params):
    parsed = parse_spec(spec)
    assert (parsed.backend, parsed.method, parsed.model, parsed.params) == (backend, method, model, params)
    assert str(parsed) == spec


@pytest.mark.parametrize("spec, reason", [
    ("nonsense", "must look like"),
    ("mars:zero-shot", "unknown backend"),
    ("local:telepathy", "unknown method"),
    ("openai:gpt-4o-mini", "names no method"),
    ("local:rag:k=8:depth=3", "does not take depth"),
    ("openai:gpt-4o-mini:zero-shot:k=3", "zero-shot does not take k"),
    ("openai:gpt-4o-mini:rag:kk=3", "does not take kk"),
])
def test_bad_specs_say_what_is_wrong(spec, reason):
    with pytest.raises(ValueError, match=reason):
        approach_from_spec(spec)


def test_config_changes_with_what_changes_predictions():
    a, b = approach_from_spec("classical:tfidf-lr"), approach_from_spec("classical:tfidf-lr:C=1")
    assert a.config_hash == approach_from_spec("classical:tfidf-lr").config_hash
    assert a.config_hash != b.config_hash
    assert b.spec == "classical:tfidf-lr:C=1.0"
    base = dict(store=None, base_url="http://127.0.0.1:1/v1")
    few = approach_from_spec("openai:m:few-shot:k=2", **base)
    assert few.config_hash != approach_from_spec("openai:m:few-shot:k=3", **base).config_hash
    # The endpoint is part of the config (same model name elsewhere is another model); the key is not.
    assert few.config_hash != approach_from_spec("openai:m:few-shot:k=2", store=None).config_hash
    assert "secret" not in json.dumps(approach_from_spec("openai:m:zero-shot", api_key="secret").config())


def test_other_modules_can_register_approaches():
    @register("local", "always-first", family="classifier")
    class AlwaysFirst(Approach):
        backend, method, model_in_spec = "local", "always-first", False

        def __init__(self, bias: int = 0):
            self.bias = bias

        def params(self):
            return {"bias": self.bias}

        def _predict_batch(self, texts):
            return [Prediction(self.task.label_names[self.bias]) for _ in texts]

    ds = make_dataset(3, 2)
    a = approach_from_spec("local:always-first:bias=1").fit(ds.split("train"), ds.task)
    assert a.spec == "local:always-first:bias=1"
    assert {p.label for p in a.predict(ds.split("test"))} == {ds.task.label_names[1]}


def test_predict_before_fit_is_a_clear_error():
    with pytest.raises(RuntimeError, match="call fit"):
        approach_from_spec("classical:tfidf-lr").predict(make_dataset(2, 2).split("test"))


@pytest.mark.parametrize("raw, expected", [
    ('{"label": "billing"}', "billing"),
    ("Billing.", "billing"),
    ('"login"', "login"),
    ("```json\n{\"label\": \"bug\"}\n```", "bug"),
    ("The category is shipping.", "shipping"),
    ("billing or login", None),          # names two labels: not an answer
    ('{"label": ', None),               # truncated JSON
    ("I cannot help with that", None),
])
def test_parse_label(raw, expected):
    assert parse_label(raw, make_task().label_names) == expected


def test_prompt_is_rendered_from_the_task():
    task = make_task()
    ds = make_dataset(4, 1)
    shots = select_exemplars(ds.split("train"), 4, "balanced", seed=1)
    assert sorted(e.label for e in shots) == sorted(task.label_names)  # one per label
    msgs = messages(task, PromptConfig(k=4), "my parcel is late", shots)
    assert msgs[0]["role"] == "system" and task.labels[0].description in msgs[0]["content"]
    assert '{"label"' in msgs[0]["content"]  # the JSON contract replaces the plain answer line
    assert [m["role"] for m in msgs[1:]] == ["user", "assistant"] * 4 + ["user"]
    naive = messages(task, PromptConfig(descriptions=False, output="text"), "x")[0]["content"]
    assert task.labels[0].description not in naive and "category name only" in naive


def test_classical_baseline_learns_the_task():
    ds = make_dataset(20, 15)
    test = ds.split("test")
    preds = approach_from_spec("classical:tfidf-lr").fit(ds.split("train"), ds.task).predict(test)
    accuracy = sum(p.label == e.label for p, e in zip(preds, test)) / len(test)
    assert accuracy > 0.6  # chance is 0.25
    assert all(p.cost_usd == 0 and p.latency_ms is not None and p.error is None for p in preds)


@pytest.mark.parametrize("spec, fam, model, words", [
    ("classical:tfidf-lr", "classifier", "tfidf-lr", "TF-IDF + logistic regression"),
    # MiniLM approaches ask no language model: embedding classifiers, not prompting or RAG.
    ("local:zero-shot", "classifier", "all-MiniLM-L6-v2", "MiniLM embeddings · label-description similarity"),
    ("local:few-shot:k=8", "classifier", "all-MiniLM-L6-v2", "MiniLM embeddings · class prototypes, 8 examples per class"),
    ("local:rag:k=8", "classifier", "all-MiniLM-L6-v2", "MiniLM embeddings · nearest-neighbour vote, 8 neighbours"),
    ("local:setfit:/w/models/job-3", "fine-tuned", "all-MiniLM-L6-v2", "SetFit (MiniLM) fine-tuned · job-3"),
    ("local:lora:/w/models/job-4", "fine-tuned", "gemma-3-270m", "Gemma 3 270M · LoRA fine-tuned · job-4"),
    ("openai:gpt-4o-mini:zero-shot", "prompting", "gpt-4o-mini", "gpt-4o-mini · zero-shot prompt"),
    ("openai:gpt-4o-mini:rag:k=8", "rag", "gpt-4o-mini", "gpt-4o-mini · RAG, 8 retrieved examples"),
    # a fine-tuned model stays fine-tuned however it is asked
    ("openai:ft:gpt-4o-mini-2024-07-18:org::abc12:zero-shot", "fine-tuned", "ft:gpt-4o-mini-2024-07-18:org::abc12",
     "gpt-4o-mini-2024-07-18 fine-tuned (abc12) · zero-shot prompt"),
])
def test_every_approach_is_filed_in_its_true_family_and_named_in_words(spec, fam, model, words):
    from core.backends import describe, family, model_of

    assert (family(spec), model_of(spec), describe(spec)) == (fam, model, words)


def test_a_method_registered_without_a_known_family_is_refused():
    from core.backends import register

    with pytest.raises(ValueError, match="family must be one of"):
        register("x", "y", family="prompt-ish")
