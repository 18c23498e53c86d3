"""The approach registry: which backend methods exist, and how a spec becomes an Approach.

A backend module registers its methods with `@register(backend, method)`. Every
module in this package (and the promoted-prompt approach in core/prompts/approach.py)
is imported on the first lookup, so a new approach (e.g. `local:setfit:<model>`
from the Train page, an optimized prompt `openai:<model>:prompt:<hash>` from the
Prompts page) touches no shared file. A factory receives the parsed `Spec` and the
backend options (store, api_key, base_url, concurrency, …) and ignores the options
it has no use for. `@register_suggestions` lets a module offer ready specs (its
trained models, the promoted prompt) to the Evaluate page's picker.

The discovery imports plug-in modules by name (importlib), not by import statement:
the plug-ins import this registry, never the other way round.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from typing import TYPE_CHECKING, Any, Callable

from core.approach import MODEL_FIRST_BACKENDS, Spec

if TYPE_CHECKING:
    from core.approach import Approach

# Plug-in modules outside this package that register approaches.
PLUGIN_MODULES = ("core.prompts.approach", "core.prompts.gemma_approach")

_PARAM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _coerce(value: str) -> Any:
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def parse_spec(text: str) -> Spec:
    """Parse `backend:…` into a Spec (methods are looked up in the registry, so ids may contain colons)."""
    text = text.strip()
    backend, _, rest = text.partition(":")
    if not backend or not rest:
        raise ValueError(f"approach spec {text!r} must look like 'local:rag:k=8' or 'openai:<model>:zero-shot'")
    methods = registered_methods(backend)
    if not methods:
        raise ValueError(f"unknown backend {backend!r} in {text!r}; known: {', '.join(sorted(known_backends()))}")
    parts = rest.split(":")
    n_params = 0
    while n_params < len(parts) and _PARAM.match(parts[len(parts) - 1 - n_params]):
        n_params += 1
    head, tail = parts[: len(parts) - n_params], parts[len(parts) - n_params:]
    params = {k: _coerce(v) for k, v in (p.split("=", 1) for p in tail)}
    if backend in MODEL_FIRST_BACKENDS:
        # The method is the last method-named segment: `ft:gpt-4o-mini:org::id:rag` has model `ft:…:id`.
        at = max((i for i, p in enumerate(head) if p in methods and i > 0), default=None)
        if at is None:
            raise ValueError(
                f"{text!r} names no method; write {backend}:<model>:<method>, method one of {', '.join(sorted(methods))}"
            )
        return Spec(backend, head[at], ":".join(head[:at]), params, arg=":".join(head[at + 1:]))
    if not head or head[0] not in methods:
        got = head[0] if head else ""
        raise ValueError(f"unknown method {got!r} for backend {backend!r}; known: {', '.join(sorted(methods))}")
    return Spec(backend, head[0], ":".join(head[1:]), params)


def family(spec: str) -> str:
    """Where an approach sits on the ladder the lab compares: prompting, RAG, fine-tuning, classical."""
    try:
        s = parse_spec(spec)
    except ValueError:
        return "other"
    if s.backend == "classical":
        return "classical"
    if s.method == "rag":
        return "rag"
    if s.method in ("setfit", "lora") or s.model.startswith("ft:"):
        return "fine-tuning"
    if s.method in ("zero-shot", "few-shot", "prompt"):
        return "prompting"
    return "other"


# --- the registry ---------------------------------------------------------------

Factory = Callable[..., "Approach"]
_REGISTRY: dict[tuple[str, str], Factory] = {}
_DISCOVERED = False


def register(backend: str, method: str) -> Callable[[Factory], Factory]:
    """Decorator: `@register("local", "setfit")` on a factory `(spec: Spec, **options) -> Approach`.

    An Approach subclass can be registered directly: it is built as `cls(spec.model?, **spec.params)`
    (see `Approach.from_spec`).
    """

    def deco(factory: Factory) -> Factory:
        _REGISTRY[(backend, method)] = factory
        return factory

    return deco


def _discover() -> None:
    """Import every backend module once so that its @register calls run (they must not import torch)."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{info.name}")
    for name in PLUGIN_MODULES:
        importlib.import_module(name)


Suggester = Callable[..., list[str]]
_SUGGESTERS: list[Suggester] = []


def register_suggestions(fn: Suggester) -> Suggester:
    """Decorator: `fn(store, dataset) -> [spec, …]` offers ready approaches (trained models, promoted prompts)
    on the Evaluate page and elsewhere."""
    _SUGGESTERS.append(fn)
    return fn


def suggested_specs(store, dataset) -> list[str]:
    """Specs other modules offer for this dataset; a failing suggester is skipped, not fatal."""
    _discover()
    out: list[str] = []
    for fn in _SUGGESTERS:
        try:
            out += [s for s in fn(store, dataset) if s not in out]
        except Exception:  # noqa: BLE001 — a broken plug-in must not break the page
            continue
    return out


def known_backends() -> set[str]:
    _discover()
    return {b for b, _ in _REGISTRY}


def registered_methods(backend: str) -> set[str]:
    _discover()
    return {m for b, m in _REGISTRY if b == backend}


def approach_from_spec(spec: str | Spec, **backend_options: Any) -> "Approach":
    """Build a configured (unfitted) approach from its spec. Raises ValueError with the reason on a bad spec."""
    parsed = spec if isinstance(spec, Spec) else parse_spec(spec)
    _discover()
    factory = _REGISTRY.get((parsed.backend, parsed.method))
    if factory is None:
        raise ValueError(f"no approach registered for {parsed.backend}:{parsed.method}")
    if inspect.isclass(factory):
        return factory.from_spec(parsed, **backend_options)
    return factory(parsed, **backend_options)
