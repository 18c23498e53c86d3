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
from typing import TYPE_CHECKING, Any, Callable

from core import specs
from core.approach import MODEL_FIRST_BACKENDS, Spec

if TYPE_CHECKING:
    from core.approach import Approach

# Plug-in modules outside this package that register approaches.
PLUGIN_MODULES = ("core.prompts.approach",)

def parse_spec(text: str) -> Spec:
    """Parse `backend:…` into a Spec (methods are looked up in the registry, so ids may contain colons)."""
    text = text.strip()
    cut = specs.split(text)
    backend, head, params = cut.backend, cut.segments, cut.params
    if not backend or not text.partition(":")[2]:
        raise ValueError(f"approach spec {text!r} must look like 'local:rag:k=8' or 'openai:<model>:zero-shot'")
    methods = registered_methods(backend)
    if not methods:
        raise ValueError(f"unknown backend {backend!r} in {text!r}; known: {', '.join(sorted(known_backends()))}")
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


# --- what an approach is, in words ----------------------------------------------------------

# The four families the lab compares (DESIGN.md): a language model asked with an instruction
# (prompting) or with retrieved examples (RAG), a model whose weights were trained on the train
# split (fine-tuned), or no language model asked at all (classifier: TF-IDF, MiniLM embeddings).
FAMILIES = {"prompting": "Prompting", "rag": "RAG", "fine-tuned": "Fine-tuned", "classifier": "Classifier"}

Describe = Callable[[Spec], str]


def family(spec: str) -> str:
    """The approach's family (a key of FAMILIES), as its backend module declared it; 'other' if unknown."""
    meta = _meta(spec)
    if meta is None:
        return "other"
    s, (fam, _, _) = meta
    return fam(s) if callable(fam) else fam


def describe(spec: str) -> str:
    """The approach in words for people ("Gemma 3 270M · RAG, 8 retrieved examples"); the spec itself if unknown."""
    meta = _meta(spec)
    if meta is None:
        return spec
    s, (_, words, _) = meta
    return words(s) if words else spec


def model_of(spec: str) -> str:
    """The model an approach runs (a model id, or the embedded model's name); '' if unknown."""
    meta = _meta(spec)
    if meta is None:
        return ""
    s, (_, _, model) = meta
    return model or s.model


def per_k(spec: Spec, what: str) -> str:
    k = spec.params.get("k")
    return f", {k} {what}" if k else ""


def _meta(spec: str):
    try:
        s = parse_spec(spec)
    except ValueError:
        return None
    got = _META.get((s.backend, s.method))
    return (s, got) if got else None


# --- the registry ---------------------------------------------------------------

Factory = Callable[..., "Approach"]
_REGISTRY: dict[tuple[str, str], Factory] = {}
_DISCOVERED = False


# (backend, method) -> (family, words, the model it runs where the spec does not name one)
_META: dict[tuple[str, str], tuple[str | Callable[[Spec], str], Describe | None, str | None]] = {}


def register(backend: str, method: str, *, family: str | Callable[[Spec], str],
             words: Describe | None = None, model: str | None = None) -> Callable[[Factory], Factory]:
    """Decorator: `@register("local", "setfit", family="fine-tuned", words=…)` on a factory
    `(spec: Spec, **options) -> Approach`.

    Every method declares its family (a key of FAMILIES, or a function of the Spec where it depends on
    the model, e.g. an `ft:` model is fine-tuned), how to say it in words, and — for backends whose
    spec does not name the model — the model it runs. An Approach subclass can be registered directly:
    it is built as `cls(spec.model?, **spec.params)` (see `Approach.from_spec`).
    """
    if not callable(family) and family not in FAMILIES:
        raise ValueError(f"{backend}:{method}: family must be one of {', '.join(FAMILIES)}, not {family!r}")
    def deco(factory: Factory) -> Factory:
        _REGISTRY[(backend, method)] = factory
        _META[(backend, method)] = (family, words, model)
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
