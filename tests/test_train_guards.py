"""Launch guards: budget, public mode, local size limits — the same rules for the page and the CLI."""

from core.public_mode import PublicMode
from core.training.guards import check_launch
from core.training.options import Estimate

HOSTED_EST = Estimate(seconds=None, cost_usd=12.5, examples=300, tokens=2_500_000)
LOCAL_EST = Estimate(seconds=120, cost_usd=0.0, examples=120, steps=200)
PUBLIC = PublicMode(enabled=True, owner_password="pw")


def test_a_budget_refuses_launches_estimated_above_it():
    assert check_launch("openai", HOSTED_EST, budget_usd=20).allowed
    refused = check_launch("openai", HOSTED_EST, budget_usd=10)
    assert not refused.allowed and "$12.50 is above your budget of $10.00" in refused.reasons[0]
    unknown = check_launch("openai", HOSTED_EST, budget_usd=10, price_known=False)
    assert not unknown.allowed and "no training price" in unknown.reasons[0]
    assert check_launch("openai", HOSTED_EST).allowed  # no budget set


def test_hosted_launches_need_an_endpoint_paid_actions_may_use():
    blocked = check_launch("openai", HOSTED_EST, mode=PUBLIC, endpoint_ok=False)
    assert not blocked.allowed and "owner's password or your own API key" in blocked.reasons[0]
    private = check_launch("openai", HOSTED_EST, endpoint_ok=False)
    assert not private.allowed and "Configure the fine-tuning endpoint" in private.reasons[0]
    assert check_launch("openai", HOSTED_EST, mode=PUBLIC, endpoint_ok=True).allowed


def test_public_mode_keeps_local_trainings_small_short_and_one_at_a_time():
    assert check_launch("local-setfit", LOCAL_EST, mode=PUBLIC).allowed
    busy = check_launch("local-setfit", LOCAL_EST, mode=PUBLIC, running_local_jobs=1)
    assert not busy.allowed and "already running" in busy.reasons[0]
    big = Estimate(seconds=900, cost_usd=0.0, examples=1000)
    reasons = check_launch("local-lora", big, mode=PUBLIC).reasons
    assert len(reasons) == 2 and "1000" in reasons[0] and "15.0 min" in reasons[1]
    assert check_launch("local-lora", big).allowed  # the owner's own machine: no limit


def test_the_confirmation_states_time_and_cost():
    assert check_launch("local-setfit", LOCAL_EST).confirm == "Train on 120 examples: about 2.0 min on this machine, no API cost."
    assert "about $12.50" in check_launch("openai", HOSTED_EST).confirm
