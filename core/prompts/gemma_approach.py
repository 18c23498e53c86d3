"""A stored prompt on the local generative backend: `gemma:prompt:<hash>`.

The mirror of `openai:<model>:prompt:<hash>` (core/prompts/approach.py): the
hash names a row of the store's `prompts` table (core.prompts.store), whose
Candidate gives the PromptConfig (instruction, guidelines, output contract) and
its fixed exemplars — or "retrieved per input" — and Gemma 3 270M is asked with
exactly that prompt. It lives in the prompts package, beside the other
promoted-prompt approaches, because backends must not import prompts (the
prompts package already imports the backends' registry).
"""

from __future__ import annotations

from typing import Any

from core.approach import Spec
from core.backends import register
from core.backends.gemma import GemmaApproach
from core.data.dataset import Example
from core.prompts.space import Candidate, resolve_exemplars


def load_candidate(store, ref: str) -> Candidate:
    from core.prompts import store as prompt_store

    if store is None:
        raise ValueError(f"gemma:prompt:{ref} needs the store that holds the prompt")
    if not ref:
        raise ValueError("gemma:prompt needs a prompt hash: gemma:prompt:<hash>")
    try:
        return prompt_store.get(store, ref).candidate
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from exc


class GemmaPrompt(GemmaApproach):
    """A prompt from the Prompts page, rendered by core.prompting and scored by Gemma 3 270M."""

    def __init__(self, candidate: Candidate, **options: Any):
        super().__init__("prompt", prompt=candidate.prompt_config(), retriever=candidate.retriever, **options)
        self.candidate = candidate
        self.arg = candidate.hash

    def params(self) -> dict[str, Any]:
        return super().params() | {"exemplar_ids": list(self.candidate.exemplar_ids),
                                   "prompt_hash": self.candidate.hash}

    @property
    def spec(self) -> str:
        return f"gemma:prompt:{self.candidate.hash}"

    def _fixed_exemplars(self, train: list[Example]) -> list[Example]:
        return resolve_exemplars(self.candidate, train)


@register("gemma", "prompt", family="prompting", model="gemma-3-270m",
          words=lambda s: f"Gemma 3 270M · optimized prompt {s.model[:8]}")
def _factory(spec: Spec, **options: Any) -> GemmaPrompt:
    if spec.params:
        raise ValueError(f"gemma:prompt takes no parameters (got {', '.join(sorted(spec.params))})")
    cand = load_candidate(options.get("store"), spec.model)
    opts = {k: v for k, v in options.items() if k in GemmaPrompt.backend_options}
    return GemmaPrompt(cand, **opts)
