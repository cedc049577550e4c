"""Respawn rate limiting and heartbeat stall detection, driven by a fake clock."""

from fastalived.daemon.liveness import HeartbeatMonitor, RespawnPolicy


def test_first_deaths_respawn_at_once_then_back_off_exponentially() -> None:
    policy = RespawnPolicy(burst=3, window=60.0, base_delay=1.0, max_delay=8.0)
    delays = [policy.record_death(float(now)) for now in range(7)]
    assert delays == [0.0, 0.0, 0.0, 1.0, 2.0, 4.0, 8.0]
    assert policy.record_death(7.0) == 8.0  # capped


def test_deaths_older_than_the_window_are_forgiven() -> None:
    policy = RespawnPolicy(burst=2, window=10.0)
    assert [policy.record_death(t) for t in (0.0, 1.0, 2.0)] == [0.0, 0.0, 1.0]
    assert policy.record_death(30.0) == 0.0  # the earlier three fell out of the window


def test_heartbeat_gets_a_startup_grace_then_the_normal_timeout() -> None:
    monitor = HeartbeatMonitor(timeout=5.0, startup_grace=30.0)
    assert not monitor.stalled(1e9)  # never spawned: nothing to watch
    monitor.spawned(100.0)
    assert not monitor.stalled(129.0)
    assert monitor.stalled(130.5)
    monitor.beat(131.0)
    assert not monitor.stalled(136.0)
    assert monitor.stalled(136.1)
    assert abs(monitor.overdue_by(137.0) - 1.0) < 1e-9
