import pytest

from core.endpoint import Endpoint, paid_actions_note, resolve_endpoint
from core.public_mode import PublicMode, local_training_allowed

PUBLIC = PublicMode.from_settings({"enabled": True, "owner_password": "s3cret", "max_local_train_examples": 100})
PRIVATE = PublicMode()
OWNER = dict(owner_key="sk-owner", owner_base_url="http://10.0.0.5:8000/v1")


def test_absent_settings_mean_a_private_lab():
    assert PublicMode.from_settings(None).enabled is False
    assert PublicMode.from_settings({}).enabled is False


def test_private_lab_uses_owner_config_and_session_overrides():
    ep = resolve_endpoint(PRIVATE, visitor_key=None, visitor_base_url=None, owner_unlocked=False, **OWNER)
    assert (ep.api_key, ep.base_url, ep.owner) == ("sk-owner", "http://10.0.0.5:8000/v1", True)
    ep = resolve_endpoint(PRIVATE, visitor_key="sk-mine", visitor_base_url="http://localhost:11434/v1",
                          owner_unlocked=False, **OWNER)
    assert (ep.api_key, ep.base_url) == ("sk-mine", "http://localhost:11434/v1")
    assert resolve_endpoint(PRIVATE, visitor_key=None, visitor_base_url=None, owner_key=None,
                            owner_base_url=None, owner_unlocked=False) is None


def test_public_visitor_cannot_reach_the_owner_endpoint():
    assert resolve_endpoint(PUBLIC, visitor_key=None, visitor_base_url=None, owner_unlocked=False, **OWNER) is None
    # A base URL alone is not a key: the owner's private server stays out of reach too.
    assert resolve_endpoint(PUBLIC, visitor_key=None, visitor_base_url="http://10.0.0.5:8000/v1",
                            owner_unlocked=False, **OWNER) is None


def test_public_visitor_key_goes_to_the_visitors_own_endpoint_never_the_owners():
    ep = resolve_endpoint(PUBLIC, visitor_key="sk-visitor", visitor_base_url=None, owner_unlocked=False, **OWNER)
    assert ep.api_key == "sk-visitor" and ep.base_url is None and not ep.owner


def test_owner_password_unlocks():
    assert PUBLIC.check_password("s3cret") and not PUBLIC.check_password("S3cret") and not PUBLIC.check_password("")
    assert not PublicMode(enabled=True).check_password("anything")  # no password set: nobody unlocks
    ep = resolve_endpoint(PUBLIC, visitor_key=None, visitor_base_url=None, owner_unlocked=True, **OWNER)
    assert ep.owner and ep.api_key == "sk-owner"


def test_endpoint_repr_hides_the_key():
    ep = resolve_endpoint(PRIVATE, visitor_key="sk-very-secret", visitor_base_url=None, owner_unlocked=False, **OWNER)
    assert "sk-very-secret" not in repr(ep) and "sk-very-secret" not in str(ep)


@pytest.mark.parametrize("n, running, ok", [(50, 0, True), (101, 0, False), (50, 1, False)])
def test_public_local_training_is_capped_and_serial(n, running, ok):
    allowed, why = local_training_allowed(PUBLIC, n, running)
    assert allowed is ok and (ok or why)
    assert local_training_allowed(PRIVATE, 10_000, 3) == (True, "")


def test_banner_text():
    assert paid_actions_note(PRIVATE, None) == ""
    assert "own API key" in paid_actions_note(PUBLIC, None)


def test_training_endpoint_repr_hides_the_key():

    assert "sk-very-secret" not in repr(Endpoint(api_key="sk-very-secret", base_url="http://127.0.0.1:1/v1"))


# --- quotas of a visitor session ------------------------------------------------------------------

from core.public_mode import (Usage, check_cpu, check_evaluation, check_rows, check_training, check_upload,  # noqa: E402
                              cpu_meter, remaining)

QUOTA = PublicMode.from_settings({"enabled": True, "max_upload_mb": 1, "max_rows_per_dataset": 100,
                                  "max_evaluated_examples": 50, "max_local_train_examples": 40, "max_cpu_seconds": 60,
                                  "idle_minutes": 5})


def test_quota_settings_and_defaults():
    assert (QUOTA.max_upload_mb, QUOTA.max_rows_per_dataset, QUOTA.max_evaluated_examples,
            QUOTA.max_local_train_examples, QUOTA.max_cpu_seconds, QUOTA.idle_seconds) == (1, 100, 50, 40, 60, 300)
    d = PublicMode.from_settings({"enabled": True})
    assert d.idle_seconds == 3600 and d.max_rows_per_dataset > 0 and d.max_cpu_seconds > 0


def test_quotas_refuse_with_the_reason():
    assert not check_upload(QUOTA, 2 * 1024 * 1024).allowed
    assert "1 MB" in check_upload(QUOTA, 2 * 1024 * 1024).reason
    assert check_upload(QUOTA, 1024).allowed
    assert "at most 100 rows" in check_rows(QUOTA, 101).reason and check_rows(QUOTA, 100).allowed
    used = Usage(evaluated_examples=40, local_train_examples=30, cpu_seconds=50)
    assert "10 more examples" in check_evaluation(QUOTA, used, 11).reason
    assert check_evaluation(QUOTA, used, 10).allowed
    assert "10 more examples" in check_training(QUOTA, used, 20, 5).reason
    assert "CPU seconds" in check_training(QUOTA, used, 5, 30).reason  # 10 s left, 30 s estimated
    assert check_training(QUOTA, used, 5, 5).allowed
    assert "already running" in check_training(QUOTA, Usage(), 5, 5, running_local_jobs=1).reason
    spent = Usage(cpu_seconds=60)
    assert not check_cpu(QUOTA, spent).allowed and not check_evaluation(QUOTA, spent, 1).allowed


def test_no_quotas_for_the_owner_or_a_private_lab():
    huge = Usage(evaluated_examples=10**6, local_train_examples=10**6, cpu_seconds=10**6)
    for mode, owner in ((QUOTA, True), (PRIVATE, False)):
        assert check_upload(mode, 10**10, owner=owner).allowed and check_rows(mode, 10**7, owner=owner).allowed
        assert check_evaluation(mode, huge, 10**6, owner=owner).allowed
        assert check_training(mode, huge, 10**6, 10**6, owner=owner, running_local_jobs=3).allowed
        assert remaining(mode, huge, owner=owner) is None


def test_remaining_in_words_and_usage_adds_up():
    used = Usage().plus(evaluated_examples=20).plus(evaluated_examples=5, cpu_seconds=1.5)
    assert used == Usage(evaluated_examples=25, cpu_seconds=1.5)
    left = remaining(QUOTA, used)
    assert left["Evaluated examples"] == "25 of 50 left" and left["CPU seconds"].startswith("58 of 60")


def test_cpu_meter_measures_the_block():
    with cpu_meter() as spent:
        sum(i * i for i in range(200_000))
    assert len(spent) == 1 and spent[0] > 0


def test_dataset_quota_checks_size_then_rows():
    from core.public_mode import check_dataset

    assert "MB" in check_dataset(QUOTA, 2 * 1024 * 1024, 10).reason
    assert "rows" in check_dataset(QUOTA, 10, 101).reason
    assert check_dataset(QUOTA, 10, 100).allowed
