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


def test_a_busy_child_is_not_stalled_until_its_grace_ends() -> None:
    monitor = HeartbeatMonitor(timeout=5.0, startup_grace=30.0)
    monitor.spawned(0.0)
    monitor.beat(10.0)  # "ready": it now applies the whole config in one go
    monitor.busy(10.0, 40.0)
    monitor.beat(11.0)  # a beat before the block does not shorten the grace
    assert not monitor.stalled(49.9)
    assert monitor.stalled(50.1)
    monitor.beat(60.0)  # after the grace: the normal timeout again
    assert monitor.stalled(65.1)
    monitor.spawned(70.0)  # a respawned child starts with no grace carried over
    monitor.beat(71.0)
    assert monitor.stalled(76.1)
