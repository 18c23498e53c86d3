"""The decision framework: from a short questionnaire to the approach(es) to try, with reasons.

A pure function over a typed `Questionnaire`, following the ladder: start with
prompting; RAG for knowledge and changing data (never fine-tune for facts);
fewer than 50 labelled examples → improve prompts and collect data; fine-tune
for behaviour — consistent format, long system prompts, high volume, a small
model that must match a large one, tight latency, or a ≥ 20-point quality gap
with ≥ 100 examples — and only where a fine-tune can still be trained and pays
back before its base model retires (the lifecycle rule).

The same ladder is drawn as a flow (`flow_dot`), with the path of the current
answers highlighted; the nodes and edges below are the single description of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MIN_EXAMPLES = 50            # below this, fine-tuning is not worth a job: improve prompts and collect data
GAP_EXAMPLES = 100           # a quality gap justifies fine-tuning only with at least this many examples
GAP_POINTS = 20.0            # accuracy points between the prompted approach and the target
LONG_PROMPT_TOKENS = 500     # a system prompt above this is worth training into the weights
HIGH_VOLUME_CALLS = 10_000   # calls/day at which per-call savings start to dominate
HOSTED_LATENCY_MS = 300.0    # a budget below a typical hosted round trip leaves only a local model

Change = Literal["never", "yearly", "monthly", "weekly", "daily"]
CHANGES_OFTEN: tuple[str, ...] = ("weekly", "daily")


class Questionnaire(BaseModel):
    """What the user knows about the task. Field descriptions double as the page's help text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    need: Literal["behaviour", "knowledge", "both"] = Field(
        "behaviour",
        description="What the model lacks: behaviour (labels, format, style, tone) or knowledge (facts, documents, policies).",
    )
    data_changes: Change = Field("monthly", description="How often the facts or label definitions the task depends on change.")
    labelled_examples: int = Field(0, ge=0, description="Labelled examples you have (or can get) for training and testing.")
    system_prompt_tokens: int = Field(0, ge=0, description="Tokens in the system prompt the prompted approach sends with every call.")
    calls_per_day: float = Field(1_000, ge=0, description="Expected production calls per day.")
    latency_budget_ms: float | None = Field(None, gt=0, description="Per-call latency the product can afford (empty: no constraint).")
    prompted_latency_ms: float | None = Field(
        None, gt=0, description="Measured p50 latency of the prompted approach (empty: assume a typical hosted round trip).",
    )
    quality_gap_points: float | None = Field(
        None, description="Accuracy points the best prompted approach falls short of the target (measured on Evaluate if possible).",
    )
    consistent_format: bool = Field(False, description="Outputs must follow a strict format or style every time.")
    small_must_match_large: bool = Field(False, description="A small, cheap model must match what a large model does.")
    pii_in_data: bool = Field(False, description="The training data contains personal data that may not leave your systems unredacted.")
    hosted_fine_tuning_open: bool = Field(
        True, description="Your provider still accepts fine-tuning jobs from you (OpenAI: none after 2027-01-06).",
    )
    pays_back_before_retirement: bool | None = Field(
        None, description="From the economics below: does the fine-tune pay back before its base model retires? (empty: not computed)",
    )


# --- the flow: nodes and edges, drawn by flow_dot and walked by recommend --------------------------

NODES: dict[str, tuple[str, str]] = {  # id -> (label, kind: start | question | outcome)
    "start": ("Start: a good prompt\nis the baseline", "start"),
    "q_need": ("Missing knowledge or\nfast-changing data?", "question"),
    "rag": ("RAG: retrieve facts /\nexamples into the prompt", "outcome"),
    "q_data": ("≥ 50 labelled\nexamples?", "question"),
    "collect": ("Improve the prompt\n(few-shot) and collect data", "outcome"),
    "q_trigger": ("Format, long prompt, volume,\nsmall ≈ large, latency or\n≥ 20-pt gap with ≥ 100 ex.?", "question"),
    "prompt": ("Prompting: zero-/few-shot\n(prompt search)", "outcome"),
    "q_hosted": ("Hosted fine-tuning open,\nno unredacted PII,\nlatency fits?", "question"),
    "q_lifecycle": ("Pays back before the\nbase model retires?", "question"),
    "ft_hosted": ("Fine-tune\n(hosted)", "outcome"),
    "ft_local": ("Fine-tune locally\n(or another provider)", "outcome"),
}
EDGES: list[tuple[str, str, str]] = [
    ("start", "q_need", ""),
    ("q_need", "rag", "yes"),
    ("q_need", "q_data", "no: behaviour"),
    ("rag", "q_data", "also behaviour"),
    ("q_data", "collect", "no"),
    ("q_data", "q_trigger", "yes"),
    ("q_trigger", "prompt", "none"),
    ("q_trigger", "q_hosted", "yes"),
    ("q_hosted", "ft_local", "no"),
    ("q_hosted", "q_lifecycle", "yes"),
    ("q_lifecycle", "ft_local", "no"),
    ("q_lifecycle", "ft_hosted", "yes / not computed"),
]


@dataclass
class Recommendation:
    approach: str              # prompting | few-shot | rag | fine-tune-hosted | fine-tune-local
    title: str
    reasons: list[str]
    rules: list[str]           # ids of the rules that fired for it
    role: Literal["baseline", "recommended", "next step"] = "recommended"


@dataclass
class Decision:
    recommendations: list[Recommendation]
    path: list[str]                                                   # node ids visited, in order
    not_recommended: dict[str, str] = field(default_factory=dict)     # approach -> why not
    fired: list[tuple[str, str]] = field(default_factory=list)        # (rule id, sentence), in order

    @property
    def primary(self) -> list[Recommendation]:
        return [r for r in self.recommendations if r.role != "baseline"] or self.recommendations

    def edges_taken(self) -> set[tuple[str, str]]:
        return set(zip(self.path, self.path[1:]))

    def to_dict(self) -> dict:
        return {
            "recommendations": [r.__dict__ for r in self.recommendations],
            "path": self.path,
            "not_recommended": self.not_recommended,
            "rules_fired": [{"rule": r, "reason": t} for r, t in self.fired],
        }


class _Builder:
    """Collects recommendations and fired rules while `recommend` walks the ladder."""

    def __init__(self):
        self.recs: dict[str, Recommendation] = {}
        self.fired: list[tuple[str, str]] = []
        self.path: list[str] = []
        self.not_recommended: dict[str, str] = {}

    def fire(self, rule: str, reason: str, approach: str | None = None, title: str = "", role: str = "recommended"):
        self.fired.append((rule, reason))
        if approach is None:
            return
        rec = self.recs.setdefault(approach, Recommendation(approach, title, [], [], role))
        rec.reasons.append(reason)
        rec.rules.append(rule)

    def visit(self, *nodes: str):
        self.path.extend(nodes)


def _behaviour_triggers(q: Questionnaire) -> list[tuple[str, str]]:
    """The rules that make fine-tuning worth considering, each with its sentence."""
    out = []
    if q.consistent_format:
        out.append(("ft-format", "Outputs must follow a consistent format or style: training it in is more reliable than instructing it."))
    if q.system_prompt_tokens > LONG_PROMPT_TOKENS:
        out.append(("ft-long-prompt",
                    f"The system prompt is {q.system_prompt_tokens:,} tokens (> {LONG_PROMPT_TOKENS}): a fine-tune "
                    "drops it from every call, cutting input tokens and latency."))
    if q.calls_per_day >= HIGH_VOLUME_CALLS and q.pays_back_before_retirement is not False:
        # Only where the economics do not say otherwise: a fine-tune that never pays back saves nothing.
        out.append(("ft-volume",
                    f"{q.calls_per_day:,.0f} calls/day (≥ {HIGH_VOLUME_CALLS:,}): "
                    + ("the economics below say the fine-tune pays back before its base model retires."
                       if q.pays_back_before_retirement else
                       "per-call savings may repay training — check the break-even below.")))
    if q.small_must_match_large:
        out.append(("ft-distill", "A small model must match a large one: fine-tune (distil) the small model on the large one's labels."))
    if _too_slow_for_hosted(q):
        out.append(("ft-latency",
                    f"A {q.latency_budget_ms:g} ms latency budget is below the prompted approach's "
                    f"{_hosted_latency(q)}: it needs a short prompt or a small local model."))
    if q.quality_gap_points is not None and q.quality_gap_points >= GAP_POINTS:
        if q.labelled_examples >= GAP_EXAMPLES:
            out.append(("ft-gap",
                        f"The best prompt is {q.quality_gap_points:g} points short (≥ {GAP_POINTS:g}) and there are "
                        f"{q.labelled_examples:,} examples (≥ {GAP_EXAMPLES}) to close the gap with."))
    return out


def _too_slow_for_hosted(q: Questionnaire) -> bool:
    hosted = q.prompted_latency_ms if q.prompted_latency_ms is not None else HOSTED_LATENCY_MS
    return q.latency_budget_ms is not None and q.latency_budget_ms < hosted


def _hosted_latency(q: Questionnaire) -> str:
    if q.prompted_latency_ms is not None:
        return f"measured {q.prompted_latency_ms:,.0f} ms"
    return f"typical ~{HOSTED_LATENCY_MS:g} ms"


def recommend(q: Questionnaire) -> Decision:
    """Walk the ladder for these answers; every path ends in at least one recommendation with reasons."""
    b = _Builder()
    b.visit("start", "q_need")
    b.fire("start-with-prompting",
           "Start with prompting: it is the cheapest lever, needs no training data, and every other approach is measured against it.",
           "prompting", "Prompting (the baseline)", role="baseline")

    knowledge = q.need in ("knowledge", "both")
    changing = q.data_changes in CHANGES_OFTEN
    if knowledge or changing:
        b.visit("rag")
        if knowledge:
            b.fire("rag-knowledge", "The task needs knowledge the model lacks: retrieve it into the prompt (RAG), where it can be updated and cited.",
                   "rag", "RAG")
        if changing:
            b.fire("rag-changing-data",
                   f"The data changes {q.data_changes}: retrieval picks up changes at once; a fine-tune would need re-training each time.",
                   "rag", "RAG")
        if q.pii_in_data:
            b.fire("rag-pii", "Retrieved passages contain personal data: redact the index or keep the model local.", "rag", "RAG")
        if q.need == "knowledge":
            b.not_recommended["fine-tuning"] = "Never fine-tune for facts: a fine-tune learns behaviour, not reliable knowledge, and cannot be updated cheaply."
            b.fired.append(("never-fine-tune-for-facts", b.not_recommended["fine-tuning"]))
            return _done(b)
    b.visit("q_data")

    if q.labelled_examples < MIN_EXAMPLES:
        b.visit("collect")
        b.fire("too-few-examples",
               f"Only {q.labelled_examples} labelled examples (< {MIN_EXAMPLES}): improve the prompt (few-shot examples, "
               "label descriptions) and collect data; 50–100 good examples usually beat 10,000 noisy ones.",
               "few-shot", "Improve the prompt and collect data", role="next step")
        b.not_recommended.setdefault("fine-tuning", f"Fewer than {MIN_EXAMPLES} examples: too few to fine-tune or to measure it.")
        return _done(b)

    b.visit("q_trigger")
    triggers = _behaviour_triggers(q)
    if not triggers:
        b.visit("prompt")
        reason = "No fine-tuning trigger fired (format, long prompt, volume, small ≈ large, latency, ≥ 20-point gap): prompting with few-shot examples is enough."
        if q.quality_gap_points is not None and q.quality_gap_points >= GAP_POINTS:
            reason += f" A {q.quality_gap_points:g}-point gap needs ≥ {GAP_EXAMPLES} examples before fine-tuning can close it: collect more."
        b.fire("prompting-suffices", reason, "few-shot", "Few-shot prompting (search the prompt)")
        b.not_recommended.setdefault("fine-tuning", "Nothing that fine-tuning fixes better than a prompt.")
        return _done(b)

    b.visit("q_hosted")
    blockers = []
    if not q.hosted_fine_tuning_open:
        blockers.append(("hosted-closed", "Hosted fine-tuning is not open to you (OpenAI takes no new jobs from 2027-01-06 and refuses organisations that never fine-tuned)."))
    if q.pii_in_data:
        blockers.append(("pii", "The data holds personal data: train locally, or redact it on the Dataset page before uploading it anywhere."))
    if _too_slow_for_hosted(q):
        blockers.append(("latency-local", f"A {q.latency_budget_ms:g} ms budget is below the hosted round trip ({_hosted_latency(q)}): only a local model fits."))
    if blockers:
        b.visit("ft_local")
        for rule, text in triggers + blockers:
            b.fire(rule, text, "fine-tune-local", "Fine-tune locally (or on another provider)")
        return _done(b)

    b.visit("q_lifecycle")
    if q.pays_back_before_retirement is False:
        b.visit("ft_local")
        for rule, text in triggers:
            b.fire(rule, text, "fine-tune-local", "Fine-tune locally (or on another provider)")
        b.fire("lifecycle",
               "Lifecycle rule: the hosted fine-tune would not pay back before its base model retires — train locally or on a provider whose model outlives the payback.",
               "fine-tune-local", "Fine-tune locally (or on another provider)")
        b.not_recommended["fine-tune-hosted"] = "It would not pay back before its base model retires."
        return _done(b)
    b.visit("ft_hosted")
    for rule, text in triggers:
        b.fire(rule, text, "fine-tune-hosted", "Fine-tune (hosted)")
    b.fire("lifecycle",
           "Lifecycle rule: it pays back before the base model retires." if q.pays_back_before_retirement
           else "Lifecycle rule: check the break-even below — a fine-tune must pay back before its base model retires.",
           "fine-tune-hosted", "Fine-tune (hosted)")
    return _done(b)


def _done(b: _Builder) -> Decision:
    return Decision(list(b.recs.values()), b.path, b.not_recommended, b.fired)


# --- drawing --------------------------------------------------------------------------------

def flow_dot(decision: Decision | None = None, rankdir: str = "LR") -> str:
    """Graphviz DOT of the ladder; the path of `decision` is highlighted (st.graphviz_chart draws it).

    Left to right and in large type, so that drawn across the page's full width its text stays readable
    on a meeting-room screen (a tall graph squeezed into half a column came out a few pixels high)."""
    on_path = set(decision.path) if decision else set()
    taken = decision.edges_taken() if decision else set()
    lines = [
        "digraph decide {",
        f'  rankdir={rankdir}; bgcolor="transparent"; nodesep=0.3; ranksep=0.45;',
        '  node [fontname="Helvetica", fontsize=20, margin="0.2,0.1", style="rounded,filled", fillcolor="#f4f4f5", color="#a1a1aa", fontcolor="#3f3f46"];',
        '  edge [fontname="Helvetica", fontsize=17, color="#a1a1aa", fontcolor="#52525b"];',
    ]
    for node, (label, kind) in NODES.items():
        shape = {"start": "oval", "question": "diamond", "outcome": "box"}[kind]
        attrs = [f'label="{_dot_escape(label)}"', f"shape={shape}"]
        if node in on_path:
            fill = "#dcfce7" if kind == "outcome" else "#dbeafe"
            attrs += [f'fillcolor="{fill}"', 'color="#2563eb"', "penwidth=2.5", 'fontcolor="#111827"']
        lines.append(f"  {node} [{', '.join(attrs)}];")
    for src, dst, label in EDGES:
        attrs = [f'label="{_dot_escape(label)}"'] if label else []
        if (src, dst) in taken:
            attrs += ['color="#2563eb"', "penwidth=3", 'fontcolor="#1d4ed8"']
        lines.append(f"  {src} -> {dst}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    lines.append("}")
    return "\n".join(lines)


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
