"""`python -m core export MODEL --format …`: take a model trained on this machine with you.

    python -m core export job-abc123 --format merged --out exports/
    python -m core export job-abc123 --format setfit --zip --json

MODEL is a job id (`python -m core jobs`), a model folder of the registry, or its `local:<family>:<job>` spec.
Formats: a Gemma LoRA → adapter | merged | ollama; a SetFit model → setfit (core/training/export.py).
An existing folder or file is never overwritten: the export takes the next free name (-2, -3, …).
"""

from __future__ import annotations

import sys

from core.cli import CommandError, Result
from core.store import open_store
from core.training import export

HELP = "export a local model (Gemma LoRA: adapter, merged, ollama; SetFit: setfit) as a folder or .zip"


def add_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="job id, model folder, or local:<family>:<job> spec")
    parser.add_argument("--format", required=True, choices=sorted(export.FORMAT_HELP),
                        help="; ".join(f"{k}: {v}" for k, v in export.FORMAT_HELP.items()))
    parser.add_argument("--out", default=None, help="folder to write into (default: <workspace>/exports)")
    parser.add_argument("--zip", action="store_true", help="write one .zip instead of a folder")


def run(args) -> Result:
    from core.training.worker import workspace_of

    store = open_store(args.workspace)
    out = args.out or workspace_of(store) / "exports"
    try:
        made = export.export_model(store, args.model, args.format, out, as_zip=args.zip,
                                   on_message=lambda m: print(m, file=sys.stderr, flush=True))
    except (ValueError, FileNotFoundError, ImportError) as exc:
        raise CommandError(str(exc)) from exc
    text = "\n".join([f"exported {made.format} to {made.path}"] + [f"  · {n}" for n in made.notes])
    return Result(made.to_dict(), text)
