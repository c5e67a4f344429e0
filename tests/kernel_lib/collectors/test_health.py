"""Health describes a window of recent samples: a sustained overload is not hidden by one quiet
sample, and one spike does not read as critical (it was computed from the newest sample only)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from learnpulse.collectors.health import HealthWindow, Thresholds, window_health
from learnpulse.collectors.system import SamplerConfig, SystemSampler
from tests.kernel_lib.collectors.test_cgroups import _write

MIB = 1024**2
START = datetime(2026, 1, 5, 10, tzinfo=timezone.utc)


class FakeMachine:
    """A container of one core and 1000 MiB, as cgroup v2 files the sampler really reads:
    each :meth:`sample` sets its CPU (fully busy or idle) and memory use first. The first
    sample's CPU is the host's (the sampler has no earlier reading of the group to compare)."""

    def __init__(self, folder: Path, window_s: float = 60.0) -> None:
        self.root, proc = folder / "cgroup", folder / "proc-cgroup"
        folder.mkdir(parents=True, exist_ok=True)
        proc.write_text("0::/\n")
        self._cpu_usage_s = 0
        self.load(busy=False, memory_percent=10)
        config = SamplerConfig(health_window_s=window_s)
        self.sampler = SystemSampler(config, cgroup_root=self.root, proc_cgroup=proc)

    def load(self, *, busy: bool, memory_percent: float) -> None:
        # a busy core uses far more CPU time than passes between two samples: 100 % (capped)
        self._cpu_usage_s += 1000 if busy else 0
        _write(
            self.root,
            {
                "cgroup.controllers": "cpu memory",
                "memory.max": str(1000 * MIB),
                "memory.current": str(int(memory_percent * 10 * MIB)),
                "cpu.max": "100000 100000",
                "cpu.stat": f"usage_usec {self._cpu_usage_s * 1_000_000}",
            },
        )

    def sample(self, *, busy: bool, memory_percent: float) -> dict:
        self.load(busy=busy, memory_percent=memory_percent)
        return self.sampler.sample_now()


def overloaded(machine: FakeMachine, n: int) -> list[dict]:
    return [machine.sample(busy=True, memory_percent=95) for _ in range(n)]


def quiet(machine: FakeMachine, n: int) -> list[dict]:
    return [machine.sample(busy=False, memory_percent=10) for _ in range(n)]


def test_a_sustained_overload_followed_by_one_quiet_sample_is_not_healthy(tmp_path):
    machine = FakeMachine(tmp_path)
    overloaded(machine, 20)
    last = quiet(machine, 1)[0]
    assert (last["cpu"]["percent"], last["memory"]["percent"]) == (0.0, 10.0)  # as measured
    health = last["health"]
    assert health["status"] == "critical" and health["score"] <= 50  # was 100/100
    assert (health["window_s"], health["samples"]) == (60.0, 21)
    alerts = {a["metric"]: a for a in health["alerts"]}
    assert alerts["cpu_percent"]["level"] == "critical"
    memory = alerts["memory_percent"]
    assert memory["level"] == "critical" and memory["threshold"] == 85.0
    assert (memory["window_value"], memory["value"]) == (95.0, 10.0)
    assert (memory["samples_at_level"], memory["samples"]) == (20, 21)
    assert memory["reason"] == (
        "Memory at or above 85% (the critical level) in 20 of the 21 samples of the "
        "last 60 s; now 10.0%"
    )


def test_a_single_spike_in_a_quiet_window_is_not_critical(tmp_path):
    machine = FakeMachine(tmp_path)
    quiet(machine, 20)
    spike = overloaded(machine, 1)[0]
    assert (spike["cpu"]["percent"], spike["memory"]["percent"]) == (100.0, 95.0)  # as measured
    assert spike["health"]["status"] == "ok"  # was critical
    assert spike["health"]["score"] == 100.0 and spike["health"]["alerts"] == []


def test_health_comes_back_once_the_overload_has_left_the_window(tmp_path):
    machine = FakeMachine(tmp_path, window_s=0.5)
    assert overloaded(machine, 3)[-1]["health"]["status"] == "critical"
    time.sleep(0.6)
    health = quiet(machine, 1)[0]["health"]
    assert (health["status"], health["score"], health["samples"]) == ("ok", 100.0, 1)


def cpu(value: float | None) -> dict:
    return {"cpu_percent": value, "memory_percent": 20.0, "response_ms": 5.0}


def test_a_level_holds_when_reached_in_at_least_half_the_window():
    limits = Thresholds()
    half = window_health([cpu(95)] * 30 + [cpu(10)] * 30, limits)
    assert half["status"] == "critical"
    assert half["alerts"][0]["reason"] == (
        "CPU at or above 90% (the critical level) in 30 of the 60 samples of the last 60 s; "
        "now 10.0%"
    )
    less = window_health([cpu(95)] * 29 + [cpu(10)] * 31, limits)
    assert (less["status"], less["score"]) == ("ok", 100.0)
    warm = window_health([cpu(95)] * 20 + [cpu(80)] * 20 + [cpu(10)] * 20, limits)
    assert warm["status"] == "warning" and warm["score"] == 75.0  # 80 % held by 40 of 60
    every = window_health([cpu(92)] * 60, limits, window_s=60)["alerts"][0]["reason"]
    assert every.startswith("CPU at or above 90% (the critical level) in all 60 samples")
    only = window_health([cpu(92)], limits, window_s=5)["alerts"][0]["reason"]
    assert only == (
        "CPU at or above 90% (the critical level) in the only sample of the last 5 s; now 92.0%"
    )
    no_cpu = window_health([cpu(None)] * 3, limits)  # not measured: left out, not a 0
    assert no_cpu["score"] == 100.0 and no_cpu["samples"] == 3


def test_samples_leave_the_window_by_their_time():
    window = HealthWindow(Thresholds(), window_s=60)
    for second in range(60):
        busy = window.add(START + timedelta(seconds=second), cpu(95))
    assert busy["status"] == "critical" and busy["samples"] == 60
    for second in range(60, 90):
        after = window.add(START + timedelta(seconds=second), cpu(10))
    assert after["samples"] == 60 and after["status"] == "critical"  # 30 busy of 60
    after = window.add(START + timedelta(seconds=90), cpu(10))
    assert (after["status"], after["score"]) == ("ok", 100.0)  # 29 busy of 60
    short = HealthWindow(Thresholds(), window_s=0.5)  # shorter than the interval
    short.add(START, cpu(95))
    assert short.add(START + timedelta(seconds=1), cpu(10))["samples"] == 1


@pytest.mark.parametrize("window_s", [0, -5, float("nan"), "60", None, True])
def test_a_bad_window_is_refused_naming_it(window_s):
    for make in (
        lambda: HealthWindow(Thresholds(), window_s),
        lambda: SamplerConfig(health_window_s=window_s),
        lambda: window_health([cpu(10)], Thresholds(), window_s),
    ):
        with pytest.raises(ValueError, match="window_s"):
            make()


def test_an_unknown_metric_is_refused_naming_it_and_not_kept():
    window = HealthWindow(Thresholds())
    with pytest.raises(ValueError, match="'disk_percent'"):
        window.add(START, {"disk_percent": 99.0})
    assert window.add(START, cpu(10))["status"] == "ok"  # the refused sample was not kept
