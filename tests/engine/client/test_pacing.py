"""Start pacing: the relay starts new leads' workflows at the rate the workers keep up with.

Every test drives the pacer with made-up times and queue readings: nothing here sleeps or
depends on how fast the machine is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from engine.client.pacing import QueueReading, StartPacer


def test_a_fresh_pacer_allows_two_seconds_of_its_rate_at_once_then_refills_at_that_rate(
        ) -> None:
    pacer = StartPacer(rate=20, now=0.0)
    assert pacer.allowance(0.0) == 40
    pacer.started(40)
    assert pacer.allowance(0.0) == 0
    assert pacer.allowance(0.5) == 10
    assert pacer.allowance(60.0) == 40  # an idle minute saves up no more than a bucketful


def test_it_says_how_long_until_a_number_of_starts_is_allowed() -> None:
    pacer = StartPacer(rate=10, now=0.0)
    pacer.started(20)
    assert pacer.wait_for(5, 0.0) == pytest.approx(0.5)
    assert pacer.wait_for(500, 0.0) == pytest.approx(2.0)  # at most a bucketful is waited for
    assert pacer.wait_for(5, 2.0) == 0.0


def test_first_tasks_waiting_longer_than_the_target_cut_the_rate() -> None:
    pacer = StartPacer(rate=30, target_wait=5, now=0.0)
    pacer.observe(QueueReading(backlog=400, oldest=12.0), now=2.0)
    assert pacer.rate == pytest.approx(20)


def test_the_next_cut_goes_below_what_the_workers_took_off_the_queue() -> None:
    pacer = StartPacer(rate=30, target_wait=5, now=0.0)
    pacer.observe(QueueReading(backlog=400, oldest=12.0), now=2.0)
    pacer.started(80)  # in 4 s, while the backlog grew by 20: the workers took 15 a second
    pacer.observe(QueueReading(backlog=420, oldest=12.5), now=6.0)
    assert pacer.rate == pytest.approx(15 * 0.9 * 10 / 12.5)


def test_the_server_answering_from_its_cache_cuts_the_rate_only_once() -> None:
    pacer = StartPacer(rate=30, target_wait=5, now=0.0)
    for now in (2.0, 3.0, 4.0):
        pacer.observe(QueueReading(backlog=400, oldest=12.0), now=now)
    assert pacer.rate == pytest.approx(20)


def test_a_backlog_that_drains_keeps_the_rate_although_its_oldest_task_is_old() -> None:
    pacer = StartPacer(rate=30, target_wait=5, now=0.0)
    pacer.observe(QueueReading(backlog=400, oldest=12.0), now=2.0)
    pacer.observe(QueueReading(backlog=300, oldest=11.0), now=4.0)
    assert pacer.rate == pytest.approx(20)


def test_room_on_the_queue_grows_a_rate_that_was_used() -> None:
    pacer = StartPacer(rate=20, target_wait=5, now=0.0)
    pacer.started(40)  # two seconds' worth
    pacer.observe(QueueReading(backlog=3, oldest=0.4), now=2.0)
    assert pacer.rate == pytest.approx(25)


def test_room_does_not_grow_a_rate_nobody_needed() -> None:
    pacer = StartPacer(rate=20, target_wait=5, now=0.0)
    pacer.started(5)
    pacer.observe(QueueReading(backlog=0, oldest=0.0), now=2.0)
    assert pacer.rate == 20


def test_an_empty_queue_read_again_still_grows_a_used_rate() -> None:
    pacer = StartPacer(rate=20, target_wait=5, now=0.0)
    pacer.started(40)
    pacer.observe(QueueReading(backlog=0, oldest=0.0), now=2.0)
    pacer.started(50)
    pacer.observe(QueueReading(backlog=0, oldest=0.0), now=4.0)
    assert pacer.rate == pytest.approx(20 * 1.25 * 1.25)


def test_a_backlog_read_again_from_the_cache_does_not_grow_the_rate() -> None:
    pacer = StartPacer(rate=20, target_wait=5, now=0.0)
    pacer.started(40)
    pacer.observe(QueueReading(backlog=30, oldest=1.0), now=2.0)
    pacer.started(50)
    pacer.observe(QueueReading(backlog=30, oldest=1.0), now=4.0)
    assert pacer.rate == pytest.approx(25)


def test_a_wait_between_half_the_target_and_the_target_holds_the_rate() -> None:
    pacer = StartPacer(rate=20, target_wait=5, now=0.0)
    pacer.started(40)
    pacer.observe(QueueReading(backlog=80, oldest=4.0), now=2.0)
    assert pacer.rate == 20


def test_without_a_reading_the_rate_holds() -> None:
    pacer = StartPacer(rate=20, now=0.0)
    pacer.started(40)
    pacer.observe(None, now=2.0)
    assert pacer.rate == 20


def test_the_rate_stays_between_its_bounds() -> None:
    pacer = StartPacer(rate=10, min_rate=1, max_rate=12, now=0.0)
    for second in range(1, 40):
        pacer.observe(QueueReading(backlog=1000 + second, oldest=100.0), now=float(second))
    assert pacer.rate == 1
    assert pacer.allowance(40.0) == 2  # two seconds of the lowest rate
    for second in range(40, 200):
        pacer.started(pacer.allowance(float(second)))
        pacer.observe(QueueReading(backlog=0, oldest=0.0), now=float(second))
    assert pacer.rate == 12


def test_bounds_that_make_no_sense_are_refused() -> None:
    with pytest.raises(ValueError):
        StartPacer(min_rate=5, max_rate=1)


@dataclass
class Outcome:
    """What a simulated enrolment came to."""

    longest: float        # the longest a first task waited, s
    late_rate: float      # leads enrolled per second over the second half
    pacer: StartPacer


def simulate(capacity: Callable[[float], float], *, seconds: int,
             leads: int = 10_000_000) -> Outcome:
    """Leads waiting to be started, a pacer the relay asks every quarter second, and workers
    that take `capacity(now)` first tasks a second off the queue. The relay reads the queue
    every 2 s; the server answers from a cache it renews every 5 s, as Temporal does."""
    step, pacer = 0.25, StartPacer(target_wait=5, now=0.0)
    queue: deque[float] = deque()  # when each waiting first task was scheduled
    cached, cached_at = QueueReading(0, 0.0), -10.0
    longest, done, done_half, credit = 0.0, 0, 0, 0.0
    for tick in range(1, int(seconds / step) + 1):
        now = tick * step
        new = min(pacer.allowance(now), leads)
        pacer.started(new)
        leads -= new
        queue.extend([now] * new)
        credit += capacity(now) * step
        while queue and credit >= 1:
            longest = max(longest, now - queue.popleft())
            credit, done = credit - 1, done + 1
        credit = min(credit, capacity(now) * step)  # an idle worker saves nothing up
        if tick % 8 == 0:
            if now - cached_at >= 5:
                cached = QueueReading(len(queue), now - queue[0] if queue else 0.0)
                cached_at = now
            pacer.observe(cached, now)
        if now <= seconds / 2:
            done_half = done
    return Outcome(longest, (done - done_half) / (seconds / 2), pacer)


@pytest.mark.parametrize("capacity", [3.0, 15.0, 40.0, 150.0])
def test_paced_starts_keep_first_tasks_under_a_minute_and_the_workers_busy(
        capacity: float) -> None:
    outcome = simulate(lambda now: capacity, seconds=1200)
    assert outcome.longest < 60
    assert outcome.late_rate >= 0.95 * capacity


def test_workers_that_slow_down_midway_are_followed_down() -> None:
    outcome = simulate(lambda now: 40.0 if now < 300 else 8.0, seconds=600)
    assert outcome.longest < 60
    assert outcome.late_rate >= 0.95 * 8
    assert outcome.pacer.rate < 16


def test_workers_that_speed_up_midway_are_followed_up() -> None:
    outcome = simulate(lambda now: 8.0 if now < 300 else 40.0, seconds=600)
    assert outcome.longest < 60
    assert outcome.late_rate >= 0.9 * 40
