"""What every provider does the same way: the chat records from a Dataset, their line-numbered checks against a
provider's documented limits, and the estimate from catalog prices.

The Dataset page's chat JSONL (`core.training.chat`) is the one training format; a provider converts it only
where its format differs. A file that would be refused raises `InvalidTrainingFile` before anything is sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from core.data.dataset import Dataset
from core.training.chat import chat_records, preference_records
from core.training.options import Estimate


class InvalidTrainingFile(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("the training file would be refused: " + "; ".join(problems[:5])
                         + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))
        self.problems = problems


@dataclass(frozen=True)
class Limits:
    """A provider's documented limits on a training file (None: no limit known)."""

    min_examples: int | None = None
    max_examples: int | None = None
    max_bytes: int | None = None
    max_example_tokens: int | None = None   # the catalog's per-model figure wins when it has one
    roles: tuple[str, ...] = ("system", "user", "assistant")
    source: str = ""


def training_records(dataset: Dataset, method: str = "supervised", split: str = "train", seed: int = 7) -> list[dict]:
    examples = [e for e in dataset.split(split) if e.label is not None]
    if method == "dpo":
        return preference_records(dataset.task, examples, seed=seed)
    return chat_records(dataset.task, examples)


def record_messages(record: dict) -> list[dict]:
    if "messages" in record:
        return record["messages"]
    return record["input"]["messages"] + record["preferred_output"]


def catalog_row(base_model: str):
    from core.catalog import load_catalog

    try:
        return load_catalog().get(base_model)
    except KeyError:
        return None


def validate(records: list[dict], dataset: Dataset, base_model: str, limits: Limits = Limits(),
             provider: str = "the provider") -> list[str]:
    """The errors that would make the provider refuse the file (empty: send it), each with its 1-based line —
    the Dataset page's own checks (core/data/validation.py) and the provider's documented limits; warnings do
    not block a launch."""
    from core.data import validation as checks
    from core.tokens import count_chat_tokens

    labels = dataset.task.label_names
    info = catalog_row(base_model)
    limit = (info.max_example_tokens if info else None) or limits.max_example_tokens
    found, answers, extra = [], [], []
    for line, rec in enumerate(records, 1):
        msgs = record_messages(rec)
        found += checks.check_messages(msgs, line)
        for m in msgs:
            if isinstance(m, dict) and m.get("role") not in limits.roles:
                extra.append(f"line {line}: role {m.get('role')!r} is not accepted by {provider} "
                             f"(only {', '.join(limits.roles)})")
        answer = msgs[-1].get("content") if msgs and isinstance(msgs[-1], dict) else None
        answers.append(answer)
        found += [f for f in (checks.check_label(str(answer), labels, line),
                              checks.check_tokens(count_chat_tokens(msgs, base_model), limit, base_model, line)) if f]
    found += checks.dataset_findings(answers, labels)
    problems = [f"line {f.line}: {f.message}" if f.line else f.message for f in checks.errors(found)] + extra
    n = len(records)
    if limits.min_examples and n < limits.min_examples:
        problems.append(f"{provider} needs at least {limits.min_examples} training examples; the file has {n}")
    if limits.max_examples and n > limits.max_examples:
        problems.append(f"{provider} accepts at most {limits.max_examples:,} training examples; the file has {n:,}")
    if limits.max_bytes and len(to_bytes(records)) > limits.max_bytes:
        problems.append(f"the file is {len(to_bytes(records)) / 1e6:.1f} MB; {provider} accepts at most "
                        f"{limits.max_bytes / 1e6:.0f} MB in one upload")
    return problems


def to_bytes(records: list[dict]) -> bytes:
    return ("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n").encode()


def estimate(dataset: Dataset, base_model: str, records: list[dict], epochs: int | None, *,
             notes: tuple[str, ...] = ()) -> Estimate:
    """Billed tokens (tokens in the file × epochs; OpenAI's default epochs when None) and their catalog price,
    with the price's source and date in the notes."""
    from core.economics import default_epochs, estimate_training
    from core.tokens import count_chat_tokens

    tokens = [count_chat_tokens(record_messages(r), base_model) for r in records]
    info = catalog_row(base_model)
    out = list(notes) + ["queue and training time depend on the provider (typically 10–60 min for a small file)"]
    if info is None or info.training_per_1m is None:
        out.append(f"{base_model} has no training price in the catalog: cost unknown (add it on the Decide page)")
        n_epochs = epochs or default_epochs(max(len(tokens), 1))
        return Estimate(None, 0.0, len(records), tokens=sum(tokens) * n_epochs, notes=tuple(out))
    est = estimate_training(info, tokens, epochs)
    out.insert(0, f"{est.epochs} epochs × {est.tokens_per_epoch:,} tokens at ${info.training_per_1m:g}/1M "
                  f"(catalog: {info.source}, checked {info.checked})")
    if not info.can_start_jobs():
        out.append(f"{info.id} accepts no new fine-tuning jobs since {info.no_new_jobs}")
    return Estimate(None, est.cost_usd, len(records), tokens=est.billed_tokens, notes=tuple(out))


def price_source(base_model: str) -> dict | None:
    """Where the training price comes from: {price_per_1m, source, checked} (None: not in the catalog)."""
    info = catalog_row(base_model)
    if info is None or info.training_per_1m is None:
        return None
    return {"training_per_1m": info.training_per_1m, "source": info.source, "checked": str(info.checked),
            "provider": info.provider}


def cost_of(base_model: str, trained_tokens: int | None) -> float | None:
    from core.economics import training_cost_usd

    info = catalog_row(base_model)
    if trained_tokens is None or info is None or info.training_per_1m is None:
        return None
    return training_cost_usd(info, trained_tokens)
