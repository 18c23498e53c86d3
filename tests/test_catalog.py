"""The model catalog: bundled rows, name resolution, lifecycle and user overrides."""

import datetime as dt

import pytest

from core import catalog as cat
from core.catalog import CatalogError, load_catalog

REQUIRED = ["gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06", "gpt-4.1-2025-04-14", "gpt-4.1-mini-2025-04-14", "gpt-4.1-nano-2025-04-14"]


def test_bundled_rows_carry_source_date_and_reference_prices(workspace):
    c = load_catalog()
    for model_id in REQUIRED:
        info = c.get(model_id)
        assert info.source.strip() and isinstance(info.checked, dt.date)
        assert info.encoding == "o200k_base"
    mini = c.get("gpt-4o-mini-2024-07-18")
    assert (mini.input_per_1m, mini.output_per_1m, mini.training_per_1m) == (0.15, 0.60, 3.00)
    assert (mini.ft_input_per_1m, mini.ft_output_per_1m, mini.batch_discount) == (0.30, 1.20, 0.5)
    assert mini.max_example_tokens == 65536
    assert any(m.provider == "local" and m.input_per_1m == 0 and m.latency_ms for m in c)


@pytest.mark.parametrize("name, base", [
    ("ft:gpt-4o-mini-2024-07-18:my-org:tickets:AbC123", "gpt-4o-mini-2024-07-18"),
    ("ft:gpt-4.1-2025-04-14:my-org::BxYz:ckpt-step-100", "gpt-4.1-2025-04-14"),
    ("gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
    ("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14"),
    ("gpt-4o-2024-11-20", "gpt-4o-2024-08-06"),  # another snapshot prices like its undated alias
])
def test_get_resolves_finetunes_aliases_and_snapshots(workspace, name, base):
    assert load_catalog().get(name).id == base


def test_unknown_model_is_a_keyerror_naming_the_known_ones(workspace):
    with pytest.raises(KeyError, match="gpt-4o-mini-2024-07-18"):
        load_catalog().get("claude-3-haiku")


def test_fine_tunable_follows_the_lifecycle_dates(workspace):
    c = load_catalog()
    before = {m.id for m in c.fine_tunable(provider="openai", on=dt.date(2026, 11, 22))}
    assert before == set(REQUIRED) - {"gpt-4.1-nano-2025-04-14"}
    assert c.fine_tunable(provider="openai", on=dt.date(2027, 1, 6)) == []
    nano = c.get("gpt-4.1-nano")
    assert nano.is_retired(dt.date(2026, 11, 22)) and not nano.fine_tunable
    assert c.get("gpt-4o-mini").retires == dt.date(2027, 1, 14)


def test_workspace_toml_and_stored_rows_override_without_touching_the_bundle(workspace, store):
    bundled_text = cat.BUNDLED_PATH.read_text()
    (workspace / "catalog.toml").write_text(
        '[[model]]\nid = "gpt-4o-mini-2024-07-18"\nprovider = "openai"\ninput_per_1m = 0.2\noutput_per_1m = 0.8\n'
        'source = "our negotiated price"\nchecked = 2026-11-20\n'
    )
    assert load_catalog().get("gpt-4o-mini").input_per_1m == 0.2
    cat.save_row(store, {"id": "llama-3.1-8b-vllm", "provider": "self-hosted", "input_per_1m": 0.05,
                         "output_per_1m": 0.05, "source": "our GPU bill", "checked": "2026-11-21"})
    c = load_catalog(store=store)
    assert c.get("llama-3.1-8b-vllm").origin == "store"
    assert c.get("gpt-4o-mini").origin == "workspace"
    assert cat.delete_row(store, "llama-3.1-8b-vllm") and "llama-3.1-8b-vllm" not in load_catalog(store=store)
    assert cat.BUNDLED_PATH.read_text() == bundled_text


def test_malformed_rows_are_refused_with_file_row_and_field(workspace, store):
    (workspace / "catalog.toml").write_text(
        '[[model]]\nid = "x"\nprovider = "p"\ninput_per_1m = -1\noutput_per_1m = 1\nsource = "s"\nchecked = 2026-11-01\n'
    )
    with pytest.raises(CatalogError, match=r"catalog.toml: row #1 \(x\): input_per_1m"):
        load_catalog()
    (workspace / "catalog.toml").write_text('[[model]]\nid = "gpt-4o-mini"\ninput_per_1m = 0.1\n')
    with pytest.raises(CatalogError, match="missing source, checked"):
        load_catalog()
    with pytest.raises(CatalogError, match="source"):
        cat.save_row(store, {"id": "y", "provider": "p", "input_per_1m": 1, "output_per_1m": 1, "checked": "2026-11-01"})


def test_default_load_reads_rows_saved_through_the_workspace_store(workspace, store):
    cat.save_row(store, {"id": "mistral-small-azure", "provider": "azure", "input_per_1m": 0.2, "output_per_1m": 0.6,
                         "source": "Azure price sheet", "checked": "2026-11-21"})
    assert load_catalog().get("mistral-small-azure").origin == "store"  # no store passed: read-only from the workspace
