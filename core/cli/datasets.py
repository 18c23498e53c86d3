"""`python -m core datasets`: the dataset versions in the workspace store."""

from core.data import dataset
from core.cli import Result
from core.store import open_store

HELP = "list the dataset versions in the workspace (the bundled sample is always added)"


def add_arguments(parser) -> None:
    pass


def run(args) -> Result:
    store = open_store(args.workspace)
    dataset.save(store, dataset.load_sample())
    versions = dataset.list_versions(store)
    text = "\n".join(f"{v['hash']}  {v['examples']:>6} examples  {v['name']}" for v in versions)
    return Result(data=versions, text=text)
