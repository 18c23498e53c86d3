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
