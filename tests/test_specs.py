"""One parser for `backend:…:key=value` text: approach specs, training backends, optimizer targets."""

import pytest

from core import specs
from core.backends import parse_spec
from core.prompts.search import parse_target
from core.tiers import installed, missing_modules
from core.training import parse_backend


def test_split_keeps_colons_in_ids_and_types_trailing_parameters():
    cut = specs.split(" openai:ft:gpt-4o-mini:org::id:rag:k=8:hybrid=true ")
    assert cut.backend == "openai" and cut.rest == "ft:gpt-4o-mini:org::id:rag"
    assert cut.params == {"k": 8, "hybrid": True}
    assert specs.join(cut.backend, cut.segments, cut.params) == "openai:ft:gpt-4o-mini:org::id:rag:hybrid=true:k=8"
    assert specs.split("local-setfit") == specs.SpecText("local-setfit")
    assert specs.split("openai:m:k=1", params=False).segments == ["m", "k=1"]


@pytest.mark.parametrize("text", ["local:rag:k=8", "openai:ft:gpt-4o-mini-2024-07-18:org::x1:few-shot:k=4",
                                  "classical:tfidf-lr"])
def test_approach_specs_round_trip(text):
    assert str(parse_spec(text)) == text


def test_training_backends_and_optimizer_targets_share_the_parser():
    assert parse_backend("local-lora") == ("local-lora", "gemma-3-270m")
    assert parse_backend("openai:ft:gpt-4o-mini:org::x") == ("openai", "ft:gpt-4o-mini:org::x")
    assert parse_target("local") == ("local", "") and parse_target("openai:gpt-4o-mini") == ("openai", "gpt-4o-mini")
    assert parse_backend("together:m") == ("together", "m")  # a registered hosted provider
    for bad in ("openai", "local-setfit:x", "nosuchprovider:m"):
        with pytest.raises(ValueError, match="unknown backend"):
            parse_backend(bad)
    with pytest.raises(ValueError, match="local or openai:<model>"):
        parse_target("local-setfit")


def test_one_probe_says_what_is_installed():
    assert installed("json") and not installed("no_such_module_anywhere")
    assert missing_modules("openai") == []
