"""Local backend 2: LoRA on Gemma 3 270M. The real trainings take minutes: marked slow (run with -m slow)."""

import pytest

from core.training import jobs
from core.training.lora_local import _batch
from core.training.options import LoraOptions
from tests.training_data import repeated_dataset, tiny_dataset


def test_batches_are_left_padded_so_every_answer_ends_at_the_last_position():
    pairs = [([5, 6, 7], [100, 101]), ([8], [102, 103, 104])]
    ids, mask, targets, k = _batch(pairs, pad_id=0)
    assert k == 3
    assert ids.tolist() == [[5, 6, 7, 100, 101], [0, 8, 102, 103, 104]]
    assert mask.tolist() == [[1, 1, 1, 1, 1], [0, 1, 1, 1, 1]]
    assert targets.tolist() == [[-100, 100, 101], [102, 103, 104]]  # loss on the answer tokens only


@pytest.mark.slow
def test_a_lora_model_learns_the_labels_and_reloads_with_the_same_scores(gemma_base, tmp_path):
    from core.training.chat import chat_records
    from core.training.lora_local import LoraClassifier, base_ready

    ds = repeated_dataset(12)
    train, test = ds.split("train"), ds.split("test") + ds.split("dev")
    losses = []
    clf = LoraClassifier(LoraOptions(epochs=2, batch_size=8)).fit(
        chat_records(ds.task, train), ds.task, tmp_path / "models",
        on_metrics=lambda step, **v: losses.append(v["train_loss"]) if "train_loss" in v else None)
    assert base_ready(tmp_path / "models")
    assert losses[-1] < losses[0] / 2  # it learned to answer with the labels
    texts = [e.text for e in test]
    scores = clf.scores(texts)
    accuracy = sum(p == e.label for p, e in zip(clf.predict(texts), test)) / len(test)
    assert accuracy >= 0.75
    again = LoraClassifier.load(clf.save(tmp_path / "models" / "m"))
    assert abs(again.scores(texts) - scores).max() < 1e-2  # merged adapter, same model
    assert again.labels == ["billing", "shipping"]


@pytest.mark.slow
def test_a_lora_job_runs_in_the_worker_and_evaluates_as_an_approach(gemma_base, store):
    from core.evaluation import runs
    from core.backends import approach_from_spec
    from core.training.worker import launch_local

    ds = tiny_dataset()
    job = launch_local(store, "local-lora", ds, LoraOptions(epochs=1, batch_size=4), detach=False)
    assert job.status == "succeeded", job.error
    assert any("valid_loss" in p for p in jobs.metrics(store, job.id))
    assert job.approach_spec == f"local:lora:{job.id}"
    run = runs.execute(store, ds, approach_from_spec(job.approach_spec, store=store), "test")
    assert all(r["label"] in ("billing", "shipping") for r in runs.predictions(store, run.id))


def test_lora_scoring_is_the_restricted_label_scoring_of_the_whole_prompt(gemma_base, tmp_path):
    """The fine-tune scores labels like the prompting backend (label vocabulary only, the system prompt cached,
    texts batched): on the base model (an adapter changes the weights, not the rule) each text's batched
    scores equal each label appended to its whole prompt, scored without cache. The short prompt is the default:
    the instruction and the label names, no guidelines."""
    import numpy as np

    from core.backends.gemma import load_model
    from core.training.gemma_scorer import GemmaScorer
    from core.training.lora_local import LoraClassifier

    ds = tiny_dataset()
    model, tok = load_model(tmp_path / "models")
    clf = LoraClassifier(LoraOptions(), model, tok, ds.task)
    assert clf.options.prompt == "short"
    texts = [e.text for e in ds.split("test")[:3]]
    scores = clf.scores(texts)
    enc = clf._prepare()
    assert "Categories:" in enc.system and all(lab.description not in enc.system
                                               for lab in ds.task.labels if lab.description)
    sc = GemmaScorer(model, tok)
    for row, text in zip(scores, texts):
        reference = sc.score_uncached(enc.system_ids + enc.user_ids(text), clf._label_ids)
        assert np.abs(row - reference).max() < 2e-3, (row, reference)
    assert clf.predict(texts) == [ds.task.label_names[int(j)] for j in scores.argmax(1)]
