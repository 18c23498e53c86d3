"""The concurrency tests of the lab, run again on PostgreSQL (they run on SQLite in their own files).

Threads racing to register one model, a faulty server answered by 16 concurrent calls with nothing
paid twice, a Batch resumed without a second submission: the same functions, a PostgreSQL store.
"""

import pytest

import tests.test_jobs as jobs_tests
import tests.test_openai_backend as backend_tests


@pytest.fixture
def pg_store(pg_url, workspace, monkeypatch):
    from core.store import Store

    monkeypatch.setenv("FTLAB_DATABASE_URL", pg_url)
    s = Store(pg_url, workspace=workspace)
    yield s
    s.close()


def test_the_model_is_registered_once_even_when_two_pollers_race(pg_store):
    jobs_tests.test_the_model_is_registered_once_even_when_two_pollers_race(pg_store)


def test_metrics_merge_by_step_and_provider_events_are_stored_once(pg_store):
    jobs_tests.test_metrics_merge_by_step_and_provider_events_are_stored_once(pg_store)


def test_faulty_server_every_example_answered_once_and_never_paid_twice(fake_openai, pg_store):
    backend_tests.test_faulty_server_every_example_answered_once_and_never_paid_twice(fake_openai, pg_store)


def test_stopping_early_keeps_every_paid_answer(fake_openai, pg_store):
    backend_tests.test_stopping_early_keeps_every_paid_answer(fake_openai, pg_store)


def test_batch_api_half_price_and_a_resumed_batch_is_not_submitted_twice(fake_openai, pg_store):
    backend_tests.test_batch_api_half_price_and_a_resumed_batch_is_not_submitted_twice(fake_openai, pg_store)
