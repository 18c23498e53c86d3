"""Launch guards: budget, public mode, local size limits — the same rules for the page and the CLI."""

from core.training.guards import check_launch, hosted_allowed, password_matches
from core.training.options import Estimate

HOSTED_EST = Estimate(seconds=None, cost_usd=12.5, examples=300, tokens=2_500_000)
LOCAL_EST = Estimate(seconds=120, cost_usd=0.0, examples=120, steps=200)


def test_a_budget_refuses_launches_estimated_above_it():
    assert check_launch("openai", HOSTED_EST, budget_usd=20).allowed
    refused = check_launch("openai", HOSTED_EST, budget_usd=10)
    assert not refused.allowed and "$12.50 is above your budget of $10.00" in refused.reasons[0]
    unknown = check_launch("openai", HOSTED_EST, budget_usd=10, price_known=False)
    assert not unknown.allowed and "no training price" in unknown.reasons[0]
    assert check_launch("openai", HOSTED_EST).allowed  # no budget set


def test_public_mode_needs_the_owner_or_the_visitors_own_key_for_hosted_jobs():
    assert not check_launch("openai", HOSTED_EST, public_mode=True).allowed
    assert check_launch("openai", HOSTED_EST, public_mode=True, owner_ok=True).allowed
    assert check_launch("openai", HOSTED_EST, public_mode=True, visitor_key=True).allowed
    assert hosted_allowed(public_mode=False, owner_ok=False, visitor_key=False) == (True, "")


def test_public_mode_keeps_local_trainings_small_and_one_at_a_time():
    assert check_launch("local-setfit", LOCAL_EST, public_mode=True).allowed
    busy = check_launch("local-setfit", LOCAL_EST, public_mode=True, local_busy=True)
    assert not busy.allowed and "one local training at a time" in busy.reasons[0]
    big = Estimate(seconds=900, cost_usd=0.0, examples=1000)
    reasons = check_launch("local-lora", big, public_mode=True).reasons
    assert len(reasons) == 2 and "1000" in reasons[0] and "15.0 min" in reasons[1]
    assert check_launch("local-lora", big).allowed  # the owner's own machine: no limit


def test_the_confirmation_states_time_and_cost():
    assert check_launch("local-setfit", LOCAL_EST).confirm == "Train on 120 examples: about 2.0 min on this machine, no API cost."
    assert "about $12.50" in check_launch("openai", HOSTED_EST).confirm


def test_passwords_compare_in_constant_time_and_need_an_expected_value():
    assert password_matches("s3cret", "s3cret")
    assert not password_matches("guess", "s3cret")
    assert not password_matches("", "")
    assert not password_matches("anything", None)


def test_a_visitor_in_public_mode_never_gets_the_owners_key():
    from core.training.hosted import endpoint_for

    common = dict(configured_key="sk-owner", base_url="https://api.example/v1", azure_key="az-owner")
    visitor = endpoint_for(session_key=None, public_mode=True, **common)
    assert visitor.api_key is None
    assert endpoint_for(session_key="sk-visitor", public_mode=True, **common).api_key == "sk-visitor"
    assert endpoint_for(session_key=None, public_mode=True, owner_ok=True, **common).api_key == "sk-owner"
    azure = endpoint_for(session_key=None, public_mode=True, azure_endpoint="https://x.openai.azure.com", **common)
    assert azure.api_key is None
    assert endpoint_for(session_key=None, azure_endpoint="https://x.openai.azure.com", **common).api_key == "sk-owner"
    assert endpoint_for(session_key=None, **common).api_key == "sk-owner"  # the owner's own lab
