"""Scoring label strings with Gemma 3 270M (base or LoRA-merged): the forward passes shared by the prompting
backend (core/backends/gemma.py) and the LoRA fine-tune (core/training/lora_local.py).

Classification is constrained decoding among the labels: each label's answer (its tokens, then
`<end_of_turn>`) is scored as the sum of its tokens' log-probabilities, where every next-token distribution
is a log-softmax over the labels' own vocabulary only — the union of the token ids the answers use (a few
dozen rows of the 262k-word output layer). The logits are the hidden states at the answer positions times
those rows of the (tied) embedding matrix, so the 262k-row output layer — 63 % of the weights, and the
dominant cost of scoring — is never run. The rule is the same for every label, so the label ranking is that
of a decoder restricted to label tokens; the scores are log-probabilities within that restricted vocabulary.

How it stays fast on two cores:

- the prompt's shared prefix is run once (the model body only) and its KV cache reused by every example;
- examples are batched, and each example's text and all its label answers go through ONE forward pass
  (tree attention: the answers side by side after the text, each seeing only the text and itself, with
  masks built from real positions so that Gemma 3's sliding window stays exact at any prompt length).

torch is imported inside functions only.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

ANSWER_END = "<end_of_turn>"

# Gemma 3's own chat template (google/gemma-3-*-it, tokenizer_config.json), text-only. The base model's GGUF
# carries no template, so the tokenizer is given this one: the system prompt opens the first user turn, the
# assistant's role is called "model".
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}{%- set first_user_prefix = '' -%}{%- set loop_messages = messages -%}{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{%- endif -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}"
    "{{ message['content'] | trim }}"
    "{{ '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)


def _base(model):
    """The causal LM under a PEFT wrapper (its LoRA layers stay in place), or the model itself."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


class LabelHead:
    """The output layer restricted to the label answers' vocabulary: rows of the tied embedding matrix."""

    def __init__(self, lm, answers: Sequence[Sequence[int]], softcap: float | None):
        import torch

        self.vocab = sorted({t for a in answers for t in a})
        self.local = {t: i for i, t in enumerate(self.vocab)}
        with torch.no_grad():
            self.rows = lm.get_output_embeddings().weight.detach()[torch.tensor(self.vocab)].float().clone()
        self.softcap = softcap

    def logprobs(self, hidden):
        """[n, |vocab|] log-softmax over the label vocabulary from hidden states [n, d]."""
        import torch

        logits = hidden.float() @ self.rows.T
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return torch.log_softmax(logits, -1)

    def targets(self, token_ids):
        import torch

        return torch.tensor([self.local[int(t)] for t in token_ids], dtype=torch.long)


class GemmaScorer:
    """Scores label answers after chat prompts with one Gemma model: prompt rendering, prefix KV caches, batching."""

    def __init__(self, model, tokenizer):
        self.model, self.tok = model, tokenizer
        self.lm = _base(model)
        self.body = self.lm.model  # the decoder without its output layer
        cfg = getattr(self.lm.config, "get_text_config", lambda: self.lm.config)()
        self.softcap = getattr(cfg, "final_logit_softcapping", None)
        self.window = getattr(cfg, "sliding_window", None)
        self._heads: dict[tuple, LabelHead] = {}

    # -- text → ids
    def render(self, msgs: list[dict[str, str]]) -> str:
        """The chat rendered by the tokenizer with Gemma's template, ending where the model's answer starts."""
        return self.tok.apply_chat_template(msgs, chat_template=GEMMA3_CHAT_TEMPLATE, tokenize=False,
                                            add_generation_prompt=True)

    def ids(self, text: str) -> list[int]:
        # The rendered text carries <bos> and the turn markers itself: no special tokens added.
        return self.tok(text, add_special_tokens=False).input_ids

    def answer_ids(self, answers: Sequence[str]) -> list[list[int]]:
        return [self.ids(a + ANSWER_END) for a in answers]

    def head(self, answers: Sequence[Sequence[int]]) -> LabelHead:
        key = tuple(tuple(a) for a in answers)
        if key not in self._heads:
            self._heads[key] = LabelHead(self.lm, answers, self.softcap)
        return self._heads[key]

    # -- forward passes
    def prefix_cache(self, prefix_ids: list[int]):
        """The KV cache of the shared prompt prefix, computed once (the model body only: no output layer)."""
        import torch

        with torch.inference_mode():
            return self.body(input_ids=torch.tensor([prefix_ids]), use_cache=True).past_key_values

    def score(self, prefix, n_prefix: int, rests: Sequence[list[int]], answers: list[list[int]]) -> np.ndarray:
        """[len(rests), len(answers)] sum of each answer's token log-probs (within the label vocabulary) after
        prefix + rest, for a batch of texts in ONE forward pass over the cached prefix.

        `prefix` is the KV cache of the first `n_prefix` prompt tokens (None with n_prefix=0: no shared prefix).

        Each row holds its text, left-padded so that every text ends at the same column, then every label's
        answer tokens side by side (all but the last, which is only predicted) — a tree: each answer's tokens see
        the prefix, the row's text and their own answer's earlier tokens, at the positions they would have in
        the plain prompt. The attention masks are built here from those positions rather than from cache slots:
        Gemma 3's sliding-window layers (512 tokens in 15 of 18 layers) would otherwise count the pads and the
        other answers' tokens as context and push real prompt tokens out of the window (measured with the
        default masks: log-probs off by up to 0.2 after the sample task's 1,115-token prefix). So padding is
        exact at any prompt length, no (example × label) cache copies are made, and the labels cost a few
        extra columns of the same forward.
        """
        import copy

        import torch

        head = self.head(answers)
        n = len(rests)
        pad = self.tok.pad_token_id
        width = max(map(len, rests))
        tails = [a[:-1] for a in answers]  # the answer tokens fed in (each one predicts the next)
        offsets = np.cumsum([0] + [len(t) for t in tails])  # where each answer's tokens start after the text
        q_len = width + int(offsets[-1])
        ids = torch.full((n, q_len), pad, dtype=torch.long)
        pos = torch.full((n, q_len), n_prefix, dtype=torch.long)
        valid = torch.zeros((n, q_len), dtype=torch.bool)
        group = torch.full((q_len,), -1, dtype=torch.long)  # -1: the text; j: answer j's tokens
        for j, t in enumerate(tails):
            group[width + offsets[j]:width + offsets[j + 1]] = j
        for i, r in enumerate(rests):
            ids[i, width - len(r):width] = torch.tensor(r)
            pos[i, width - len(r):width] = n_prefix + torch.arange(len(r))
            valid[i, width - len(r):] = True
            last = n_prefix + len(r) - 1
            for j, t in enumerate(tails):
                lo = width + offsets[j]
                ids[i, lo:lo + len(t)] = torch.tensor(t, dtype=torch.long)
                pos[i, lo:lo + len(t)] = last + 1 + torch.arange(len(t))
        # new ↔ new: a valid earlier-or-same position, in the text or in the query's own answer; the diagonal
        # keeps pad rows finite (their outputs are never read)
        pq, pk = pos[:, :, None], pos[:, None, :]
        same = (group[None, :, None] == group[None, None, :]) | (group[None, None, :] == -1)
        new = valid[:, None, :] & (pk <= pq) & same
        new |= torch.eye(q_len, dtype=torch.bool)[None]
        masks = {}
        window = self.window
        for kind in ("full_attention", "sliding_attention"):
            slide = kind == "sliding_attention" and window
            if prefix is None:
                cached = torch.zeros((0,), dtype=torch.long)
            else:  # the slots the cache layer holds: all of the prefix, or its last window-1 tokens
                start = max(0, n_prefix - (window - 1)) if slide else 0
                cached = torch.arange(start, n_prefix)
            old = torch.ones((n, q_len, len(cached)), dtype=torch.bool)
            m_new = new
            if slide:
                old = old & (pq - cached[None, None, :] < window)
                m_new = new & (pq - pk < window)
            masks[kind] = torch.cat([old, m_new], dim=-1)[:, None]
        with torch.inference_mode():
            cache = None
            if prefix is not None:
                cache = copy.deepcopy(prefix)
                cache.batch_repeat_interleave(n)
            h = self.body(input_ids=ids, attention_mask=masks, position_ids=pos, past_key_values=cache,
                          use_cache=cache is not None).last_hidden_state
            del cache
            # The hidden state at the text's last token predicts every answer's first token; the one at an
            # answer's t-th token predicts its (t+1)-th.
            lp = head.logprobs(h[:, width - 1:])  # [n, 1 + sum of tails, |vocab|]
            out = lp[:, 0, head.targets([a[0] for a in answers])].clone()
            for j, a in enumerate(answers):
                if len(a) > 1:
                    cols = 1 + offsets[j] + torch.arange(len(a) - 1)
                    out[:, j] += lp[:, cols, head.targets(a[1:])].sum(-1)
        return out.double().numpy()

    def score_uncached(self, full_ids: list[int], answers: list[list[int]]) -> np.ndarray:
        """The reference: each answer appended to the whole prompt, one plain forward each, no cache, no padding,
        scored by the same rule (log-softmax over the label vocabulary)."""
        import torch

        head = self.head(answers)
        out = np.zeros(len(answers))
        with torch.inference_mode():
            for j, a in enumerate(answers):
                h = self.body(input_ids=torch.tensor([full_ids + a])).last_hidden_state[0, -len(a) - 1:-1]
                out[j] = float(head.logprobs(h).gather(-1, head.targets(a)[:, None]).sum())
        return out
