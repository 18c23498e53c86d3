"""Validate a generated 100,000-line chat JSONL the way a user would, and print seconds and peak RSS.

    flock /tmp/ftlab-cpu.lock python bench/validate_100k.py [--lines N] [--stages]

The file uses the sample task's system prompt (label names only), ticket
texts built from templates, 1 % PII, 2 % exact duplicates, 1 % label noise and
a few broken lines. The headline runs `python -m core validate FILE --json` in a
child process (imports included) and reads its peak RSS from the kernel.
Target on this 2-core machine: ≤ 10 s and ≤ 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SUBJECTS = {
    "order_status": ["my parcel", "order {n}", "the delivery", "my package", "the courier"],
    "returns_refunds": ["the return label", "a refund for order {n}", "the broken bulb", "an exchange", "the faulty plug"],
    "billing_payments": ["a double charge", "invoice {n}", "my card payment", "the VAT receipt", "the promo code"],
    "subscription": ["Lumen Plus", "my plan renewal", "the annual tier", "the trial month", "cancelling Plus"],
    "technical_issue": ["the hub", "the camera app", "the thermostat", "pairing the plug", "firmware {n}"],
    "account_access": ["my password", "the login code", "two-factor setup", "my locked account", "the email change"],
    "feature_request": ["a dark mode", "scenes for bulbs", "a widget", "geofencing", "an API"],
    "other": ["your opening hours", "a job application", "press enquiry", "a partnership", "the warehouse address"],
}
OPENERS = ["Hi,", "Hello team,", "Hey,", "Good morning,", "", "Dear support,"]
VERBS = ["I need help with", "there is a problem with", "can you check", "what is going on with", "please look at", "question about"]
TAILS = ["", "Thanks!", "It is urgent.", "This is the second time I write.", "Kind regards, Sam", "Please reply soon."]
PII = [" Call me on +1 415 555 0134.", " My email is sam.jones@example.com.", " Card 4111 1111 1111 1111 was used.",
       " I live at 221B Baker Street."]


def generate(path: Path, n: int, seed: int = 0) -> None:
    from core.data.dataset import load_sample

    # The bare label list, as fine-tuning files usually carry (a tuned model needs no guidelines); the
    # guideline prompt would make the file ~550 MB, over OpenAI's 512 MB limit for a training file.
    system = load_sample().task.system_prompt(with_descriptions=False)
    labels = list(SUBJECTS)
    rng = random.Random(seed)
    lines: list[str] = []
    for i in range(n):
        if lines and rng.random() < 0.02:
            lines.append(rng.choice(lines))  # an exact duplicate
            continue
        label = rng.choice(labels)
        text = " ".join(filter(None, [rng.choice(OPENERS), rng.choice(VERBS), rng.choice(SUBJECTS[label]).format(n=rng.randint(10_000, 99_999)),
                                      f"(ref {i})", rng.choice(TAILS)]))
        if rng.random() < 0.01:
            text += rng.choice(PII)
        answer = rng.choice(labels) if rng.random() < 0.01 else label
        lines.append(json.dumps({"messages": [{"role": "system", "content": system}, {"role": "user", "content": text},
                                              {"role": "assistant", "content": answer}]}))
    for k in range(10):  # a few broken lines, as real exports have
        lines[rng.randrange(n)] = lines[rng.randrange(n)][:-30]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def stages(path: Path) -> None:
    """In-process breakdown by report stage, wall and CPU (imports counted in the first stage).

    CPU is this process's (all threads): on shared cores it shows the work done where wall shows the wait.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    from core.data import report as datareport, importer

    imported = importer.read_file(path)
    t1, c1 = time.perf_counter(), time.process_time()
    print(f"  {'import+parse':40}  {t1 - t0:6.2f} s wall {c1 - c0:6.2f} s CPU  ({imported.records:,} records)")
    last = [t1, c1, "labels+tokens"]

    def progress(_fraction: float, message: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        print(f"  {last[2][:40]:40}  {now - last[0]:6.2f} s wall {cpu - last[1]:6.2f} s CPU")
        last[:] = [now, cpu, message]

    datareport.build(imported, progress=progress)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--stages", action="store_true", help="also print an in-process breakdown by stage")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chat.jsonl"
        t = time.perf_counter()
        generate(path, args.lines)
        print(f"generated {args.lines:,} lines ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "core", "validate", str(path), "--json"], cwd=ROOT,
                              capture_output=True, text=True)
        seconds = time.perf_counter() - t
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        rss_mb, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
        if proc.returncode not in (0, 1):
            print(proc.stderr, file=sys.stderr)
            return 1
        data = json.loads(proc.stdout)
        load = os.getloadavg()[0]
        print(f"validate: {seconds:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss_mb:.0f} MB (target ≤ 10 s, ≤ 1024 MB), "
              f"exit {proc.returncode}; load average {load:.1f} on {os.cpu_count()} cores")
        if seconds > 10 and cpu <= 10:
            print(f"  the wall time is over the 10 s target while the work itself is {cpu:.1f} s of CPU: "
                  f"the {os.cpu_count()} cores were shared (load average {load:.1f})")
        print(f"  rows {data['rows']:,}, valid {data['valid_rows']:,}, errors {len(data['errors'])}, warnings {len(data['warnings'])}, "
              f"pii {len(data['pii'])}, duplicate groups {len(data['duplicates'])}, conflicts {len(data['conflicts'])}, "
              f"label issues {len(data['label_issues'])}, tokens {data['tokens']['total']:,}")
        if args.stages:
            stages(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
