"""A small synthetic ticket task for the Evaluate tests: deterministic, not trivially separable.

Each text mixes words of its own label with filler and, for a share of texts, a
word of another label — so approaches land between chance and 100 %.
"""

from __future__ import annotations

import random

from core.data.dataset import Dataset, Example
from core.data.task import Label, Task

WORDS = {
    "billing": ["invoice", "charge", "refund", "payment", "billed", "receipt", "subscription fee"],
    "login": ["password", "sign in", "locked out", "two-factor code", "account access", "username"],
    "shipping": ["parcel", "delivery", "courier", "tracking number", "package", "shipment"],
    "bug": ["crash", "error message", "broken button", "app freezes", "blank screen", "glitch"],
}
GUIDES = {
    "billing": "invoices, charges, refunds and payment problems",
    "login": "password resets, sign in trouble and account access",
    "shipping": "delivery, parcel tracking and courier issues",
    "bug": "the app crashes, shows an error or a screen is broken",
}
FILLER = ["hello", "since yesterday", "please help", "this is urgent", "thanks", "again", "on my phone",
          "for the second time", "as soon as possible", "I tried everything"]


def make_task() -> Task:
    return Task(name="Synthetic tickets", labels=[Label(name=k, description=v) for k, v in GUIDES.items()])


def make_examples(n_per_label: int, split: str, seed: int = 0, confusion: float = 0.3) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for label, words in WORDS.items():
        for i in range(n_per_label):
            parts = [rng.choice(FILLER), f"my {rng.choice(words)}", rng.choice(FILLER)]
            if rng.random() < confusion:  # a word of another label: the ambiguous tickets
                other = rng.choice([lab for lab in WORDS if lab != label])
                parts.insert(rng.randrange(len(parts) + 1), f"also {rng.choice(WORDS[other])}")
            if rng.random() < 0.5:
                parts.append(rng.choice(words))
            parts.append(f"(ticket {split[:2]}{label[:2]}{i:04d})")  # every text unique, as real tickets are
            out.append(Example(id=f"{split}-{label}-{i}", text=" ".join(parts), label=label, split=split))
    rng.shuffle(out)
    return out


def make_dataset(train_per_label: int = 10, test_per_label: int = 15, seed: int = 0) -> Dataset:
    examples = make_examples(train_per_label, "train", seed) + make_examples(test_per_label, "test", seed + 1)
    return Dataset(name="synthetic tickets", task=make_task(), examples=tuple(examples))
