"""The model catalog: what each model costs, how it tokenises, whether and until when it can be fine-tuned.

The bundled `data/catalog.toml` is never edited by users. Their own rows (a
self-hosted model, another provider, a corrected price) come from a
`catalog.toml` in the workspace or from rows saved on the Decide page into the
store (`catalog_rows`); a later row with the same id updates the fields it names
and keeps the earlier row's other fields (`Catalog.with_rows`).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.config import DATA_DIR, load_settings

if TYPE_CHECKING:
    from core.store import Store

BUNDLED_PATH = DATA_DIR / "catalog.toml"
WORKSPACE_FILE = "catalog.toml"
# The date suffix OpenAI puts on snapshots: gpt-4o-2024-11-20 prices like its undated alias gpt-4o.
_DATE_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")


class ModelInfo(BaseModel):
    """One catalog row. Prices are US$ per 1M tokens; `batch_discount` is the fraction the Batch API takes off."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, description="the model id as the API names it, e.g. gpt-4o-mini-2024-07-18")
    provider: str = Field(min_length=1, description="openai, local, or any name for another provider")
    encoding: str = Field("o200k_base", description="tiktoken encoding used to count this model's tokens")
    input_per_1m: float = Field(ge=0)
    cached_input_per_1m: float | None = Field(None, ge=0)
    output_per_1m: float = Field(ge=0)
    training_per_1m: float | None = Field(None, ge=0, description="fine-tuning price per 1M trained tokens")
    ft_input_per_1m: float | None = Field(None, ge=0, description="inference price of a fine-tune of this model")
    ft_cached_input_per_1m: float | None = Field(None, ge=0)
    ft_output_per_1m: float | None = Field(None, ge=0)
    batch_discount: float = Field(0.5, ge=0, le=1)
    fine_tunable: bool = False
    no_new_jobs: dt.date | None = Field(None, description="from this day the provider accepts no new fine-tuning jobs")
    retires: dt.date | None = Field(None, description="from this day the model and its fine-tunes stop answering")
    max_example_tokens: int | None = Field(None, gt=0, description="per-example token limit for fine-tuning")
    cache_min_tokens: int | None = Field(
        None, ge=0, description="prompt caching starts at this many identical prefix tokens (OpenAI: 1,024)")
    cache_step_tokens: int | None = Field(
        None, gt=0, description="beyond the minimum the cached prefix grows in steps of this many tokens (OpenAI: 128)")
    successor: str | None = Field(
        None, description="the model that replaces this one when it retires (its own row says whether it can be fine-tuned)")
    source: str = Field(min_length=1, description="where the figures come from")
    checked: dt.date = Field(description="the day the figures were last checked")
    aliases: tuple[str, ...] = ()
    label: str = ""
    latency_ms: float | None = Field(None, ge=0, description="typical per-call latency, where measured")
    latency_note: str = ""
    origin: Literal["bundled", "workspace", "store"] = "bundled"

    @property
    def display_name(self) -> str:
        return self.label or self.id

    def can_start_jobs(self, on: dt.date | None = None) -> bool:
        """Whether a new fine-tuning job on this model can still be started on the given day."""
        on = on or dt.date.today()
        if not self.fine_tunable or (self.retires is not None and on >= self.retires):
            return False
        return self.no_new_jobs is None or on < self.no_new_jobs

    def cacheable_tokens(self, shared_prefix_tokens: float) -> int:
        """Tokens of a repeated prompt prefix the provider serves from its cache: none below the minimum,
        then the minimum plus whole steps (OpenAI: 1,024, then 128 at a time), never more than the prefix.
        A row without a cached-input price caches nothing; one with a price but no stated minimum caches
        the whole prefix."""
        prefix = int(max(shared_prefix_tokens, 0))
        if self.cached_input_per_1m is None:
            return 0
        low = self.cache_min_tokens or 0
        if prefix < low or prefix == 0:
            return 0
        step = self.cache_step_tokens or 1
        return low + (prefix - low) // step * step

    def is_retired(self, on: dt.date | None = None) -> bool:
        return self.retires is not None and (on or dt.date.today()) >= self.retires

    def to_row(self) -> dict:
        """The row as plain TOML/JSON-friendly values (what the custom-row editor shows and stores)."""
        return self.model_dump(mode="json", exclude={"origin"})


class CatalogError(ValueError):
    """A catalog file or stored row is malformed; the message names the file and the row."""


@dataclass
class Catalog:
    models: dict[str, ModelInfo] = field(default_factory=dict)

    def __iter__(self):
        return iter(self.models.values())

    def __len__(self) -> int:
        return len(self.models)

    def __contains__(self, model_id: str) -> bool:
        try:
            self.get(model_id)
        except KeyError:
            return False
        return True

    def ids(self) -> list[str]:
        return list(self.models)

    def get(self, model_id: str) -> ModelInfo:
        """The row for a model id, a fine-tune of it (`ft:BASE:org:suffix:id`), an alias or a dated snapshot.

        Raises KeyError naming the known ids when nothing matches.
        """
        found = self._resolve(model_id.strip())
        if found is None:
            raise KeyError(f"unknown model {model_id!r}; the catalog knows: {', '.join(self.models)}")
        return found

    def _resolve(self, name: str) -> ModelInfo | None:
        if name.startswith("ft:"):
            # ft:gpt-4o-mini-2024-07-18:org:suffix:id (and :ckpt-step-N checkpoints): the base is field 1.
            parts = name.split(":")
            return self._resolve(parts[1]) if len(parts) > 1 and parts[1] else None
        if name in self.models:
            return self.models[name]
        for info in self.models.values():
            if name in info.aliases:
                return info
        undated = _DATE_SUFFIX.sub("", name)
        if undated != name:
            return self._resolve(undated)
        return None

    def successor_of(self, info: ModelInfo) -> ModelInfo | None:
        """The row of the model that replaces `info` when it retires (None: none named, or not in the catalog)."""
        return self._resolve(info.successor.strip()) if info.successor else None

    def fine_tunable(self, provider: str | None = None, on: dt.date | None = None) -> list[ModelInfo]:
        """Models that accept new fine-tuning jobs on the given day (default today), optionally of one provider."""
        return [m for m in self if m.can_start_jobs(on) and (provider is None or m.provider == provider)]

    def with_rows(self, rows: list[dict], origin: str, where: str) -> "Catalog":
        """A new catalog with these raw rows applied: a row whose id exists updates that row's fields
        (the fields it names replace those of the earlier row; the others are kept), a new id adds a row. Every override must state its own `source` and `checked`, so a changed
        price never shows the bundled row's provenance."""
        merged = dict(self.models)
        for i, raw in enumerate(rows):
            at = f"{where}: row #{i + 1} ({raw.get('id', 'no id')})"
            missing = [k for k in ("id", "source", "checked") if k not in raw]
            if missing:
                raise CatalogError(f"{at}: missing {', '.join(missing)} (every custom row says where its figures come from)")
            base = merged[raw["id"]].to_row() if raw["id"] in merged else {}
            info = _validate({**base, **raw}, origin, at)
            merged[info.id] = info
        return Catalog(merged)


def parse_toml(text: str, where: str) -> list[dict]:
    """The raw [[model]] tables of a catalog TOML text."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{where}: not valid TOML: {exc}") from exc
    rows = doc.get("model", [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise CatalogError(f"{where}: expected [[model]] tables")
    return rows


def _validate(raw: dict, origin: str, where: str) -> ModelInfo:
    try:
        return ModelInfo.model_validate({**raw, "origin": origin})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CatalogError(f"{where}: {problems}") from exc


def load_bundled() -> Catalog:
    return _bundled(BUNDLED_PATH.stat().st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _bundled(_mtime_ns: int) -> Catalog:
    """Parsed once per file version: backends price every call through the catalog."""
    rows = parse_toml(BUNDLED_PATH.read_text(encoding="utf-8"), str(BUNDLED_PATH))
    return Catalog({}).with_rows(rows, "bundled", str(BUNDLED_PATH))


def load_catalog(workspace: str | Path | None = None, store: "Store | None" = None) -> Catalog:
    """The bundled catalog, overridden by the workspace's catalog.toml and the rows saved in the store.

    Without arguments it reads the configured workspace; its database is read
    only if it exists, read-only (pricing a call never creates or migrates a store).
    """
    catalog = load_bundled()
    settings = load_settings(workspace)
    override = settings.workspace / WORKSPACE_FILE
    if override.is_file():
        catalog = catalog.with_rows(parse_toml(override.read_text(encoding="utf-8"), str(override)), "workspace", str(override))
    rows = stored_rows(store) if store is not None else _stored_rows_readonly(settings.database)
    if rows:
        catalog = catalog.with_rows(rows, "store", "custom rows in the store")
    return catalog


def _stored_rows_readonly(database: str) -> list[dict]:
    from core.store import query_existing

    return [json.loads(r[0]) for r in query_existing(database, "catalog_rows",
                                                     "SELECT row_json FROM catalog_rows ORDER BY updated_at, id")]


# --- custom rows kept in the store (the Decide page's editor) ---------------------------------

def stored_rows(store: "Store") -> list[dict]:
    """The raw custom rows saved on the Decide page, oldest first."""
    return [json.loads(r["row_json"]) for r in store.query("SELECT row_json FROM catalog_rows ORDER BY updated_at, id")]


# The columns of the catalog table, in the order a reader compares models.
TABLE_COLUMNS = ["id", "provider", "input_per_1m", "cached_input_per_1m", "output_per_1m", "training_per_1m",
                 "ft_input_per_1m", "ft_output_per_1m", "fine_tunable", "no_new_jobs", "retires", "successor",
                 "max_example_tokens", "latency_ms",
                 "origin", "checked", "source"]


# The numeric fields of the custom-row form, as (field, label), in the order they are laid out.
CUSTOM_NUMBERS = [("input_per_1m", "Input $/1M"), ("output_per_1m", "Output $/1M"), ("training_per_1m", "Training $/1M"),
                  ("batch_discount", "Batch discount"), ("ft_input_per_1m", "Fine-tuned input $/1M"),
                  ("ft_output_per_1m", "Fine-tuned output $/1M"), ("latency_ms", "Latency ms")]


def custom_row(form: dict) -> dict:
    """A custom row as typed in a form, ready for `save_row`: a model that cannot be fine-tuned has no
    fine-tuned prices, a latency of 0 means unknown, and empty fields are left out (the schema's defaults)."""
    row = dict(form)
    if not row.get("fine_tunable"):
        row.update(training_per_1m=None, ft_input_per_1m=None, ft_output_per_1m=None)
    row["latency_ms"] = row.get("latency_ms") or None
    return {k: v for k, v in row.items() if v is not None and v != ""}


def save_row(store: "Store", row: dict | ModelInfo) -> ModelInfo:
    """Validate and keep a custom row; replaces an earlier custom row with the same id."""
    raw = row.to_row() if isinstance(row, ModelInfo) else dict(row)
    info = Catalog({}).with_rows([raw], "store", "custom catalog row").get(raw["id"])
    from core.store import to_json

    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO catalog_rows(id, row_json) VALUES (?, ?) "
            "ON CONFLICT(id) DO UPDATE SET row_json = excluded.row_json, "
            "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            (info.id, to_json(info.to_row())),
        )
    return info


def delete_row(store: "Store", model_id: str) -> bool:
    """Remove a custom row (the bundled row of the same id, if any, shows again)."""
    with store.transaction() as conn:
        return conn.execute("DELETE FROM catalog_rows WHERE id = ?", (model_id,)).rowcount > 0
