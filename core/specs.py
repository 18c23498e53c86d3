"""Spec text: the one parser of `backend:segment:…:key=value` strings.

Three kinds of text share this shape and this parser:

    approach specs     local:rag:k=8 · openai:ft:gpt-4o-mini:org::id:few-shot:k=8   (core.backends.parse_spec)
    training backends  local-setfit · openai:gpt-4.1-mini                             (core.training.parse_backend)
    optimizer targets  local · openai:gpt-4o-mini                                     (core.prompts.search.parse_target)

`split` only cuts the text: the backend before the first colon, the
colon-separated segments after it (empty ones kept — fine-tuned model ids
contain `::`), and the trailing `key=value` segments as typed parameters. What
the segments mean (which is the model, which the method) is the caller's
business. A root module: it imports nothing from core.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Collection, Mapping, Sequence

_PARAM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class SpecText:
    backend: str
    segments: list[str] = field(default_factory=list)  # between the backend and the parameters
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def rest(self) -> str:
        """The segments joined again: a model id that may itself contain colons."""
        return ":".join(self.segments)


def coerce(value: str) -> Any:
    """`true`/`false` → bool, then int, then float, else the text."""
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def split(text: str, *, params: bool = True) -> SpecText:
    """Cut `backend:a:b:k=v` into (backend, [a, b], {k: v}); `params=False` keeps `k=v` segments as segments."""
    text = text.strip()
    backend, sep, rest = text.partition(":")
    parts = rest.split(":") if sep else []
    n = 0
    while params and n < len(parts) and _PARAM.match(parts[len(parts) - 1 - n]):
        n += 1
    head, tail = parts[: len(parts) - n], parts[len(parts) - n:]
    return SpecText(backend, head, {k: coerce(v) for k, v in (p.split("=", 1) for p in tail)})


def _fmt(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def join(backend: str, segments: Sequence[str], params: Mapping[str, Any] | None = None) -> str:
    """The inverse of `split`: parameters sorted by name, booleans lower-case."""
    return ":".join([backend, *segments, *(f"{k}={_fmt(v)}" for k, v in sorted((params or {}).items()))])


def backend_and_model(text: str, bare: Mapping[str, str], with_model: Collection[str]) -> tuple[str, str]:
    """`name` (a key of `bare`, whose value is its model) or `backend:<model>` (backend in `with_model`;
    the model may contain colons) → (backend, model). ValueError naming the accepted forms otherwise."""
    cut = split(text, params=False)
    if cut.backend in bare and not cut.segments:
        return cut.backend, bare[cut.backend]
    if cut.backend in with_model and cut.rest:
        return cut.backend, cut.rest
    forms = [*bare, *(f"{b}:<model>" for b in with_model)]
    raise ValueError(f"unknown backend {text.strip()!r}: use {', '.join(forms[:-1])} or {forms[-1]}" if len(forms) > 1
                     else f"unknown backend {text.strip()!r}: use {forms[0]}")
