"""`python -m core workspace export|import ARCHIVE`: back up the notebook to one file, restore it anywhere.

The target is the configured store: `--workspace` / $FTLAB_WORKSPACE (SQLite), or the PostgreSQL
database of $FTLAB_DATABASE_URL — so a workspace moves between the two with an export and an import.
"""

from __future__ import annotations

import argparse

from core import backup
from core.cli import CommandError, Result
from core.store import open_store

HELP = "back up the workspace's notebook (every table + model manifests) to a .zip, or restore one"


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    exp = sub.add_parser("export", help="write the notebook to ARCHIVE (.zip); no key is ever in it")
    exp.add_argument("archive", metavar="ARCHIVE")
    exp.add_argument("--with-weights", action="store_true",
                     help="also pack the trained local models' weights (large; by default only their manifests)")
    exp.add_argument("--force", action="store_true", help="replace ARCHIVE if it exists")
    imp = sub.add_parser("import", help="restore ARCHIVE into the configured workspace or database (must be empty)")
    imp.add_argument("archive", metavar="ARCHIVE")
    imp.add_argument("--merge", action="store_true",
                     help="add the archive's rows to a non-empty target (rows it already has are kept as they are)")
    for p in (exp, imp):  # `--json` after the action too (the parent parser's flag must come before it)
        p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print machine-readable JSON")


def run(args) -> Result:
    store = open_store(args.workspace)
    try:
        if args.action == "export":
            m = backup.export_archive(store, args.archive, with_weights=args.with_weights, force=args.force)
            rows = sum(t["rows"] for t in m["tables"].values())
            data = {"archive": args.archive, "schema": m["schema"][-1] if m["schema"] else None, "source": m["source"],
                    "tables": {t: i["rows"] for t, i in m["tables"].items()}, "rows": rows,
                    "models": [x["name"] for x in m["models"]], "weights_included": args.with_weights}
            text = (f"wrote {args.archive}: {rows} rows in {len(m['tables'])} tables from {m['source']}, "
                    f"{len(m['models'])} model manifest(s){' with weights' if args.with_weights else ''}; "
                    f"schema {data['schema']}")
            return Result(data=data, text=text)
        result = backup.import_archive(store, args.archive, merge=args.merge)
        return Result(data=result, text=backup.describe(result))
    except backup.ArchiveError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        store.close()
