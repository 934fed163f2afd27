"""Pure outbound rules, no I/O: retry schedule and jitter, Retry-After,
outcomes, claiming within limits, retry settings."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from services.notification.outbound import policy as domain
from services.notification.settings import NotificationSettings

NOW = datetime(2027, 5, 15, 8, 0, tzinfo=UTC)
DEFAULT = NotificationSettings(database_url=SecretStr("postgresql://x/y")).retry_schedule


def test_the_default_schedule_spans_about_a_day_in_growing_steps() -> None:
    policy = domain.RetryPolicy(schedule=DEFAULT)
    assert policy.max_tries == 8
    assert list(DEFAULT) == sorted(DEFAULT) and DEFAULT[0] <= 10 and DEFAULT[-1] >= 3600
    assert 20 * 3600 <= sum(DEFAULT) <= 36 * 3600


@given(
    tries=st.integers(min_value=1, max_value=7),
    r=st.floats(min_value=0, max_value=1, exclude_max=True),
    retry_after=st.none() | st.floats(min_value=0, max_value=10**6),
)
def test_delays_stay_within_the_jitter_and_respect_retry_after(
    tries: int, r: float, retry_after: float | None
) -> None:
    policy = domain.RetryPolicy(schedule=DEFAULT, jitter=0.2, retry_after_cap=36_000)
    delay = policy.delay(tries, retry_after, lambda: r)
    assert delay is not None
    base = DEFAULT[tries - 1]
    if retry_after is None:
        assert base * 0.8 <= delay <= base * 1.2
    else:
        assert delay >= min(retry_after, 36_000)
        assert delay <= max(base * 1.2, 36_000)


def test_jitter_spreads_retries() -> None:
    policy = domain.RetryPolicy(schedule=(300,), jitter=0.2)
    assert policy.delay(1, None, lambda: 0.0) == 240
    assert policy.delay(1, None, lambda: 0.5) == 300
    assert policy.delay(1, None, lambda: 0.999) == pytest.approx(360, abs=0.2)


def test_decisions_follow_the_schedule_to_the_end() -> None:
    policy = domain.RetryPolicy(schedule=(5, 300), jitter=0.0)
    fail = domain.Attempt("failed", 500)
    first = domain.decide(fail, 1, policy, NOW, lambda: 0.5)
    assert (first.status, first.next_attempt_at) == ("pending", NOW + timedelta(seconds=5))
    assert first.event == "notification.failed"
    second = domain.decide(fail, 2, policy, NOW, lambda: 0.5)
    assert second.next_attempt_at == NOW + timedelta(seconds=300)
    last = domain.decide(fail, 3, policy, NOW, lambda: 0.5)
    assert (last.status, last.event) == ("dead", "notification.dead")
    gone = domain.decide(domain.Attempt("gone", 410), 1, policy, NOW, lambda: 0.5)
    assert gone.status == "dead"
    ok = domain.decide(domain.Attempt("delivered", 204), 3, policy, NOW, lambda: 0.5)
    assert (ok.status, ok.event) == ("delivered", "notification.delivered")


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (301, "failed"),
        (307, "failed"),
        (400, "failed"),
        (401, "failed"),
        (408, "failed"),
        (410, "gone"),
        (429, "failed"),
        (500, "failed"),
        (503, "failed"),
    ],
)
def test_outcome_of_status(status: int, outcome: str) -> None:
    assert domain.outcome_of_status(status) == outcome


def test_retry_after_as_seconds_or_http_date() -> None:
    assert domain.parse_retry_after("120", NOW) == 120
    assert domain.parse_retry_after(" 7 ", NOW) == 7
    assert domain.parse_retry_after("Sat, 15 May 2027 08:02:00 GMT", NOW) == 120
    assert domain.parse_retry_after("Sat, 15 May 2027 07:00:00 GMT", NOW) == 0  # past
    assert domain.parse_retry_after("soon", NOW) is None
    assert domain.parse_retry_after("-5", NOW) is None
    assert domain.parse_retry_after(None, NOW) is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("²", None),  # "²".isdigit() is True, float("²") raises
        ("١٢", None),  # Arabic-Indic digits: isdigit, and float() reads them
        ("1e9", None),
        ("nan", None),
        ("inf", None),
        ("12.5", None),
        ("", None),
        ("9" * 5000, 10 * 365 * 86_400.0),  # bounded, not inf and not an error
        ("Sat, 15 May 0001 08:02:00 GMT", 0.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 10 * 365 * 86_400.0),
        ("Sat, 15 May 2027 08:02:00", None),  # no zone
        ("Mon, 99 Foo 2027 99:99:99 GMT", None),
        ("\x00\udcff", None),
    ],
)
def test_any_retry_after_a_receiver_sends_is_read_or_ignored_never_raised(
    value: str, seconds: float | None
) -> None:
    assert domain.parse_retry_after(value, NOW) == seconds


@given(st.text(max_size=40))
def test_retry_after_never_raises_and_stays_finite(value: str) -> None:
    seconds = domain.parse_retry_after(value, NOW)
    assert seconds is None or 0 <= seconds <= 10 * 365 * 86_400
    policy = domain.RetryPolicy(schedule=DEFAULT, retry_after_cap=36_000)
    delay = policy.delay(1, seconds, lambda: 0.5)
    assert delay is not None and 0 <= delay <= 36_000


def test_claims_respect_capacity_and_the_per_endpoint_bound() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    due = [(uuid.uuid4(), s) for s in (a, a, a, b, a, b, b)]
    chosen = domain.pick_within_limits(due, {a: 1}, per_endpoint=2, capacity=10)
    assert chosen == [due[0][0], due[3][0], due[5][0]]  # a has one in flight already
    assert domain.pick_within_limits(due, {}, per_endpoint=2, capacity=3) == [
        due[0][0],
        due[1][0],
        due[3][0],
    ]
    assert domain.pick_within_limits(due, {a: 2, b: 5}, per_endpoint=2, capacity=10) == []


def test_schedule_settings_read_durations() -> None:
    s = NotificationSettings(
        database_url=SecretStr("postgresql://x/y"), retry_schedule="5s, 5m,2h,1d,30"
    )
    assert s.retry_schedule == (5, 300, 7200, 86400, 30)
    with pytest.raises(ValidationError, match="retry_schedule"):
        NotificationSettings(database_url=SecretStr("postgresql://x/y"), retry_schedule="soon")
    with pytest.raises(ValidationError, match="delivery_lease_seconds"):
        NotificationSettings(
            database_url=SecretStr("postgresql://x/y"),
            request_timeout_seconds=30,
            delivery_lease_seconds=10,
        )
