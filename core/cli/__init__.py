"""`python -m core <command>`: one module per command in this package.

A command module defines HELP (one line), `add_arguments(parser)` and
`run(args) -> Result`. Modules are discovered, so adding a command touches no
shared file. Every command accepts `--json`; its JSON output is a stable
contract for CI pipelines, so keys are only ever added, never renamed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Result:
    data: Any                      # what --json prints
    text: str = ""                 # what a person reads (defaults to the JSON, indented)
    exit_code: int = 0
    extra: dict = field(default_factory=dict)


class CommandError(Exception):
    """A clear, one-line reason; the CLI prints it and exits with `exit_code`."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


def open_dataset(args):
    """The workspace store and the dataset named by `--dataset` ('sample', a file, or a stored hash prefix)."""
    from core.data import sources
    from core.store import open_store

    store = open_store(args.workspace)
    try:
        return store, sources.resolve(store, args.dataset)
    except (KeyError, ValueError, OSError) as exc:
        raise CommandError(f"dataset {args.dataset!r}: {exc}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Fine-Tuning Lab from the command line.")
    parser.add_argument("--workspace", help="workspace folder (default: $FTLAB_WORKSPACE or ./workspace)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        name = getattr(module, "NAME", info.name.replace("_", "-"))
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        p.add_argument("--json", action="store_true", help="print machine-readable JSON")
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args._run(args)
    except CommandError as exc:
        if args.json:
            print(json.dumps({"error": str(exc)}))
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps(result.data, ensure_ascii=False, default=str))
    else:
        print(result.text or json.dumps(result.data, indent=2, ensure_ascii=False, default=str))
    return result.exit_code
