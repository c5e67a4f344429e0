"""The system sampler: background sampling, bounded history, kernels, limits, health, storage."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
import types
from datetime import datetime, timedelta, timezone

import pytest

from learnpulse.collectors.health import Threshold, Thresholds, window_health
from learnpulse.collectors.system import NVIDIA_MARKERS, SamplerConfig, SystemSampler, gpu_memory
from learnpulse.store import EventStore
from tests.kernel_lib.collectors.test_cgroups import _write


def _collect(sampler: SystemSampler, n: int, timeout: float = 10.0) -> list[dict]:
    seen: list[dict] = []
    done = threading.Event()

    def listener(sample: dict) -> None:
        seen.append(sample)
        if len(seen) >= n:
            done.set()

    unsubscribe = sampler.subscribe(listener)
    assert done.wait(timeout), f"only {len(seen)} samples in {timeout} s"
    unsubscribe()
    return seen


def test_samples_on_a_background_thread_with_bounded_history():
    sampler = SystemSampler(SamplerConfig(interval_s=0.05, history=3)).start()
    try:
        threads = []
        sampler.subscribe(lambda _: threads.append(threading.current_thread().name))
        samples = _collect(sampler, 5)
    finally:
        sampler.stop()
    history = sampler.history()
    assert len(history) == 3
    assert [s["ts"] for s in history] == sorted(s["ts"] for s in history)
    assert history[-1]["ts"] >= samples[-1]["ts"]
    assert set(threads) == {"learnpulse-sampler"}
    sample = history[-1]
    assert 0 <= sample["cpu"]["percent"] <= 100
    assert sample["memory"]["total"] > sample["memory"]["available"] > 0
    assert 0 < sample["disk"]["percent"] < 100
    assert 0 <= sample["health"]["score"] <= 100
    assert sampler.history(limit=2) == history[-2:]


@pytest.fixture
def processes():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield busy, idle
    for process in (busy, idle):
        process.kill()
        process.wait()


def test_per_kernel_cpu_and_memory_by_kernel_id(processes):
    busy, idle = processes
    pids = {"k-busy": busy.pid, "k-idle": idle.pid}
    sampler = SystemSampler(SamplerConfig(interval_s=0.3), kernel_pids=lambda: dict(pids)).start()
    try:
        kernels = _collect(sampler, 3)[-1]["kernels"]
        assert set(kernels) == {"k-busy", "k-idle"}
        assert kernels["k-busy"]["cpu_percent"] > 5, kernels  # 2 shared cores: a fair share
        assert kernels["k-busy"]["cpu_percent"] > kernels["k-idle"]["cpu_percent"]
        assert kernels["k-idle"]["memory_rss"] > 1_000_000
        assert sampler.kernel("k-busy", busy.pid)["pid"] == busy.pid
        busy.kill()
        busy.wait()
        assert "k-busy" not in _collect(sampler, 2)[-1]["kernels"]  # the 1st may predate kill
        assert sampler.kernel("k-busy", busy.pid) is None
        assert sampler.kernel("k-new", idle.pid)["memory_rss"] > 0  # measured on demand
    finally:
        sampler.stop()


def test_container_limits_drive_memory_and_cpu_percent(tmp_path):
    root, proc = tmp_path / "cgroup", tmp_path / "proc"
    files = {
        "cgroup.controllers": "cpu memory",
        "memory.max": str(1000 * 1024**2),
        "memory.current": str(900 * 1024**2),
        "cpu.max": "100000 100000",
        "cpu.stat": "usage_usec 1000000",
    }
    _write(root, files)
    proc.write_text("0::/\n")
    sampler = SystemSampler(cgroup_root=root, proc_cgroup=proc)
    first = sampler.sample_now()
    _write(root, {**files, "cpu.stat": "usage_usec 90000000"})  # far more than 1 core
    second = sampler.sample_now()
    assert first["memory"]["percent"] == 90.0
    assert first["memory"]["limit_bytes"] == 1000 * 1024**2
    assert second["cpu"]["percent"] == 100.0 and second["cpu"]["limit_cores"] == 1.0
    levels = {a["metric"]: a["level"] for a in second["health"]["alerts"]}
    assert levels == {"memory_percent": "critical", "cpu_percent": "critical"}
    _write(root, {**files, "cpu.stat": "usage_usec 5"})  # a new group: the counter restarts
    third = sampler.sample_now()
    assert third["cpu"]["percent"] == third["cpu"]["host_percent"] >= 0  # was about -9000 %


def test_health_score_and_thresholds():
    limits = Thresholds()
    calm = window_health(
        [{"cpu_percent": 10, "memory_percent": 20, "gpu_memory_percent": None, "response_ms": 5}],
        limits,
    )
    busy = window_health([{"cpu_percent": 80, "memory_percent": 20, "response_ms": 5}], limits)
    slow = window_health([{"cpu_percent": 10, "memory_percent": 20, "response_ms": 6000}], limits)
    assert calm == {"score": 100.0, "status": "ok", "window_s": 60.0, "samples": 1, "alerts": []}
    assert busy["status"] == "warning" and busy["score"] == 75.0
    assert slow["status"] == "critical" and 0 < slow["score"] < 50
    assert slow["alerts"][0]["metric"] == "response_ms" and "5000 ms" in slow["alerts"][0]["reason"]
    gpu = window_health([{"gpu_memory_percent": 70}], limits)
    assert gpu["status"] == "warning"
    with pytest.raises(ValueError, match="warning < critical"):
        Threshold(90, 70)


def test_samples_are_persisted_and_old_ones_pruned(tmp_path):
    url = f"sqlite:///{tmp_path / 'samples.db'}"
    with EventStore(url) as store:
        old = datetime.now(timezone.utc) - timedelta(days=30)
        store.append_system_samples([{"host": "h", "ts": old, "cpu_percent": 1.0}])
        config = SamplerConfig(interval_s=0.05, persist_every_s=0.0, retention_days=7)
        sampler = SystemSampler(config, store=store).start()
        try:
            _collect(sampler, 3)
        finally:
            sampler.stop()
        stored = store.system_samples()
    assert stored.height >= 3
    assert stored["ts"].min() > old
    assert stored["host"].unique().to_list() == [sampler.host]
    assert stored["cpu_percent"].null_count() == 0


def test_response_time_measures_a_blocked_event_loop():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    sampler = SystemSampler(loop=loop)
    release = threading.Event()
    try:
        sampler.sample_now()  # sends the first probe
        time.sleep(0.1)
        assert sampler.sample_now()["response_ms"] < 100  # answered at once
        blocked = threading.Event()

        def blocking_handler():
            blocked.set()
            release.wait(5)

        loop.call_soon_threadsafe(blocking_handler)
        assert blocked.wait(5)
        sampler.sample_now()  # probe queued behind the blocking call
        time.sleep(0.4)
        waited = sampler.sample_now()["response_ms"]  # the probe is still unanswered
        release.set()
        assert waited >= 400
    finally:
        release.set()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def test_gpu_is_reported_absent_with_a_reason():
    if any(marker.exists() for marker in NVIDIA_MARKERS):
        pytest.skip("this machine has an NVIDIA driver")
    gpu = gpu_memory()
    assert gpu["available"] is False and gpu["reason"]
    assert SystemSampler().sample_now()["gpu"] == gpu


def test_an_unreadable_disk_path_gives_nulls_and_a_reason_not_a_failed_sample(tmp_path):
    """psutil.disk_usage raising (the notebook folder removed, a network mount gone) failed
    the whole sample: no metrics at all, and GET metrics answered 500."""
    sampler = SystemSampler(SamplerConfig(disk_path=str(tmp_path / "gone"), persist_every_s=1))
    sampler.store = EventStore(f"sqlite:///{tmp_path / 'm.db'}")
    sample = sampler.sample_now()
    assert sample["disk"]["percent"] is None and "not readable" in sample["disk"]["reason"]
    assert sample["memory"]["total"] > 0 and 0 <= sample["health"]["score"] <= 100
    sampler.stop()
    assert sampler.store.system_samples()["disk_percent"].to_list() == [None]
    sampler.store.close()


def test_a_gpu_read_error_is_reported_and_tried_again(monkeypatch):
    calls = []

    def mem_get_info(index):
        calls.append(index)
        if len(calls) == 1:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return (3 * 1024**3, 4 * 1024**3)

    cuda = types.SimpleNamespace(
        is_available=lambda: True,
        device_count=lambda: 1,
        mem_get_info=mem_get_info,
        get_device_name=lambda index: "Fake GPU",
    )
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    sampler = SystemSampler()
    first = sampler.sample_now()["gpu"]
    assert first["available"] is False and "illegal memory access" in first["reason"]
    second = sampler.sample_now()["gpu"]
    assert second["available"] is True and second["percent"] == 25.0


def test_a_stopped_sampler_starts_again():
    """start() after stop() returned at once and sampled nothing: the old thread object was
    taken for a running one and the stop flag stayed set."""
    sampler = SystemSampler(SamplerConfig(interval_s=0.05, history=100)).start()
    sampler.stop()
    assert not sampler.running
    taken = len(sampler.history())
    sampler.start()
    try:
        deadline = time.monotonic() + 10
        while len(sampler.history()) <= taken and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sampler.running
        assert len(sampler.history()) > taken
    finally:
        sampler.stop()
    assert not sampler.running


def test_a_lasting_gpu_error_is_logged_once_while_it_lasts(monkeypatch, caplog):
    def broken(index):
        raise RuntimeError("CUDA error: device lost")

    cuda = types.SimpleNamespace(
        is_available=lambda: True, device_count=lambda: 1, mem_get_info=broken,
        get_device_name=lambda index: "Fake GPU",
    )  # fmt: skip
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    sampler = SystemSampler()
    with caplog.at_level("WARNING", logger="learnpulse"):
        for _ in range(5):  # a warning per sample, every interval, before
            assert "device lost" in sampler.sample_now()["gpu"]["reason"]
    assert caplog.text.count("device lost") == 1
