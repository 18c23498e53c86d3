"""The meta-prompt step of a search on a chat backend: the model proposes instructions (APE/OPRO, core.prompts.meta).

One chat call through the paid-response cache, counted against the budget: a rerun gets the
same proposals for free.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from core import responses
from core.endpoint import client as make_client
from core.prompts.meta import Mistake, ScoredInstruction, meta_request, parse_proposals
from core.prompts.scoring import Scorer
from core.prompts.space import Candidate


def propose(scorer: Scorer, ranked: list[Candidate], n: int, how_many: int, known: list[str],
            announce: Callable[[str], None] | None = None) -> list[Candidate]:
    """Instructions written by the chat model from the best so far (ranked on n dev examples) and their mistakes.

    `known` are the instructions already in the space: a proposal repeating one is dropped. `announce`
    hears what is asked just before the call.
    """
    if how_many <= 0 or not ranked or scorer.ledger.planned_left() < 1:
        return []
    best = ranked[0]
    seen: dict[str, Candidate] = {}
    for c in ranked:
        seen.setdefault(c.instruction, c)
    scored = [ScoredInstruction(c.instruction, scorer.accuracy(c, n), n) for c in list(seen.values())[:4]]
    have = scorer.answers(best, "dev")
    mistakes = [Mistake(scorer.by_idx[i].text, have[i]["gold"], have[i]["label"])
                for i in scorer.dev_order[:n] if i in have and have[i]["label"] != have[i]["gold"]]
    req = meta_request(scorer.model, scorer.task, scored, mistakes, how_many)
    if announce is not None:
        announce(f"asking {scorer.model} for {how_many} new instructions")
    content = chat_once(scorer, req)
    if content is None:
        return []
    proposals = parse_proposals(content, how_many, known=known)
    return [replace(best, instruction=text, instruction_name=f"meta-{j + 1}", origin="meta")
            for j, text in enumerate(proposals)]


def chat_once(scorer: Scorer, req: dict) -> str | None:
    """One chat call through the paid-response cache (counted against the budget); None if it cannot be made."""
    endpoint, ledger = scorer.calls.endpoint, scorer.ledger
    key = responses.response_key(endpoint.base_url, req)
    hit = responses.get(scorer.store, key)
    ledger.planned_calls += 1
    if hit is None:
        if ledger.calls_left() < 1:
            return None
        import openai

        client = make_client(endpoint, max_retries=scorer.calls.max_retries, timeout=scorer.calls.timeout)
        try:
            raw = client.chat.completions.with_raw_response.create(**req)
        except openai.OpenAIError:
            return None  # no proposals this time; the templated search goes on
        finally:
            client.close()
        from core.backends.openai_compat import _body_of

        body = _body_of(raw.text)
        responses.put(scorer.store, key, endpoint.base_url, req, body, None)
        usage = body.get("usage") or {}
        ledger.spend(1, scorer.costs.price(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0) or 0.0)
    else:
        body = hit.body
    try:
        return body["choices"][0]["message"]["content"] or ""
    except (KeyError, IndexError, TypeError):
        return None
