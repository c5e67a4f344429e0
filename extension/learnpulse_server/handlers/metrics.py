"""System metrics: GET metrics, metrics/history, metrics/kernels/<id>; WebSocket metrics/stream.

Metrics describe the server, not a learner, so every authenticated user may read them
(a student can see that the server is overloaded); per-kernel numbers are only given for
kernels of this server. Sampling runs on the sampler's own thread (started with the
extension); handlers only read its newest samples.
"""

from __future__ import annotations

import asyncio
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from learnpulse.collectors.health import Threshold, Thresholds
from learnpulse.collectors.system import SamplerConfig, SystemSampler, stored_samples
from learnpulse_server.handlers.base import (
    API_PREFIX,
    LearnPulseHandler,
    LearnPulseWebSocketHandler,
    bad_request,
)

#: Where the sampler lives in the server's settings.
SAMPLER_SETTING = "learnpulse_sampler"
HISTORY_SOURCES = ("memory", "store")
#: Largest ``?limit=`` of ``GET metrics/history``.
MAX_HISTORY_SAMPLES = 100_000


def kernel_pids(kernel_manager: Any) -> dict[str, int]:
    """``{kernel_id: pid}`` of the server's local kernels (remote kernels have no pid here)."""
    pids = {}
    for kernel_id in list(kernel_manager.list_kernel_ids()):
        try:
            kernel = kernel_manager.get_kernel(kernel_id)
        except KeyError:  # shut down meanwhile
            continue
        pid = getattr(getattr(kernel, "provisioner", None), "pid", None)
        pid = pid or getattr(getattr(kernel, "kernel", None), "pid", None)
        if pid:
            pids[kernel_id] = pid
    return pids


def start_sampler(app: Any) -> SystemSampler:
    """Build the sampler from the app's traits, start it and put it in the server settings."""
    thresholds = Thresholds(
        cpu_percent=Threshold(*app.cpu_thresholds),
        memory_percent=Threshold(*app.memory_thresholds),
        gpu_memory_percent=Threshold(*app.gpu_memory_thresholds),
        response_ms=Threshold(*app.response_time_thresholds_ms),
    )
    config = SamplerConfig(
        interval_s=app.metrics_interval_s,
        history=app.metrics_history,
        disk_path=app.serverapp.root_dir,
        thresholds=thresholds,
        health_window_s=app.health_window_s,
        persist_every_s=app.metrics_persist_interval_s or None,
        retention_days=app.metrics_retention_days,
    )
    sampler = SystemSampler(
        config,
        kernel_pids=lambda: kernel_pids(app.serverapp.kernel_manager),
        store=app.store,
        loop=app.serverapp.io_loop.asyncio_loop,
    )
    app.settings[SAMPLER_SETTING] = sampler
    return sampler.start()


def stop_sampler(app: Any) -> None:
    sampler = app.settings.get(SAMPLER_SETTING)
    if sampler is not None:
        sampler.stop()


class _MetricsMixin:
    settings: dict[str, Any]

    @property
    def sampler(self) -> SystemSampler:
        return self.settings[SAMPLER_SETTING]

    def with_settings(self, sample: dict[str, Any]) -> dict[str, Any]:
        config = self.sampler.config
        return {
            **sample,
            "interval_s": config.interval_s,
            "thresholds": config.thresholds.to_dict(),
        }


class MetricsHandler(_MetricsMixin, LearnPulseHandler):
    auth_resource = "learnpulse:metrics"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        sample = self.sampler.peek() or await self.off_loop(self.sampler.sample_now)
        self.write_json(self.with_settings(sample))


class MetricsHistoryHandler(_MetricsMixin, LearnPulseHandler):
    """``?limit=`` newest samples (default all kept), ``?source=memory|store`` (persisted)."""

    auth_resource = "learnpulse:metrics"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        limit = self.query_int("limit", None, minimum=1, maximum=MAX_HISTORY_SAMPLES)
        source = self.query_choice("source", HISTORY_SOURCES, "memory")
        since = self.query_datetime("since")
        if source == "memory":
            samples = self.sampler.history(limit, since=since)
        else:
            samples = await self.off_loop(stored_samples, self.store, since=since, limit=limit)
        interval = self.sampler.config.interval_s
        self.write_json({"source": source, "interval_s": interval, "samples": samples})


class KernelMetricsHandler(_MetricsMixin, LearnPulseHandler):
    auth_resource = "learnpulse:metrics"

    @web.authenticated
    @authorized
    async def get(self, kernel_id: str) -> None:
        if kernel_id not in self.serverapp.kernel_manager:
            raise bad_request(f"no kernel {kernel_id!r} on this server", 404)
        pid = kernel_pids(self.serverapp.kernel_manager).get(kernel_id)
        usage = await self.off_loop(self.sampler.kernel, kernel_id, pid)
        self.write_json(usage or {"kernel_id": kernel_id, "pid": pid, "available": False})


class MetricsStreamHandler(_MetricsMixin, LearnPulseWebSocketHandler):
    """Sends the newest sample on connect, then every new sample as it is taken (a client
    that has not taken the previous one yet skips it: no backlog grows in the server)."""

    auth_resource = "learnpulse:metrics"
    _unsubscribe = None
    _sending: asyncio.Future | None = None

    @web.authenticated
    @authorized
    async def get(self, *args: Any, **kwargs: Any) -> None:
        await super().get(*args, **kwargs)

    def open(self, *args: Any, **kwargs: Any) -> None:
        loop = self.serverapp.io_loop.asyncio_loop
        latest = self.sampler.peek()
        if latest is not None:
            self._push(latest)
        self._unsubscribe = self.sampler.subscribe(
            lambda sample: loop.call_soon_threadsafe(self._push, sample)
        )

    def _push(self, sample: dict[str, Any]) -> None:
        if self._sending is None or self._sending.done():
            self._sending = asyncio.ensure_future(self.flush_json(self.with_settings(sample)))

    def on_message(self, message: str | bytes) -> None:
        """Clients only listen."""

    def on_close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()


handlers = [
    (rf"{API_PREFIX}/metrics", MetricsHandler),
    (rf"{API_PREFIX}/metrics/history", MetricsHistoryHandler),
    (rf"{API_PREFIX}/metrics/kernels/([^/]+)", KernelMetricsHandler),
    (rf"{API_PREFIX}/metrics/stream", MetricsStreamHandler),
]
