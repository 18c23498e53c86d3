"""`python -m core preload`: the pre-computed sample results shipped in data/results."""

import contextlib
import sys

from core.evaluation import preload
from core.cli import CommandError, Result
from core.store import open_store

HELP = "import the shipped sample results into the workspace, or --regenerate them with real runs"


def add_arguments(parser) -> None:
    parser.add_argument("--regenerate", action="store_true",
                        help="train and run the approaches on the sample's test split in a fresh temporary workspace "
                             f"and rewrite {preload.BUNDLE_PATH.name} (prints its time)")
    parser.add_argument("--approach", action="append", metavar="SPEC",
                        help="with --regenerate: the approaches (default: " + ", ".join(preload.DEFAULT_APPROACHES) + ")")
    parser.add_argument("--train", action="append", metavar="BACKEND",
                        help="with --regenerate: fine-tune with these backends first and evaluate the models "
                             "(default: " + ", ".join(preload.DEFAULT_TRAININGS) + ")")


def run(args) -> Result:
    if args.regenerate:
        # Always in a fresh temporary workspace (every run recomputed); the workspace given is not touched.
        # Trainers print their logs to stdout; stdout is the JSON contract, so they talk to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            bundle = preload.regenerate(args.approach or preload.DEFAULT_APPROACHES,
                                        trainings=args.train if args.train is not None else preload.DEFAULT_TRAININGS)
        data = {"written": str(preload.BUNDLE_PATH), "dataset_hash": bundle["dataset_hash"],
                "runs": [r["approach"] for r in bundle["runs"]], "versions": bundle["versions"],
                "seconds": bundle["seconds"]}
        return Result(data, text=f"wrote {len(bundle['runs'])} runs to {preload.BUNDLE_PATH} "
                                 f"in {bundle['seconds'] / 60:.1f} min")
    store = open_store(args.workspace)
    if preload.load_bundle() is None:
        raise CommandError(f"no bundle at {preload.BUNDLE_PATH}; create it with {preload.REGENERATE_COMMAND}")
    added = preload.ensure_preloaded(store)
    return Result({"imported_runs": added}, text=f"imported {len(added)} runs")
