"""`python -m core tokens`: exact token counts, offline."""

import json
import sys

from core import tokens
from core.cli import CommandError, Result

HELP = "count tokens of a text (or of chat messages) for a model, offline and exact"


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, help="e.g. gpt-4o-mini-2024-07-18 or an ft: name")
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--text", help="the text (default: standard input)")
    src.add_argument("--messages", help="a JSON list of chat messages; counts the prompt as billed")


def run(args) -> Result:
    encoding = tokens.encoding_name_for_model(args.model)
    if args.messages is not None:
        try:
            messages = json.loads(args.messages)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--messages is not valid JSON: {exc}")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise CommandError("--messages must be a JSON list of objects")
        n = tokens.count_chat_tokens(messages, args.model)
    else:
        text = args.text if args.text is not None else sys.stdin.read()
        n = tokens.count_tokens(text, args.model)
    return Result(data={"encoding": encoding, "tokens": n}, text=f"{n} tokens ({encoding})")
