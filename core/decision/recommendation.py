"""The one Recommendation: which approach to use, why, with the comparisons, the economics and the risks.

Input: the runs of one dataset version and split (through an EvaluationReport), the economics
settings (model and prices, calls/day, horizon, prompt caching, Batch API, self-hosting $/hour),
the latency budget and, optionally, the questionnaire. Output: one `Recommendation`, which Home,
Evaluate, Decide, the memo and `python -m core recommend` all show.

The rule, once runs exist:
1. every approach is compared with the most accurate one (McNemar exact, Holm-corrected,
   equivalence margin; core.evaluation.stats.compare_to_best);
2. among the approaches not significantly worse, a fine-tune is a candidate only if it pays back
   (training amortised) against the cheapest candidate that needs no training before its base
   model retires;
3. of the candidates within the latency budget (all, if none is), the cheapest over the horizon at
   the user's volume wins, then the fastest;
4. approaches more accurate but dearer, or cheaper but really worse, are shown as trade-offs in money.
Before any run, the questionnaire is the prior; once runs exist, the answers the measurements
contradict are listed as "you answered X; the measurements say Y".
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Sequence

from core import economics as eco
from core.backends import describe, family as family_of
from core.catalog import Catalog, ModelInfo, load_catalog
from core.evaluation import stats
from core.evaluation.metrics import correct_vector
from core.decision import questionnaire as qn

if TYPE_CHECKING:
    from core.data.dataset import Dataset
    from core.evaluation.report import EvaluationReport
    from core.store import Store

DEFAULT_MODEL = "gpt-4o-mini-2024-07-18"
DEFAULT_CALLS_PER_DAY = 10_000
DEFAULT_CACHE_HIT_RATE = 0.5     # steady traffic keeps a shared prefix warm about half the time (a cautious guess)
LOCAL_TRAINING_HOURS = 0.25      # a local fine-tune (SetFit ~0.5–2 min, Gemma LoRA ~2.5 min here) plus set-up
DAYS_PER_MONTH = 365 / 12
HOSTED_BACKENDS = ("openai",)    # backends that bill per token through the catalog; the rest run on your machine

# The families the rules need, in one place. core.backends.family() names them (the lead may rename
# them: prompting / RAG / fine-tuned / classifier); every spelling it may use is listed here.
FINE_TUNED = frozenset({"fine-tuning", "fine-tuned"})
PROMPTING = frozenset({"prompting"})
RAG = frozenset({"rag", "RAG"})
# The questionnaire's outcomes and the family each points to.
PRIOR_FAMILY = {"prompting": "prompting", "few-shot": "prompting", "rag": "rag",
                "fine-tune-hosted": "fine-tuned", "fine-tune-local": "fine-tuned"}


@dataclass(frozen=True)
class Settings:
    """The user's economics and constraints (the Decide page's inputs; the CLI's options)."""

    model: str = DEFAULT_MODEL
    calls_per_day: float = DEFAULT_CALLS_PER_DAY
    horizon_days: int = 365
    cache_hit_rate: float = DEFAULT_CACHE_HIT_RATE
    batch: bool = False
    self_host_usd_per_hour: float = eco.DEFAULT_SELF_HOST_USD_PER_HOUR
    latency_budget_ms: float | None = None
    margin: float = stats.MARGIN
    start: dt.date | None = None

    def __post_init__(self):
        if self.calls_per_day < 0 or self.horizon_days <= 0:
            raise ValueError("calls per day cannot be negative and the horizon must be at least a day")
        if not 0 <= self.cache_hit_rate <= 1:
            raise ValueError("the cache hit rate is a share between 0 and 1")
        if not 0 <= self.margin < 1:
            raise ValueError("the equivalence margin is a share of accuracy (0.02 = 2 points)")

    @property
    def today(self) -> dt.date:
        return self.start or dt.date.today()


@dataclass(frozen=True)
class ApproachEconomics:
    """What one approach costs at the user's volume over the horizon, and how fast it answers."""

    approach: str
    family: str
    cost_per_call: float | None      # None: the price is unknown (never ranked "cheaper")
    per_month_usd: float | None
    upfront_usd: float               # training, amortised over the horizon
    horizon_usd: float | None
    latency_p50_ms: float | None
    within_budget: bool | None       # None: no budget, or latency not measured
    priced: str                      # how it was priced, in words
    cached_tokens_per_call: float = 0.0
    retires: str | None = None       # the hosted model it runs on retires on this day
    path_ends: str | None = None     # a fine-tune with no fine-tunable successor ends here
    break_even_days: float | None = None  # fine-tunes: days until training is repaid vs the cheapest untrained candidate
    pays_back_before_retirement: bool | None = None


@dataclass
class Recommendation:
    recommended: str | None
    family: str | None
    headline: str
    reasons: list[str]
    evidence: dict
    risks: list[str]
    confidence: str                                   # high | medium | low
    comparisons: list[stats.VsBest] = field(default_factory=list)
    economics: list[ApproachEconomics] = field(default_factory=list)
    tradeoffs: list[str] = field(default_factory=list)
    contradictions: list[str] = field(default_factory=list)
    basis: str = "measurements"                       # measurements | questionnaire | nothing
    settings: Settings = field(default_factory=Settings)
    prior: qn.Decision | None = None
    breakeven: eco.CostComparison | None = None       # prompting vs a fine-tune of settings.model
    scenario: eco.Scenario | None = None              # the token counts that comparison used

    def to_dict(self) -> dict:
        s = asdict(self.settings)
        s["start"] = self.settings.today.isoformat()
        return {
            "recommended": self.recommended, "family": self.family, "headline": self.headline,
            "reasons": self.reasons, "evidence": self.evidence, "risks": self.risks, "confidence": self.confidence,
            "comparisons": [c.to_dict() for c in self.comparisons],
            "economics": [asdict(e) for e in self.economics], "tradeoffs": self.tradeoffs,
            "contradictions": self.contradictions, "basis": self.basis, "settings": s,
            "prior": None if self.prior is None else self.prior.to_dict(),
            "breakeven": None if self.breakeven is None else self.breakeven.to_dict(),
            "scenario": None if self.scenario is None else asdict(self.scenario),
        }

    def comparison_rows(self) -> list[dict]:
        """The comparison table as pages and the memo show it (percent points, corrected p-values)."""
        econ = {e.approach: e for e in self.economics}
        rows = []
        for c in self.comparisons:
            e = econ.get(c.approach)
            rows.append({
                "approach": describe(c.approach), "spec": c.approach, "recommended": c.approach == self.recommended,
                "accuracy": c.accuracy, "95 % CI (Wilson)": f"{c.accuracy_ci95[0]:.1%} – {c.accuracy_ci95[1]:.1%}",
                "vs best (points)": None if c.p is None else round(c.diff * 100, 1),
                "95 % CI of the difference": "—" if c.p is None else
                f"{c.diff_ci95[0] * 100:+.1f} to {c.diff_ci95[1] * 100:+.1f}",
                "p": c.p, "p (Holm)": c.p_holm, "outcome": c.outcome,
                "more examples to settle": c.more_examples_needed,
                "$ / month": None if e is None else e.per_month_usd,
                "p50 ms": None if e is None else e.latency_p50_ms,
            })
        return rows


# --- pricing each evaluated approach ---------------------------------------------------------

def _model_info(catalog: Catalog, model: str) -> ModelInfo | None:
    try:
        return catalog.get(model) if model else None
    except KeyError:
        return None


def _successor(catalog: Catalog, info: ModelInfo | None) -> ModelInfo | None:
    return catalog.successor_of(info) if info is not None else None


def _price(name: str, fam: str, backend: str, model: str, m, settings: Settings, catalog: Catalog,
           shared_prefix: float, training_tokens: float) -> ApproachEconomics:
    """One approach's economics from its measured run (tokens, latency, cost) and the settings."""
    today, days, calls = settings.today, settings.horizon_days, settings.calls_per_day
    fine_tuned = fam in FINE_TUNED
    upfront, cached, retires, ends, per_call = 0.0, 0.0, None, None, None
    if backend in HOSTED_BACKENDS:
        info = _model_info(catalog, model)
        how = f"{info.id} prices from the catalog" if info else f"priced as {settings.model} (not in the catalog)"
        info = info or _model_info(catalog, settings.model)
        is_ft = model.startswith("ft:")
        if info is not None and m.input_tokens_per_call is not None and m.output_tokens_per_call is not None:
            cached = eco.cached_tokens_per_call(info, min(shared_prefix, m.input_tokens_per_call), settings.cache_hit_rate)
            try:
                per_call = eco.inference_cost_usd(info, m.input_tokens_per_call, m.output_tokens_per_call,
                                                  fine_tuned=is_ft, batch=settings.batch, cached_input_tokens=cached)
                if is_ft and info.training_per_1m is not None:
                    upfront = eco.training_cost_usd(info, training_tokens)
            except eco.PricingError:
                per_call = None
            how += (f", {cached:,.0f} cached tokens/call" if cached else "") + (", Batch API" if settings.batch else "")
        elif m.cost_per_1k_usd is not None:
            per_call, how = m.cost_per_1k_usd / 1000, "measured cost per call"
        if info is not None and info.retires is not None and info.retires <= today + dt.timedelta(days=days):
            retires = info.retires.isoformat()
            if is_ft and not eco.successor_fine_tunable(info, _successor(catalog, info)):
                ends = retires
    else:
        per_call = eco.self_hosted_cost_per_call(settings.self_host_usd_per_hour, m.latency_p50_ms)
        how = (f"self-hosted: ${settings.self_host_usd_per_hour:g}/hour ÷ measured throughput"
               if per_call is not None else "self-hosted, latency not measured: cost unknown")
        if fine_tuned:
            upfront = settings.self_host_usd_per_hour * LOCAL_TRAINING_HOURS
    horizon = None if per_call is None else upfront + per_call * calls * days
    budget = settings.latency_budget_ms
    within = None if budget is None or m.latency_p50_ms is None else m.latency_p50_ms <= budget
    return ApproachEconomics(name, fam, per_call, None if per_call is None else per_call * calls * DAYS_PER_MONTH,
                             upfront, horizon, m.latency_p50_ms, within, how, cached, retires, ends)


def _pays_back(ft: ApproachEconomics, against: ApproachEconomics | None, settings: Settings) -> ApproachEconomics:
    """A fine-tune's break-even against the cheapest untrained candidate, and whether it comes before retirement."""
    if against is None or ft.cost_per_call is None or against.cost_per_call is None:
        return ft
    be = eco.break_even_days(eco.ApproachCost("base", against.cost_per_call, against.upfront_usd),
                             eco.ApproachCost("ft", ft.cost_per_call, ft.upfront_usd), settings.calls_per_day)
    end = ft.path_ends or ft.retires
    ok = be is not None and (end is None or settings.today + dt.timedelta(days=be) <= dt.date.fromisoformat(end))
    if be is not None and be > settings.horizon_days:
        ok = False
    return replace(ft, break_even_days=be, pays_back_before_retirement=ok)


# --- the engine --------------------------------------------------------------------------------

def _money(x: float | None) -> str:
    if x is None:
        return "unknown cost"
    return f"${x:,.4f}" if 0 < abs(x) < 0.01 else f"${x:,.2f}"


def _cost_key(e: ApproachEconomics) -> tuple:
    return (math.inf if e.horizon_usd is None else round(e.horizon_usd, 2),
            math.inf if e.latency_p50_ms is None else e.latency_p50_ms)


def decide(correct: dict[str, dict[int, bool]], priced: dict[str, ApproachEconomics], settings: Settings,
           evidence: dict | None = None, prior: qn.Decision | None = None,
           answers: qn.Questionnaire | None = None, breakeven: eco.CostComparison | None = None,
           error_rates: dict[str, float] | None = None) -> Recommendation:
    """The recommendation from paired correctness vectors and each approach's economics (pure)."""
    evidence = dict(evidence or {})
    if not correct:
        return from_prior(prior, answers, settings, breakeven)
    comps = stats.compare_to_best(correct, settings.margin)
    by = {c.approach: c for c in comps}
    best = comps[0]
    not_worse = [c.approach for c in comps if c.outcome != "worse"]
    untrained = [priced[a] for a in not_worse if priced[a].family not in FINE_TUNED and priced[a].cost_per_call is not None]
    cheapest_untrained = min(untrained, key=_cost_key, default=None)
    econ = {a: (_pays_back(e, cheapest_untrained, settings) if e.family in FINE_TUNED else e) for a, e in priced.items()}
    excluded = {}
    for a in not_worse:
        e = econ[a]
        if e.family in FINE_TUNED and e.pays_back_before_retirement is False:
            when = ("never pays back (it does not save per call)" if e.break_even_days is None else
                    f"pays back only after {e.break_even_days:,.0f} days")
            limit = (f"its path ends when its base model retires on {e.path_ends}" if e.path_ends else
                     f"its base model retires on {e.retires}" if e.retires else
                     f"the horizon is {settings.horizon_days} days")
            excluded[a] = f"Not {a}: against {cheapest_untrained.approach} this fine-tune {when}; {limit}."
    candidates = [econ[a] for a in not_worse if a not in excluded] or [econ[best.approach]]
    fits = [e for e in candidates if e.within_budget is not False]
    pool = fits or candidates
    rec = min(pool, key=_cost_key)
    rc = by[rec.approach]
    reasons = [f"{rec.approach} — {rc.accuracy:.1%} accurate (95 % CI {rc.accuracy_ci95[0]:.1%}–{rc.accuracy_ci95[1]:.1%}, "
               f"{rc.n} test examples), {_money(rec.per_month_usd)} a month at {settings.calls_per_day:,.0f} calls/day "
               f"({_money(rec.horizon_usd)} over {settings.horizon_days} days"
               + (f", training {_money(rec.upfront_usd)} included" if rec.upfront_usd else "") + ")"
               + ("" if rec.latency_p50_ms is None else f", {rec.latency_p50_ms:,.0f} ms per call") + "."]
    if rc.outcome == "best":
        settled = [c for c in comps if c.outcome == "worse"]
        reasons.append("It is the most accurate approach" + (
            f"; {', '.join(c.approach for c in settled)} {'is' if len(settled) == 1 else 'are'} really worse"
            f" (Holm-corrected p < 0.05)." if settled else "."))
    else:
        reasons.append(f"It is not significantly less accurate than the most accurate, {best.approach}: {rc.sentence}")
    dearer = [econ[a] for a in not_worse if a != rec.approach and a not in excluded]
    if dearer:
        reasons.append("Among the approaches not significantly worse it is the cheapest over the horizon"
                       + (", then the fastest" if any(_cost_key(d)[0] == _cost_key(rec)[0] for d in dearer) else "")
                       + (f" within the {settings.latency_budget_ms:g} ms latency budget" if settings.latency_budget_ms else "")
                       + ": " + "; ".join(f"{d.approach} {_money(d.horizon_usd)}" for d in dearer) + ".")
    reasons += list(excluded.values())
    tradeoffs = []
    for c in comps:
        e = econ[c.approach]
        if c.approach == rec.approach or e.per_month_usd is None or rec.per_month_usd is None:
            continue
        gain, extra = (c.accuracy - rc.accuracy) * 100, e.per_month_usd - rec.per_month_usd
        if gain > 0 and extra > 0:
            real = "really better" if c.outcome == "best" and rc.outcome == "worse" else "not a significant difference"
            tradeoffs.append(f"{c.approach}: +{gain:.1f} points for ${extra:,.2f} more per month ({real}).")
        elif gain < 0 and extra < 0:
            tradeoffs.append(f"{c.approach}: ${-extra:,.2f} less per month for {gain:.1f} points"
                             + (" (really worse)." if c.outcome == "worse" else "."))
    risks = _risks(rec, rc, comps, econ, settings, answers, error_rates or {})
    undecided = [c for c in comps if c.outcome == "undecided" and c.approach in [e.approach for e in candidates]]
    n = rc.n
    if len(comps) == 1 or n < 50:
        confidence = "low"
    elif undecided or rec.cost_per_call is None:
        confidence = "medium"
    else:
        confidence = "high"
    headline = (f"Use {describe(rec.approach)} (`{rec.approach}`): " + {"best": "the most accurate",
                                             "equivalent": f"as accurate as the best within ± {settings.margin * 100:g} points",
                                             }.get(rc.outcome, "not significantly less accurate than the best")
                + f", {_money(rec.per_month_usd)} a month at your volume.")
    contradictions = contradicted(answers, prior, comps, econ, breakeven) if answers is not None else []
    evidence.update(n=n, approaches=len(comps), margin_points=settings.margin * 100)
    return Recommendation(rec.approach, rec.family, headline, reasons, evidence, risks, confidence, comps,
                          [econ[c.approach] for c in comps], tradeoffs, contradictions, "measurements", settings, prior,
                          breakeven)


def _risks(rec: ApproachEconomics, rc: stats.VsBest, comps, econ, settings: Settings,
           answers: qn.Questionnaire | None, error_rates: dict[str, float]) -> list[str]:
    risks = []
    if rec.retires:
        risks.append(f"Model retirement: {rec.approach} runs on a model that retires on {rec.retires}"
                     + (" and its fine-tune path ends then (the catalog names no fine-tunable successor)."
                        if rec.path_ends else "; plan the move to its successor and re-evaluate on it."))
    if rc.outcome == "undecided" and rc.more_examples_needed:
        risks.append(f"Small test set: the choice rests on an undecided comparison; about {rc.more_examples_needed:,} "
                     "more labelled test examples would settle it.")
    if settings.latency_budget_ms is not None and rec.within_budget is False:
        risks.append(f"No approach that is not worse meets the {settings.latency_budget_ms:g} ms budget.")
    if rec.cost_per_call is None:
        risks.append(f"The price of {rec.approach} is unknown: add its model to the catalog.")
    if error_rates.get(rec.approach):
        risks.append(f"{error_rates[rec.approach]:.1%} of {rec.approach}'s calls failed (counted as wrong).")
    if answers is not None and answers.pii_in_data:
        risks.append("Personal data: redact it before any hosted provider sees it (the Dataset page does it).")
    if answers is not None and answers.data_changes in qn.CHANGES_OFTEN:
        risks.append(f"The data changes {answers.data_changes}: re-run the evaluation on each new version"
                     + ("; a fine-tune must be re-trained each time." if rec.family in FINE_TUNED else "."))
    return risks


def contradicted(q: qn.Questionnaire, prior: qn.Decision | None, comps: Sequence[stats.VsBest],
                 econ: dict[str, ApproachEconomics], breakeven: eco.CostComparison | None) -> list[str]:
    """The questionnaire answers the measurements contradict: "you answered X; the measurements say Y"."""
    out = []
    fams = {c.approach: econ[c.approach].family for c in comps}
    prompting = [c for c in comps if fams[c.approach] in PROMPTING]
    best = comps[0]
    if q.quality_gap_points is not None and prompting:
        gap = (best.accuracy - max(c.accuracy for c in prompting)) * 100
        if abs(gap - q.quality_gap_points) >= 5:
            out.append(f"You answered that the best prompt falls {q.quality_gap_points:g} points short; the measurements "
                       f"say {gap:.1f} points ({max(prompting, key=lambda c: c.accuracy).approach} vs {best.approach}).")
    lat = [econ[c.approach].latency_p50_ms for c in prompting if econ[c.approach].latency_p50_ms is not None]
    if q.prompted_latency_ms is not None and lat and abs(min(lat) - q.prompted_latency_ms) > 0.5 * q.prompted_latency_ms:
        out.append(f"You answered a prompted latency of {q.prompted_latency_ms:,.0f} ms; the measurements say "
                   f"{min(lat):,.0f} ms (p50).")
    if prior is not None:
        for r in prior.primary:
            fam = PRIOR_FAMILY.get(r.approach)
            runs_of = [c for c in comps if _same_family(fams[c.approach], fam)]
            if runs_of and all(c.outcome == "worse" for c in runs_of):
                top = max(runs_of, key=lambda c: c.accuracy)
                out.append(f"You answered so that the questionnaire points to {r.title.lower()}; the measurements say "
                           f"its best run, {top.approach}, is {abs(top.diff) * 100:.1f} points less accurate than "
                           f"{best.approach} (Holm-corrected {stats.p_wording(top.p_holm)}).")
    if breakeven is not None and q.calls_per_day >= qn.HIGH_VOLUME_CALLS and not _pays(breakeven):
        out.append(f"You answered {q.calls_per_day:,.0f} calls/day, a volume that usually favours fine-tuning; the "
                   f"economics say a fine-tune of {breakeven.model} "
                   + ("never pays back" if breakeven.break_even_days is None else
                      f"pays back only after {breakeven.break_even_days:,.0f} days, after it retires ({breakeven.retires})")
                   + " once prompt caching is counted.")
    return out


def _same_family(fam: str, prior_family: str | None) -> bool:
    groups = {"prompting": PROMPTING, "rag": RAG, "fine-tuned": FINE_TUNED}
    return prior_family is not None and fam in groups.get(prior_family, {prior_family})


def _pays(c: eco.CostComparison) -> bool | None:
    """Does the fine-tune pay back (before its base model retires, when it retires)? None: no fine-tuned prices."""
    if c.finetuned_cost_per_call is None:
        return None
    if c.break_even_days is None or c.break_even_days > c.horizon_days:
        return False
    return c.pays_back_before_retirement is not False


def from_prior(prior: qn.Decision | None, answers: qn.Questionnaire | None, settings: Settings,
               breakeven: eco.CostComparison | None) -> Recommendation:
    """Before any run: the questionnaire's recommendation, with the economics it was checked against."""
    if prior is None:
        return Recommendation(None, None, "Nothing evaluated yet: run approaches on the test split (Evaluate), or "
                              "answer the questionnaire (Decide).", [], {"n": 0, "approaches": 0}, [], "low",
                              basis="nothing", settings=settings, breakeven=breakeven)
    top = prior.primary[0]
    risks = []
    if breakeven is not None and breakeven.warnings:
        risks += [w[0].upper() + w[1:] + "." for w in breakeven.warnings]
    risks.append("No measurements yet: evaluate the recommended approach and the prompted baseline on the frozen "
                 "test split before committing.")
    return Recommendation(top.title, PRIOR_FAMILY.get(top.approach), f"Try {top.title} first (from your answers).",
                          list(top.reasons), {"n": 0, "approaches": 0}, risks, "low", basis="questionnaire",
                          settings=settings, prior=prior, breakeven=breakeven)


# --- from the store -----------------------------------------------------------------------------

def breakeven_for(dataset: "Dataset | None", settings: Settings,
                  catalog: Catalog) -> tuple[eco.Scenario | None, eco.CostComparison | None]:
    """Prompting vs a fine-tune of settings.model on this task's token counts, caching included."""
    info = _model_info(catalog, settings.model)
    if info is None:
        return None, None
    from core.decision.scenario import token_defaults
    from core.tokens import count_tokens

    system = dataset.task.system_prompt() if dataset is not None else ""
    system_tokens = count_tokens(system, info.id) if system else 0
    p = token_defaults(dataset, system, info.id, system_tokens)
    s = eco.Scenario(info.id, settings.calls_per_day, p.prompt_tokens, p.finetuned_prompt_tokens, p.output_tokens,
                     p.training_tokens, epochs=eco.default_epochs(max(p.training_examples, 1)),
                     rag_prompt_tokens=p.rag_prompt_tokens, batch=settings.batch, horizon_days=settings.horizon_days,
                     shared_prefix_tokens=p.system_prompt_tokens, cache_hit_rate=settings.cache_hit_rate)
    return s, eco.compare(info, s, start=settings.today, successor=_successor(catalog, info))


def with_economics(q: qn.Questionnaire, breakeven: eco.CostComparison | None) -> qn.Questionnaire:
    """The answers with the catalog's facts filled in: whether the fine-tune pays back before its base model
    retires (one that never pays back does not) and whether the model still takes new fine-tuning jobs."""
    update = {"pays_back_before_retirement": None if breakeven is None else _pays(breakeven)}
    if breakeven is not None:
        update["hosted_fine_tuning_open"] = q.hosted_fine_tuning_open and breakeven.fine_tuning_open
    return q.model_copy(update=update)


def recommend(store: "Store", dataset: "Dataset", report: "EvaluationReport | None", settings: Settings | None = None,
              answers: qn.Questionnaire | None = None, catalog: Catalog | None = None) -> Recommendation:
    """The one recommendation for these runs (an EvaluationReport of one dataset version and split)."""
    settings = settings or Settings()
    catalog = catalog or load_catalog(store=store)
    scenario, breakeven = breakeven_for(dataset, settings, catalog)
    prior = None
    if answers is not None:
        answers = with_economics(answers, breakeven)
        prior = qn.recommend(answers)
    if report is None or not report.metrics:
        return replace(from_prior(prior, answers, settings, breakeven), scenario=scenario)
    from core.decision.scenario import token_defaults
    from core.tokens import count_tokens

    system = dataset.task.system_prompt()
    by_name = {name: run for name, run in zip(report.metrics, report.runs)}
    priced, correct = {}, {}
    training = None
    for name, m in report.metrics.items():
        run = by_name[name]
        correct[name] = correct_vector(report.rows[name])
        fam = family_of(run.approach)
        shared, train_tokens = 0.0, 0.0
        if run.backend in HOSTED_BACKENDS:
            info = _model_info(catalog, run.model) or _model_info(catalog, settings.model)
            shared = count_tokens(system, info.id) if info is not None else 0.0
            if run.model.startswith("ft:") and info is not None:
                if training is None:
                    p = token_defaults(dataset, system, info.id, int(shared))
                    training = p.training_tokens * eco.default_epochs(max(p.training_examples, 1))
                train_tokens = training
        priced[name] = _price(name, fam, run.backend, run.model, m, settings, catalog, shared, train_tokens)
    evidence = {"dataset": dataset.hash, "split": report.runs[0].split if report.runs else None,
                "runs": [r.id for r in report.runs]}
    errors = {name: m.error_rate for name, m in report.metrics.items()}
    return replace(decide(correct, priced, settings, evidence, prior, answers, breakeven, errors), scenario=scenario)


def for_runs(store: "Store", dataset: "Dataset", run_ids: Sequence[int], settings: Settings | None = None,
             answers: qn.Questionnaire | None = None) -> Recommendation:
    """The recommendation for stored runs (by id): what every page and the memo call."""
    from core.evaluation import report as reports
    from core.evaluation import runs as runs_mod

    run_list = [runs_mod.get(store, i) for i in run_ids]
    rep = reports.build(store, run_list, dataset.task.label_names) if run_list else None
    return recommend(store, dataset, rep, settings, answers)


DEFAULT_RUNS = 12  # the shipped evidence alone is 9 runs (four Gemma rungs, SetFit, three MiniLM classifiers, TF-IDF)


def default_run_ids(store: "Store", dataset_hash: str, split: str = "test", limit: int = DEFAULT_RUNS) -> list[int]:
    """The runs a recommendation is made from by default — the same on every page, in the memo and in the CLI:
    the newest `limit` runs with predictions on this dataset version and split, oldest first."""
    from core.evaluation import runs as runs_mod

    return [r["id"] for r in runs_mod.list_runs(store, dataset_hash, split) if r["n_predictions"]][-limit:]
