"""A chat JSONL with known problems of every kind the validator reports, written the same way every time.

`python tests/validation_sample.py FILE` writes it; `tests/test_validation_golden.py` checks that the
validator's findings on it are exactly those recorded in tests/data/validate_golden.json (made with the
validator before it was sped up), so a faster validator cannot silently find less.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lines no template makes: PII of every kind, broken structure, labels outside the set, near-duplicates.
EXTRA_TEXTS = [
    "Please wire it to DE89 3704 0044 0532 0130 00 today",
    "My SSN is 078-05-1120, update my account",
    "ssn: 219099999 for the tax form",
    "The hub at 192.168.1.20 and fe80::1ff:fe23:4567:890a drop offline",
    "Send the parcel to Hauptstraße 5, 10115 Berlin",
    "Livraison au 12 rue de la Paix, Paris",
    "I moved to 1600 Pennsylvania Ave NW last week",
    "Call +44 20 7946 0958 or (415) 555-0134 after 5",
    "Order 123456789012 was never delivered",  # an order number, not a card: no PII
    "Card 4111-1111-1111-1111 expired, which one do you have?",
    "Email me: jane.doe+tickets@mail.example.co.uk",
    "The camera app crashes when I open it after the update",
    "The camera app crashes when I open it after the update!",
    "the camera app crashes when i open it after the latest update",
    "Crème brûlée thermostat ﬁrmware à l'heure",
]


def _generator():
    spec = importlib.util.spec_from_file_location("validate_100k", ROOT / "bench" / "validate_100k.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write(path: Path, lines: int = 3000) -> Path:
    _generator().generate(path, lines, seed=1)
    system = {"role": "system", "content": "Classify the ticket."}
    extra = []
    for i, text in enumerate(EXTRA_TEXTS):
        label = ["technical_issue", "billing_payments", "order_status"][i % 3]
        extra.append({"messages": [system, {"role": "user", "content": text}, {"role": "assistant", "content": label}]})
    extra += [
        {"messages": [system, {"role": "user", "content": "Where is my parcel?"}, {"role": "assistant", "content": "Order_Status"}]},
        {"messages": [system, {"role": "user", "content": "Refund please"}]},
        {"messages": [system, {"role": "robot", "content": "hi"}, {"role": "assistant", "content": "other"}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "parts work too"}]}, {"role": "assistant", "content": "other"}]},
        {"messages": [system, {"role": "user", "content": ""}, {"role": "assistant", "content": "other"}]},
        {"prompt": "not a chat line"},
        {"messages": [system, {"role": "user", "content": "Where is my parcel?"}, {"role": "assistant", "content": "returns_refunds"}],
         "extra": 1},
    ]
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n".join(json.dumps(o, ensure_ascii=False) for o in extra) + "\n[1, 2]\n\n")
    return path


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    write(Path(sys.argv[1]))
