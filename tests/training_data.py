"""Small hand-written datasets for training tests (real text, two or three clear classes)."""

from core.data.dataset import Dataset, Example
from core.data.task import Label, Task

TASK = Task(
    name="billing or shipping",
    labels=[
        Label(name="billing", description="charges, refunds, invoices, payment methods"),
        Label(name="shipping", description="delivery, tracking, parcels, couriers"),
    ],
)

_TRAIN = [
    ("I was charged twice for my order", "billing"),
    ("Please refund the payment you took by mistake", "billing"),
    ("My invoice shows the wrong amount", "billing"),
    ("Can I pay with a different credit card?", "billing"),
    ("Where is my parcel? The tracking has not moved", "shipping"),
    ("The courier left the package at the wrong address", "shipping"),
    ("How long does delivery to Canada take?", "shipping"),
    ("My package arrived damaged in transit", "shipping"),
]
_DEV = [
    ("Why did my card get charged again?", "billing"),
    ("I need a copy of last month's invoice", "billing"),
    ("The delivery is three days late", "shipping"),
    ("Tracking number does not work", "shipping"),
]
_TEST = [
    ("Refund has not reached my bank account", "billing"),
    ("There is an extra fee on my bill", "billing"),
    ("The parcel was delivered to my neighbour", "shipping"),
    ("When will the courier come?", "shipping"),
]


def tiny_dataset() -> Dataset:
    examples = [Example(f"tr{i}", t, lab, "train") for i, (t, lab) in enumerate(_TRAIN)]
    examples += [Example(f"dv{i}", t, lab, "dev") for i, (t, lab) in enumerate(_DEV)]
    examples += [Example(f"te{i}", t, lab, "test") for i, (t, lab) in enumerate(_TEST)]
    return Dataset(name="tiny billing/shipping", task=TASK, examples=tuple(examples))


def repeated_dataset(per_class: int) -> Dataset:
    """The tiny dataset with its train split repeated (slightly varied) to `per_class` examples per class."""
    base = tiny_dataset()
    train = [e for e in base.examples if e.split == "train"]
    grown = [
        Example(f"tr{k}-{i}", f"{e.text} (ticket {k})", e.label, "train")
        for k in range(per_class // 4 + 1) for i, e in enumerate(train)
    ]
    by_label: dict[str, list[Example]] = {}
    for e in grown:
        by_label.setdefault(e.label, []).append(e)
    kept = [e for lab in by_label for e in by_label[lab][:per_class]]
    return Dataset(name=f"billing/shipping x{per_class}", task=TASK,
                   examples=tuple(kept + [e for e in base.examples if e.split != "train"]))
