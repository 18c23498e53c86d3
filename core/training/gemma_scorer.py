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
- examples are batched (left-padded after the cached prefix, so every prompt ends at the last position,
  whose hidden state gives every label's first token);
- the labels' remaining tokens are scored in batched forwards over (example × label) rows.

torch is imported inside functions only.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

ANSWER_END = "<end_of_turn>"
LABEL_ROWS = 16  # (example × label) rows per label-scoring forward: bounds the repeated KV caches' memory

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
        prefix + rest.

        `prefix` is the KV cache of the first `n_prefix` prompt tokens (None with n_prefix=0: no shared prefix).

        Padding is exact only while the whole sequence fits in the sliding window (512 tokens in 15 of Gemma 3's
        18 layers): that window is counted in cache slots, so pads between the shared prefix and a text would
        push real prefix tokens out of the text's window (measured: log-probs off by up to 0.2 after the sample
        task's 1,115-token prefix). Longer prompts are therefore batched only with prompts of the same length.
        """
        a_width = max(map(len, answers))
        if self.window and len(rests) > 1 and n_prefix + max(map(len, rests)) + a_width >= self.window:
            groups: dict[int, list[int]] = {}
            for i, r in enumerate(rests):
                groups.setdefault(len(r), []).append(i)
            if len(groups) > 1:
                out = np.zeros((len(rests), len(answers)))
                for idx in groups.values():
                    out[idx] = self._score(prefix, n_prefix, [rests[i] for i in idx], answers)
                return out
        return self._score(prefix, n_prefix, rests, answers)

    def _score(self, prefix, n_prefix: int, rests: Sequence[list[int]], answers: list[list[int]]) -> np.ndarray:
        import copy

        import torch

        head = self.head(answers)
        n, n_ans = len(rests), len(answers)
        pad = self.tok.pad_token_id
        width = max(map(len, rests))
        ids = torch.full((n, width), pad, dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        for i, r in enumerate(rests):  # left-padded: every prompt ends at the last position
            ids[i, width - len(r):] = torch.tensor(r)
            mask[i, width - len(r):] = 1
        full_mask = torch.cat([torch.ones((n, n_prefix), dtype=torch.long), mask], dim=1)
        positions = n_prefix + (mask.cumsum(-1) - 1).clamp(min=0)
        out = np.zeros((n, n_ans))
        with torch.inference_mode():
            cache = None
            if prefix is not None:
                cache = copy.deepcopy(prefix)
                cache.batch_repeat_interleave(n)
            step = self.body(input_ids=ids, attention_mask=full_mask, position_ids=positions,
                             past_key_values=cache, use_cache=True)
            first = head.targets([a[0] for a in answers])
            out += head.logprobs(step.last_hidden_state[:, -1])[:, first].numpy()
            cache = step.past_key_values
            # The answers' further tokens: one row per (example, answer), the example's cache repeated.
            a_width = max(map(len, answers)) - 1
            if a_width == 0:
                return out
            a_in = torch.full((n_ans, a_width), pad, dtype=torch.long)
            a_tgt = torch.zeros((n_ans, a_width), dtype=torch.long)
            a_valid = torch.zeros((n_ans, a_width), dtype=torch.bool)
            for j, a in enumerate(answers):
                a_in[j, :len(a) - 1] = torch.tensor(a[:-1])
                a_tgt[j, :len(a) - 1] = head.targets(a[1:])
                a_valid[j, :len(a) - 1] = True
            per_chunk = max(1, LABEL_ROWS // n_ans)
            for start in range(0, n, per_chunk):
                rows = list(range(start, min(n, start + per_chunk)))
                sub = copy.deepcopy(cache) if len(rows) < n else cache
                if len(rows) < n:
                    sub.batch_select_indices(torch.tensor(rows))
                sub.batch_repeat_interleave(n_ans)
                m = len(rows) * n_ans
                # Right padding is harmless: an answer's real tokens never attend to the pads after them.
                am = torch.cat([full_mask[rows].repeat_interleave(n_ans, 0), torch.ones((m, a_width), dtype=torch.long)], 1)
                pos = positions[rows, -1:].repeat_interleave(n_ans, 0) + 1 + torch.arange(a_width)[None]
                h = self.body(input_ids=a_in.repeat(len(rows), 1), attention_mask=am, position_ids=pos,
                              past_key_values=sub, use_cache=True).last_hidden_state
                del sub
                valid = a_valid.repeat(len(rows), 1)
                lp = torch.zeros((m, a_width))
                lp[valid] = head.logprobs(h[valid]).gather(-1, a_tgt.repeat(len(rows), 1)[valid][:, None])[:, 0]
                out[rows] += lp.sum(-1).view(len(rows), n_ans).numpy()
        return out

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
