"""Prompt optimization against the loopback OpenAI-compatible server: budget, cache, honesty, promotion, export."""

import json
import threading

import pytest

from core.prompts import store as prompt_store

from core import responses

from core.evaluation import runs
from core.backends import approach_from_spec
from core.data.dataset import Dataset
from core.endpoint import Endpoint
from core.prompts.search import Budget, CallOptions, PromptSearch, estimate, latest, optimize
from core.prompts.space import SearchSpace
from tests.eval_data import make_examples, make_task

MODEL = "gpt-4.1-mini"  # a catalog model, so that dollars are priced; the fake server answers any id
TARGET = f"openai:{MODEL}"
SPACE = SearchSpace(retriever="tfidf", meta_rewrites=0)  # TF-IDF retrieval: no torch in these tests
CONCURRENCY = 64  # every batch fully parallel


def endpoint(server, api_key=None, **kw) -> CallOptions:
    return CallOptions(Endpoint(api_key=api_key, base_url=server.base_url),
                       concurrency=kw.pop("concurrency", CONCURRENCY), **kw)


def dataset(dev_per_label=16, test_per_label=6) -> Dataset:
    examples = (make_examples(10, "train", 0) + make_examples(dev_per_label, "dev", 1)
                + make_examples(test_per_label, "test", 2))
    return Dataset(name="synthetic tickets", task=make_task(), examples=tuple(examples))


def billed(server) -> int:
    return sum(server.billed.values())


def test_a_search_spends_exactly_its_call_budget_and_a_rerun_makes_no_call(store, fake_openai):
    ds, budget = dataset(), Budget(calls=230)
    ep = endpoint(fake_openai)
    est = estimate(store, ds, TARGET, budget, SPACE, ep)
    assert est.calls <= budget.calls and est.tried < est.candidates  # the budget binds: a real search, not a sweep
    first = optimize(store, ds, TARGET, budget, SPACE, ep)
    assert billed(fake_openai) == first.calls_used == budget.calls  # stops exactly at the budget, counted exactly
    assert fake_openai.duplicate_paid_calls() == 0
    assert responses.count(store) == budget.calls  # every paid answer is in the store
    assert first.status == "finished" and first.chosen is not None

    fake_openai.reset_counters()
    again = optimize(store, ds, TARGET, budget, SPACE, ep)
    assert len(fake_openai.requests) == 0 and again.calls_used == 0  # all from the store
    assert again.chosen.hash == first.chosen.hash
    assert [(r.hash, r.dev_accuracy, r.dev_n) for r in again.candidates] == \
           [(r.hash, r.dev_accuracy, r.dev_n) for r in first.candidates]
    assert again.test == first.test


def test_the_chosen_prompt_beats_the_naive_one_and_test_is_scored_once_after(store, fake_openai):
    ds = dataset()
    result = optimize(store, ds, TARGET, Budget(calls=400), SPACE, endpoint(fake_openai))
    naive = result.naive
    assert naive.naive and naive.k == 0 and naive.descriptions == "none" and naive.dev_n == len(ds.split("dev"))
    assert result.chosen.dev_accuracy > result.naive_dev_accuracy
    assert result.chosen.dev_n == len(ds.split("dev"))
    assert result.test["chosen_accuracy"] is not None and result.test["naive_accuracy"] is not None
    # Test runs exist for the chosen and the naive prompt only; every other candidate saw dev only.
    test_runs = {r["approach"] for r in runs.list_runs(store, ds.hash, "test")}
    assert test_runs == {result.chosen.spec, naive.spec}
    assert len(runs.list_runs(store, ds.hash, "dev")) == len(result.candidates)
    # Successive halving: most candidates were dropped on a short dev prefix.
    assert min(r.dev_n for r in result.candidates) < len(ds.split("dev")) / 2
    rows = {r.hash: r for r in result.candidates}
    assert rows[result.chosen.hash].chosen and sum(r.chosen for r in result.candidates) == 1
    assert all(r.tokens_per_call and r.cost_per_1k_usd and r.measured for r in result.candidates)
    front = [r for r in result.candidates if r.pareto_tokens]
    assert front and all(r.dev_n == len(ds.split("dev")) for r in front)
    # The stored prompts carry the scores; the optimization is recorded with its result.
    rec = prompt_store.get(store, result.chosen.hash)
    assert rec.dev_accuracy == result.chosen.dev_accuracy and rec.test_accuracy == result.test["chosen_accuracy"]
    assert latest(store, ds.hash)["result"]["chosen"]["hash"] == result.chosen.hash


def test_the_dollar_budget_is_a_hard_cap(store, fake_openai):
    ds = dataset()
    ep = endpoint(fake_openai)
    est = estimate(store, ds, TARGET, Budget(calls=10_000, usd=0.02), SPACE, ep)
    assert est.usd is not None and est.usd <= 0.02 + 1e-9 and est.calls < 10_000
    result = optimize(store, ds, TARGET, Budget(calls=10_000, usd=0.02), SPACE, ep)
    assert 0 < result.usd_used <= 0.02
    spent = sum(r["cost_usd"] or 0 for r in store.query("SELECT cost_usd FROM predictions"))
    assert spent == pytest.approx(result.usd_used)
    with pytest.raises(ValueError, match="price of .* is unknown"):
        estimate(store, ds, "openai:my-own-llama", Budget(calls=500, usd=1.0), SPACE, ep)


def test_too_small_a_budget_says_how_much_is_needed(store, fake_openai):
    with pytest.raises(ValueError, match="give at least"):
        estimate(store, dataset(), TARGET, Budget(calls=50), SPACE, endpoint(fake_openai))


def test_the_model_proposes_instructions_from_the_best_and_their_errors(store, fake_openai):
    asked = []

    def propose(body):
        asked.append(body)
        return json.dumps({"instructions": [
            "Route the ticket by the product area it names: invoices and charges are billing, parcels are shipping.",
            "Pick the category whose words appear in the ticket; billing means money, login means access.",
        ]})

    fake_openai.general_answer = propose
    ds = dataset()
    space = SearchSpace(retriever="tfidf", meta_rewrites=2)
    result = optimize(store, ds, TARGET, Budget(calls=400), space, endpoint(fake_openai))
    assert len(asked) == 1
    prompt = asked[0]["messages"][-1]["content"]
    assert "accuracy" in prompt and "Correct label:" in prompt  # OPRO-style: scored instructions and mistakes
    meta = [r for r in result.candidates if r.origin == "meta"]
    assert [r.instruction_name for r in meta] == ["meta-1", "meta-2"]
    assert meta[0].instruction.startswith("Route the ticket")
    fake_openai.reset_counters()
    optimize(store, ds, TARGET, Budget(calls=400), space, endpoint(fake_openai))
    assert len(fake_openai.requests) == 0 and len(asked) == 1  # the proposal request is cached too


def test_stop_keeps_what_was_scored_and_a_rerun_goes_on_for_free(store, fake_openai):
    ds = dataset()
    ep = endpoint(fake_openai)
    stop = threading.Event()
    seen = []

    def progress(p):
        seen.append(p.phase)
        if p.phase.startswith("round"):
            stop.set()

    stopped = optimize(store, ds, TARGET, Budget(calls=300), SPACE, ep, progress=progress, stop=stop)
    assert stopped.status == "stopped" and stopped.test["chosen_accuracy"] is None
    paid = billed(fake_openai)
    assert 0 < paid < 300
    fake_openai.reset_counters()
    done = optimize(store, ds, TARGET, Budget(calls=300), SPACE, ep)
    assert done.status == "finished"
    assert billed(fake_openai) == done.calls_used <= 300 - paid  # what the stopped run paid for is not paid again


def test_promoted_prompt_is_the_baseline_and_runs_as_an_approach(store, fake_openai):
    ds = dataset()
    ep = endpoint(fake_openai)
    result = optimize(store, ds, TARGET, Budget(calls=300), SPACE, ep)
    assert prompt_store.promoted_baseline(store, ds.hash) is None
    rec = prompt_store.promote(store, result.chosen.hash)
    base = prompt_store.promoted_baseline(store, ds.hash)
    assert base.hash == result.chosen.hash and base.version == 1 and base.spec == result.chosen.spec
    assert base.spec == f"openai:{MODEL}:prompt:{base.hash}"
    # Evaluate runs it by its spec; the test answers are cached, so this costs nothing.
    fake_openai.reset_counters()
    approach = approach_from_spec(base.spec, store=store, base_url=fake_openai.base_url)
    run = runs.execute(store, ds, approach, "test")
    rows = runs.predictions(store, run.id)
    assert sum(r["label"] == r["gold"] for r in rows) / len(rows) == pytest.approx(rec.test_accuracy)
    assert len(fake_openai.requests) == 0
    # Promoting another makes it the only baseline, with the next version; the old one keeps its number.
    other = next(r for r in result.candidates if not r.chosen)
    again = prompt_store.promote(store, other.hash)
    assert again.version == 2 and prompt_store.promoted_baseline(store, ds.hash).hash == other.hash
    assert prompt_store.get(store, rec.hash).version == 1 and not prompt_store.get(store, rec.hash).promoted
    with pytest.raises(ValueError, match="no prompt"):
        approach_from_spec(f"openai:{MODEL}:prompt:ffffffffff", store=store)


def test_export_is_a_plain_prompt_without_secrets(store, fake_openai):
    ds = dataset()
    ep = endpoint(fake_openai, api_key="sk-secret-123")
    result = optimize(store, ds, TARGET, Budget(calls=300), SearchSpace(retriever="tfidf", meta_rewrites=0,
                                                                          ks=(2,), selections=("balanced",)), ep)
    doc = prompt_store.export(store, result.chosen.hash)
    assert doc["labels"] == ds.task.label_names and "Categories:" in doc["system"]
    assert len(doc["examples"]) == 2 and {"user", "assistant"} == set(doc["examples"][0])
    text = prompt_store.export_text(doc)
    assert doc["system"] in text and doc["examples"][0]["user"] in text
    dump = json.dumps(doc) + text + json.dumps(prompt_store.get(store, result.chosen.hash).to_dict())
    assert "sk-secret-123" not in dump
    stored = " ".join(r[0] for r in store.query("SELECT settings_json || COALESCE(result_json, '') FROM optimizations"))
    assert "sk-secret-123" not in stored


def test_cli_prints_candidates_the_choice_and_the_naive_accuracy(workspace, fake_openai, tmp_path, capsys, monkeypatch):
    from core.cli import main

    csv = tmp_path / "tickets.csv"
    ds = dataset()
    csv.write_text("text,label,split\n" + "".join(f"\"{e.text}\",{e.label},{e.split}\n" for e in ds.examples))
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    code = main(["optimize", "--dataset", str(csv), "--backend", TARGET, "--budget-calls", "300", "--retriever",
                 "tfidf", "--meta", "0", "--concurrency", "64", "--json", "--quiet"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {"dev_accuracy", "tokens_per_call", "cost_per_1k_usd"} <= set(out["candidates"][0])
    assert out["chosen"]["hash"] and out["naive_dev_accuracy"] is not None and out["test_accuracy"] is not None
    assert out["calls_used"] == billed(fake_openai) <= 300
    code = main(["optimize", "--dataset", str(csv), "--backend", "openai:x", "--budget-calls", "10", "--json"])
    assert code == 2 and "give at least" in json.loads(capsys.readouterr().out)["error"]


def test_plan_is_what_the_search_spends_on_an_empty_cache(store, fake_openai):
    ds = dataset()
    search = PromptSearch(store, ds, TARGET, Budget(calls=260), SPACE, endpoint(fake_openai))
    est = search.estimate()
    result = search.run()
    assert len({r.hash for r in result.candidates}) == est.tried
    assert sorted({r.round for r in result.candidates}) == list(range(est.rounds))
    first_round = sorted(r.dev_n for r in result.candidates)[0]
    assert first_round == est.first_round_n
