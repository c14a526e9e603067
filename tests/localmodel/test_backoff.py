"""The kubelet's crash backoff (runtime/backoff.py), on an injected clock."""

from localmodel.runtime.backoff import CrashBackoff


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def crash_and_restart(b, clock, ran=0.0):
    """The container runs ``ran`` seconds and exits; returns how long its restart waited."""
    clock.now += ran
    finished = clock.now
    waited = 0.0
    while b.in_backoff_since(finished):
        clock.now += 0.5
        waited += 0.5
    b.next(finished)
    return waited


def test_first_restart_is_immediate_then_10s_doubling_to_300s():
    clock = Clock()
    b = CrashBackoff(clock=clock)
    waits = [crash_and_restart(b, clock) for _ in range(8)]
    assert waits == [0, 10, 20, 40, 80, 160, 300, 300]


def test_the_wait_counts_from_when_the_container_finished():
    clock = Clock()
    b = CrashBackoff(clock=clock)
    crash_and_restart(b, clock)
    # Ran 4 s after its first restart: the 10 s backoff runs from its exit, not its start.
    clock.now += 4
    finished = clock.now
    assert b.in_backoff_since(finished)
    assert b.restart_at(finished) == finished + 10
    clock.now = finished + 9.9
    assert b.in_backoff_since(finished)
    clock.now = finished + 10.1
    assert not b.in_backoff_since(finished)


def test_ten_minutes_without_a_crash_starts_over():
    clock = Clock()
    b = CrashBackoff(clock=clock)
    for _ in range(5):
        crash_and_restart(b, clock)
    assert b.backoff == 160
    # Entries expire 2 x 300 s after the last restart decision: the next crash restarts at once.
    assert crash_and_restart(b, clock, ran=601) == 0
    assert b.backoff == 10
    assert crash_and_restart(b, clock, ran=599) == 10
    assert b.backoff == 20
