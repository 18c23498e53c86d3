"""`python -m core validate FILE`: every problem of a fine-tuning file, with line numbers, in one pass.

Exit status: 0 clean (warnings allowed), 1 errors found, 2 the file cannot be read at all.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.data import report as datareport, importer
from core.cli import CommandError, Result
from core.data.task import Task

HELP = "validate a CSV/TSV/XLSX/JSONL training file: line-numbered errors, PII, duplicates, label issues, tokens, cost"


def add_arguments(parser) -> None:
    parser.add_argument("file", help="the file to check (CSV, TSV, XLSX, JSONL chat / text-label / preference pairs)")
    parser.add_argument("--model", default=datareport.DEFAULT_MODEL,
                        help=f"model whose tokenizer and per-example limit apply (default {datareport.DEFAULT_MODEL})")
    parser.add_argument("--text-column", help="column / key holding the text (default: guessed)")
    parser.add_argument("--label-column", help="column / key holding the label (default: guessed)")
    labels = parser.add_mutually_exclusive_group()
    labels.add_argument("--task", help="task.json whose labels the answers must match (default: the file's labels)")
    labels.add_argument("--labels", help="comma-separated label set the answers must match")
    parser.add_argument("--embeddings", choices=["auto", "on", "off"], default="auto",
                        help="semantic duplicates with the local MiniLM encoder (auto: when installed and ≤ 20,000 rows)")


def _task(args) -> Task | None:
    try:
        if args.task:
            return Task.load(args.task)
        if args.labels:
            return Task.from_labels([s.strip() for s in args.labels.split(",") if s.strip()], name=Path(args.file).stem)
    except (OSError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        raise CommandError(f"cannot use the label set: {str(exc).splitlines()[0]}", exit_code=2)
    return None


def run(args) -> Result:
    task = _task(args)
    mapping = importer.ColumnMapping(text=args.text_column, label=args.label_column)
    imported = importer.read_file(args.file, mapping)
    if imported.error:
        raise CommandError(imported.error, exit_code=2)
    for given, used in ((args.text_column, imported.mapping.text), (args.label_column, imported.mapping.label)):
        if given and imported.columns and given not in imported.columns:
            raise CommandError(f"no column {given!r} in {imported.name} (columns: {', '.join(imported.columns)})", exit_code=2)
    report = datareport.build(imported, task=task, model=args.model, embeddings={"on": True, "off": False}.get(args.embeddings, "auto"))
    data = report.to_json()
    return Result(data=data, text=_text(report, data), exit_code=report.exit_code)


def _text(report: datareport.DataReport, data: dict) -> str:
    lines = [f"{report.name}: {data['rows']} rows, {data['valid_rows']} usable ({report.format})"]
    for f in report.findings:
        where = f"line {f.line}" if f.line is not None else "dataset"
        lines.append(f"  {f.severity:7} {where:>10}  {f.code}: {f.message}")
    for key in ("pii", "duplicates", "conflicts", "label_issues"):
        if data[key]:
            lines.append(f"  {key.replace('_', ' ')}: {len(data[key])}  e.g. {json.dumps(data[key][0], ensure_ascii=False)}")
    t = data["tokens"]
    if t.get("total"):
        lines.append(f"  tokens ({t['model']}, {t['encoding']}): total {t['total']:,}, median {t['median']}, max {t['max']}")
    for model, usd in data["training_cost_usd"].items():
        lines.append(f"  training {model}: {data['tokens']['epochs'][model]} epochs, "
                     f"{data['tokens']['billed_training_tokens'][model]:,} billed tokens, ${usd:,.2f}")
    lines += [f"  note: {n}" for n in report.notes]
    lines += [f"  advice: {a}" for a in report.advice]
    return "\n".join(lines)
