"""The uplink's small parts: retry policy, breaker, budget, routing, verdicts."""

from __future__ import annotations

import random

import numpy as np

from cloud_bridge.errors import UplinkConnectionError, UplinkHTTPError, UplinkTimeout
from cloud_bridge.oip import InferenceResponse, ResponseOutput
from cloud_bridge.uplink import (
    Budget,
    CircuitBreaker,
    CircuitState,
    HardCase,
    Outcome,
    RetryPolicy,
    classify,
    verdict_from_response,
)
from gateway.cloudlink.sink import EventRouter
from gateway.events import Event, Priority
from tests.support.payloads import hard_case_data


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_full_jitter_stays_under_the_growing_capped_ceiling() -> None:
    policy = RetryPolicy(0.5, 4.0, rng=random.Random(1))
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    delays = [policy.delay() for _ in ceilings]
    assert all(0.05 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert policy.delay(retry_after=7.0) >= 7.0
    assert policy.delay(retry_after=10_000) <= 300.0
    policy.reset()
    assert policy.delay() <= 0.5


def test_classify_separates_permanent_from_retryable() -> None:
    assert classify(UplinkHTTPError(400)).permanent
    assert classify(UplinkHTTPError(429, retry_after=3)).retry_after == 3
    assert classify(UplinkHTTPError(503)).reason == "http_5xx"
    assert not classify(UplinkHTTPError(401)).permanent
    assert classify(UplinkTimeout("t", timeout=1)).reason == "timeout"
    assert classify(UplinkConnectionError("x", tls=True)).reason == "tls"


def test_breaker_opens_probes_and_backs_off() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, open_s=10, max_open_s=30, clock=clock)
    breaker.record_failure()
    states = [breaker.state]
    breaker.record_failure()
    states.append(breaker.state)
    assert states == [CircuitState.CLOSED, CircuitState.OPEN]
    assert breaker.wait_s() == 10
    clock.now += 10
    states.append(breaker.state)
    breaker.record_failure()  # failed probe: open twice as long
    assert breaker.wait_s() == 20
    clock.now += 20
    breaker.record_success()
    states.append(breaker.state)
    assert states[2:] == [CircuitState.HALF_OPEN, CircuitState.CLOSED]
    assert breaker.opened == 2


def test_budget_calls_and_bytes_windows() -> None:
    clock = Clock()
    budget = Budget(calls_per_min=2, bytes_per_hour=1000, clock=clock)
    assert budget.delay_s(400) == 0
    budget.spend(400)
    clock.now += 1
    budget.spend(400)
    assert budget.delay_s(0) == 59  # third call in the minute waits for the first to age
    clock.now += 60
    assert budget.delay_s(300) == 3539  # 800 + 300 > 1000: until the first 400 ages (t=1000)
    assert budget.delay_s(200) == 0


def test_router_orders_hard_cases_by_uncertainty_and_never_sends_verdicts() -> None:
    router = EventRouter(("*",), ("sensor.summary",))

    def case(score: float) -> Event:
        return Event(
            gateway="g", source="c", kind="vision.hard_case", priority=Priority.HIGH,
            data=hard_case_data("person", score, band=(0.5, 0.9)), media=b"jpeg",
        )  # fmt: skip

    near, far = router.to_item(case(0.71)), router.to_item(case(0.52))
    assert near is not None
    assert far is not None
    assert near.klass == far.klass == "hard_cases"
    assert near.priority > far.priority  # closer to the band's middle (0.7): first
    low = router.to_item(Event(gateway="g", source="s", kind="sensor.alert"))
    assert low is not None
    assert low.priority < far.priority
    for kind in ("cloud.verdict", "sensor.summary"):
        assert router.to_item(Event(gateway="g", source="s", kind=kind)) is None


def test_verdict_outcomes() -> None:
    hard = HardCase(id="h", source="c", label="person", score=0.6, band_middle=0.7, extra={})

    def answer(label: str, score: float) -> InferenceResponse:
        return InferenceResponse(
            model_name="m",
            outputs=[
                ResponseOutput.from_strings("label", [label]),
                ResponseOutput.from_numpy("score", np.asarray([score], dtype=np.float32)),
            ],
        )

    def outcome(label: str, score: float, reject_score: float = 0.0) -> Outcome:
        response = answer(label, score)
        return verdict_from_response(
            hard, response, min_score=0.5, round_trip_ms=1, reject_score=reject_score
        ).outcome

    assert outcome("person", 0.9) is Outcome.CONFIRMED
    assert outcome("person", 0.3) is Outcome.REJECTED
    assert outcome("background", 0.9) is Outcome.REJECTED
    assert outcome("dog", 0.8) is Outcome.RELABELLED
    # a no must be this sure to reject (cloud.verdict_reject_score); a weaker one is unsure
    assert outcome("background", 0.9, 0.7) is Outcome.REJECTED
    assert outcome("background", 0.62, 0.7) is Outcome.UNSURE
    assert outcome("person", 0.2, 0.7) is Outcome.REJECTED  # 1 - 0.2 >= 0.7
    assert outcome("person", 0.4, 0.7) is Outcome.UNSURE
    assert outcome("person", 0.9, 0.7) is Outcome.CONFIRMED
    assert outcome("dog", 0.6, 0.7) is Outcome.RELABELLED
