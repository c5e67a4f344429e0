"""System metrics: CPU, memory, disk, per-kernel use, container limits, GPU memory, health.

A :class:`SystemSampler` samples on its own thread at a fixed interval (never on a server's
event loop), keeps a bounded history, optionally persists samples to the store, and calls
listeners with each new sample. Each sample's health describes the recent samples, not that
one alone (see :mod:`learnpulse.collectors.health`). Kernel processes are given by a callable
returning ``{kernel_id: pid}`` so this module needs nothing from the server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psutil

from learnpulse.collectors.cgroups import ContainerLimits, read_container_limits
from learnpulse.collectors.health import (
    HEALTH_WINDOW_S,
    HealthWindow,
    Thresholds,
    check_window_s,
)

log = logging.getLogger(__name__)

#: Files whose presence means an NVIDIA driver is loaded (only then is torch imported).
NVIDIA_MARKERS = (Path("/proc/driver/nvidia/version"), Path("/dev/nvidiactl"))
#: How long a one-off per-kernel CPU measurement looks (seconds), for kernels not yet sampled.
KERNEL_PROBE_S = 0.1

KernelPids = Callable[[], dict[str, int]]
Listener = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class SamplerConfig:
    """Settings of a :class:`SystemSampler`.

    Attributes
    ----------
    interval_s : float
        Seconds between samples.
    history : int
        Samples kept in memory (the oldest are dropped).
    disk_path : str
        The file system whose usage is reported (the notebook directory, typically).
    thresholds : Thresholds
        Warning/critical levels for the health score.
    health_window_s : float
        Seconds of recent samples each sample's ``health`` describes: a level holds when a
        metric was at or above it in at least half of them (see
        :mod:`learnpulse.collectors.health` for why).
    persist_every_s : float or None
        Write the samples gathered to the store this often; None = never persist.
    retention_days : float
        Persisted samples older than this are deleted when new ones are written.
    """

    interval_s: float = 1.0
    history: int = 3600
    disk_path: str = "/"
    thresholds: Thresholds = field(default_factory=Thresholds)
    health_window_s: float = HEALTH_WINDOW_S
    persist_every_s: float | None = None
    retention_days: float = 7.0

    def __post_init__(self) -> None:
        if self.interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, not {self.interval_s}")
        if self.history < 1:
            raise ValueError(f"history must be >= 1, not {self.history}")
        check_window_s(self.health_window_s)


def gpu_memory() -> dict[str, Any]:
    """GPU memory per device via torch; ``{"available": False, "reason": ...}`` without one.

    torch is imported only if it already is, or an NVIDIA driver is present: importing it on
    a CPU-only server would cost hundreds of MB for nothing.
    """
    if "torch" not in sys.modules and not any(p.exists() for p in NVIDIA_MARKERS):
        return {"available": False, "reason": "no NVIDIA driver found"}
    try:
        import torch
    except ImportError:
        return {"available": False, "reason": "torch is not installed"}
    if not torch.cuda.is_available():
        return {"available": False, "reason": "torch sees no CUDA device"}
    devices = []
    for index in range(torch.cuda.device_count()):
        free, total = torch.cuda.mem_get_info(index)
        used = total - free
        devices.append(
            {
                "index": index,
                "name": torch.cuda.get_device_name(index),
                "memory_used": used,
                "memory_total": total,
                "percent": round(100 * used / total, 2) if total else None,
            }
        )
    percents = [d["percent"] for d in devices if d["percent"] is not None]
    return {"available": True, "devices": devices, "percent": max(percents, default=None)}


class _ProcessTracker:
    """psutil processes by pid, kept between samples so CPU % covers the interval."""

    def __init__(self) -> None:
        self._processes: dict[int, psutil.Process] = {}

    def usage(self, pid: int) -> dict[str, Any] | None:
        process = self._processes.get(pid)
        try:
            if process is None:
                process = self._processes[pid] = psutil.Process(pid)
                process.cpu_percent(None)  # the first call only sets the reference point
            with process.oneshot():
                cpu = process.cpu_percent(None)
                rss = process.memory_info().rss
            rss += sum(_rss(child) for child in process.children(recursive=True))
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            self._processes.pop(pid, None)
            return None
        return {"pid": pid, "cpu_percent": cpu, "memory_rss": rss}

    def forget_except(self, pids: set[int]) -> None:
        for pid in set(self._processes) - pids:
            del self._processes[pid]


def _rss(process: psutil.Process) -> int:
    try:
        return process.memory_info().rss
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return 0


class SystemSampler:
    """Samples system metrics on a background thread.

    Parameters
    ----------
    config : SamplerConfig
        Interval, history length, disk path, thresholds, persistence.
    kernel_pids : callable, optional
        Returns ``{kernel_id: pid}`` of the kernels to report (called on the sampler thread).
    store : EventStore, optional
        Where samples are persisted when ``config.persist_every_s`` is set.
    loop : asyncio loop, optional
        A server's event loop: each sample measures how long a callback waits on it
        (``response_ms``), the delay any request would see before being served.
    cgroup_root, proc_cgroup : Path, optional
        Override the cgroup files (tests).
    """

    def __init__(
        self,
        config: SamplerConfig = SamplerConfig(),
        *,
        kernel_pids: KernelPids | None = None,
        store: Any = None,
        loop: asyncio.AbstractEventLoop | None = None,
        cgroup_root: Path | None = None,
        proc_cgroup: Path | None = None,
    ):
        self.config, self.kernel_pids, self.store, self.loop = config, kernel_pids, store, loop
        self._cgroup_paths = {
            k: v for k, v in (("root", cgroup_root), ("proc_cgroup", proc_cgroup)) if v
        }
        self.host = socket.gethostname()
        self._history: deque[dict[str, Any]] = deque(maxlen=config.history)
        # its own samples: the history may be shorter than the window
        self._health = HealthWindow(config.thresholds, config.health_window_s)
        self._unsaved: list[dict[str, Any]] = []
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._kernels = _ProcessTracker()
        self._server = psutil.Process(os.getpid())
        self._server.cpu_percent(None)
        psutil.cpu_percent(None)
        self._last_cgroup: tuple[float, ContainerLimits] | None = None
        self._probe_sent: float | None = None
        self._response_ms: float | None = None
        self._gpu_checked: dict[str, Any] | None = None
        self._gpu_error: str | None = None  # the last GPU read error logged
        self._last_persist = time.monotonic()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> SystemSampler:
        """Sample on a new thread unless one is running (again after :meth:`stop`)."""
        if not self.running:
            # each thread has its own stop flag: one that outlived stop()'s timeout still stops
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), name="learnpulse-sampler", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._persist()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(sample)`` on the sampler thread after each sample; returns an
        unsubscribe function. A listener that raises is dropped."""
        with self._lock:
            self._listeners.append(listener)
        return lambda: self._unsubscribe(listener)

    def _unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.config.interval_s):
            try:
                self.sample_now()
                if self.config.persist_every_s is not None and (
                    time.monotonic() - self._last_persist >= self.config.persist_every_s
                ):
                    self._persist()
            except Exception:  # keep sampling; a bad sample must not end monitoring
                log.exception("learnpulse: system sample failed")

    # -- reading ---------------------------------------------------------------------------

    def peek(self) -> dict[str, Any] | None:
        """The newest sample, or None before the first (never measures: safe on a loop)."""
        with self._lock:
            return self._history[-1] if self._history else None

    def latest(self) -> dict[str, Any]:
        """The newest sample (taken now if none yet)."""
        return self.peek() or self.sample_now()

    def history(
        self, limit: int | None = None, *, since: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Samples in memory, oldest first: those taken at or after ``since``, the newest
        ``limit`` of them."""
        with self._lock:
            samples = list(self._history)
        if since is not None:
            samples = [s for s in samples if datetime.fromisoformat(s["ts"]) >= since]
        return samples if limit is None else samples[-limit:] if limit > 0 else []

    def kernel(self, kernel_id: str, pid: int | None) -> dict[str, Any] | None:
        """One kernel's CPU % and memory: from the newest sample, else measured now
        (over :data:`KERNEL_PROBE_S`). None when the process is gone or unknown."""
        known = self.latest().get("kernels", {}).get(kernel_id)
        if known is not None and known["pid"] == pid:
            return {"kernel_id": kernel_id, **known}
        if pid is None:
            return None
        probe = _ProcessTracker()
        if probe.usage(pid) is None:
            return None
        time.sleep(KERNEL_PROBE_S)
        usage = probe.usage(pid)
        return None if usage is None else {"kernel_id": kernel_id, **usage}

    # -- sampling --------------------------------------------------------------------------

    def sample_now(self) -> dict[str, Any]:
        """Take one sample, add it to the history, tell listeners; return it.

        Its ``health`` describes the samples of the last ``config.health_window_s`` seconds,
        this one included; its measured values are its own."""
        now = datetime.now(timezone.utc)
        limits = read_container_limits(**self._cgroup_paths)
        cpu = self._cpu(limits)
        memory = self._memory(limits)
        gpu = self._gpu()
        response = self._probe_response()
        sample = {
            "ts": now.isoformat(),
            "host": self.host,
            "cpu": cpu,
            "memory": memory,
            "disk": self._disk(),
            "gpu": gpu,
            "response_ms": response,
            "limits": limits.to_dict(),
            "kernels": self._kernel_usage(),
        }
        sample["health"] = self._health.add(
            now,
            {
                "cpu_percent": cpu["percent"],
                "memory_percent": memory["percent"],
                "gpu_memory_percent": gpu.get("percent"),
                "response_ms": response,
            },
        )
        with self._lock:
            self._history.append(sample)
            if self.config.persist_every_s is not None:
                self._unsaved.append(sample)
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(sample)
            except Exception:
                log.exception("learnpulse: metrics listener failed; dropped")
                self._unsubscribe(listener)
        return sample

    def _cpu(self, limits: ContainerLimits) -> dict[str, Any]:
        """Host CPU %, or % of the container's quota when one is set (from cgroup CPU time)."""
        host_percent = psutil.cpu_percent(None)
        percent = host_percent
        now = time.monotonic()
        if limits.cpu_limit_cores and limits.cpu_usage_s is not None and self._last_cgroup:
            then, before = self._last_cgroup
            used = None
            if before.cpu_usage_s is not None and now > then:
                used = (limits.cpu_usage_s - before.cpu_usage_s) / (now - then)
            if used is not None and used >= 0:  # the counter went down: the group was remade
                percent = min(100.0, 100 * used / limits.cpu_limit_cores)
        self._last_cgroup = (now, limits)
        return {
            "percent": round(percent, 2),
            "host_percent": host_percent,
            "count": psutil.cpu_count(),
            "limit_cores": limits.cpu_limit_cores,
            "server_percent": self._server.cpu_percent(None),
        }

    def _memory(self, limits: ContainerLimits) -> dict[str, Any]:
        """Host memory, or use of the container's limit when one is set."""
        memory = psutil.virtual_memory()
        percent = memory.percent
        if limits.memory_limit_bytes and limits.memory_usage_bytes is not None:
            percent = 100 * limits.memory_usage_bytes / limits.memory_limit_bytes
        return {
            "percent": round(percent, 2),
            "total": memory.total,
            "available": memory.available,
            "used": memory.total - memory.available,
            "limit_bytes": limits.memory_limit_bytes,
            "server_rss": _rss(self._server),
        }

    def _disk(self) -> dict[str, Any]:
        """Usage of the file system of ``config.disk_path``; nulls and the reason when it
        cannot be read (the folder was removed, a network mount went away)."""
        usage = {"path": self.config.disk_path}
        try:
            disk = psutil.disk_usage(self.config.disk_path)
        except OSError as error:
            names = ("total", "used", "free", "percent")
            return {**usage, **dict.fromkeys(names), "reason": f"not readable: {error}"}
        return {
            **usage,
            "total": disk.total,
            "used": disk.used,
            "free": disk.free,
            "percent": disk.percent,
        }

    def _gpu(self) -> dict[str, Any]:
        if self._gpu_checked is None or self._gpu_checked["available"]:
            try:
                self._gpu_checked = gpu_memory()
            except Exception as error:  # a driver error: not cached, tried again next sample
                reason = f"GPU memory not readable: {error}"
                if reason != self._gpu_error:  # once while it lasts, not every sample
                    log.warning("learnpulse: %s", reason)
                    self._gpu_error = reason
                return {"available": False, "reason": reason}
            self._gpu_error = None
        return self._gpu_checked

    def _kernel_usage(self) -> dict[str, dict[str, Any]]:
        if self.kernel_pids is None:
            return {}
        try:
            pids = self.kernel_pids()
        except Exception:  # the kernel table changed under us; try again next sample
            log.debug("learnpulse: kernel list unavailable", exc_info=True)
            return {}
        usage = {kid: self._kernels.usage(pid) for kid, pid in pids.items() if pid}
        self._kernels.forget_except(set(pids.values()))
        return {kid: value for kid, value in usage.items() if value is not None}

    def _probe_response(self) -> float | None:
        """Milliseconds the last loop callback waited to run (still waiting: time so far)."""
        if self.loop is None or self.loop.is_closed():
            return None
        now = time.perf_counter()
        if self._probe_sent is not None:
            return round((now - self._probe_sent) * 1000, 3)
        self._probe_sent = now
        self.loop.call_soon_threadsafe(self._probe_answered, now)
        return self._response_ms

    def _probe_answered(self, sent: float) -> None:
        self._response_ms = round((time.perf_counter() - sent) * 1000, 3)
        self._probe_sent = None

    # -- persistence -----------------------------------------------------------------------

    def _persist(self) -> None:
        with self._lock:
            batch, self._unsaved = self._unsaved, []
        self._last_persist = time.monotonic()
        if self.store is None or self.config.persist_every_s is None or not batch:
            return
        rows = [_storage_row(sample) for sample in batch]
        try:
            self.store.append_system_samples(rows)
            cutoff = datetime.now(timezone.utc) - timedelta(days=self.config.retention_days)
            self.store.prune_system_samples(cutoff)
        except Exception:
            log.exception("learnpulse: %d system sample(s) not persisted", len(rows))


def stored_samples(
    store: Any, *, since: datetime | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Persisted samples (as :meth:`SystemSampler.sample_now` made them), oldest first."""
    frame = store.system_samples(since=since, limit=limit)
    return [json.loads(text) for text in frame["detail"]]


def _storage_row(sample: dict[str, Any]) -> dict[str, Any]:
    return {
        **sample,
        "ts": datetime.fromisoformat(sample["ts"]),
        "cpu_percent": sample["cpu"]["percent"],
        "memory_percent": sample["memory"]["percent"],
        "disk_percent": sample["disk"]["percent"],
        "gpu_memory_percent": sample["gpu"].get("percent"),
        "health": sample["health"]["score"],
    }
