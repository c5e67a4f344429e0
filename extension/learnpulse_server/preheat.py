"""Dashboards rendered ahead of their visitors: a kernel manager with Voila's pre-heated pools.

The instructor dashboard takes seconds to run (imports, the course's analytics, building the
page) before Voila can send anything. Voila can run a notebook in a spare kernel *before*
anyone asks and hand that kernel and its rendered page to the next visitor, but only as the
standalone ``voila`` app. :class:`PreheatingKernelManager` brings that to ``/voila/render/``
under a Jupyter server: use it as the server's kernel manager::

    jupyter lab --ServerApp.kernel_manager_class=learnpulse_server.preheat.PreheatingKernelManager

(``learnpulse demo`` does). Voila's handler then serves :attr:`~PreheatingKernelManager.
preheat_notebooks` from the pool and starts a replacement; every other kernel is an ordinary
one. A pre-rendered dashboard shows the data of when it ran until it reaches the browser,
then redraws if events arrived meanwhile (``learnpulse.viz.theme.Page.when_shown``).

A pooled kernel runs as the server's owner with the server's token, as any dashboard kernel
does on a single-user server (see ``learnpulse.viz.connection``), so its page goes to the
owner only: on a class-token server a student's visit finds the pool empty and Voila renders
the page as that student (:mod:`learnpulse_server.learner_kernels`).
"""

from __future__ import annotations

import time
from functools import cached_property
from pathlib import Path
from typing import Any

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado.ioloop import PeriodicCallback
from traitlets import Float, List, Unicode
from traitlets.config import Configurable
from voila.configuration import VoilaConfiguration
from voila.paths import collect_template_paths
from voila.server_extension import load_config_file
from voila.voila_kernel_manager import voila_kernel_manager_factory

#: Most seconds between two looks for abandoned dashboard kernels.
REAP_EVERY_S = 30.0
#: The notebooks kept rendered unless configured otherwise (paths under the server root).
DEFAULT_NOTEBOOKS = ("dashboards/instructor.ipynb",)

_VoilaPoolManager = voila_kernel_manager_factory(
    AsyncMappingKernelManager, preheat_kernel=True, default_pool_size=1
)


class VoilaHost(Configurable):
    """The Jupyter server as Voila's kernel pools expect their parent to look.

    Voila's pools read the standalone ``VoilaApp`` they were written for (its Voila
    configuration, template paths, web app, server URL); under a Jupyter server these come
    from the server and from Voila's configuration files, as Voila's server extension builds
    them. Anything else is the server's own attribute.
    """

    notebook_path = None  # no single notebook: the pools are per notebook

    def __init__(self, serverapp: Any) -> None:
        super().__init__(parent=serverapp)
        self._serverapp = serverapp

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not delegated: keeps traitlets' internals local
            raise AttributeError(name)
        return getattr(self._serverapp, name)

    @property
    def app(self) -> Any:
        return self._serverapp.web_app

    @property
    def server_url(self) -> str:
        return self._serverapp.web_app.settings.get("server_url", "/")

    @cached_property
    def voila_configuration(self) -> VoilaConfiguration:
        configuration = VoilaConfiguration(parent=self._serverapp)
        files = load_config_file()
        if files is not None:
            configuration.update_config(files)
        return configuration

    @cached_property
    def template_paths(self) -> list[str]:
        return collect_template_paths(["voila", "nbconvert"], self.voila_configuration.template)


class PreheatingKernelManager(_VoilaPoolManager):
    """The server's kernel manager, keeping dashboards executed ahead of requests."""

    preheat_notebooks = List(
        Unicode(),
        default_value=list(DEFAULT_NOTEBOOKS),
        config=True,
        help=(
            "Notebooks (paths under the server root) to keep rendered in spare kernels: "
            "opening {base_url}voila/render/<path> takes one, already executed, and a "
            "replacement starts after `fill_delay` seconds. Pool sizes per notebook: "
            "`kernel_pools_config` (default one kernel each)."
        ),
    )
    fill_delay = Float(
        2.0,
        config=True,
        help=(
            "Seconds after handing out a pre-rendered kernel before rendering its "
            "replacement (which then competes for CPU with the page just served)."
        ),
    )

    abandoned_after_s = Float(
        120.0,
        config=True,
        help=(
            "Seconds a kernel handed out with a pre-rendered page keeps running once no "
            "browser is connected to it; 0 keeps them until shut down otherwise. (Voila stops "
            "a page's kernel when its tab closes, but under a Jupyter server that request is "
            "refused unless the browser already has an _xsrf cookie: voila-dashboards/voila#1458.)"
        ),
    )

    def __init__(self, **kwargs: Any) -> None:
        kwargs["parent"] = VoilaHost(kwargs["parent"])
        # Not Voila's __init__: it searches the whole server root for notebooks to pool and
        # needs the web app, which does not exist yet; start_preheating() fills the pools.
        AsyncMappingKernelManager.__init__(self, **kwargs)
        self.notebook_data: dict[str, dict] = {}
        self._pools: dict[str, list] = {}
        self.notebook_path = None
        self._unwatched_since: dict[str, float] = {}
        self._reaper: PeriodicCallback | None = None

    def start_preheating(self) -> list[str]:
        """Render each of :attr:`preheat_notebooks` that exists; the ones started."""
        started = []
        for path in self.preheat_notebooks:
            if not (Path(self.root_dir) / path).is_file():
                self.log.warning("learnpulse: not pre-rendering %s: no such notebook", path)
                continue
            self.fill_if_needed(delay=0, notebook_name=path)
            started.append(path)
        if started:
            self.log.info("learnpulse: pre-rendering %s", ", ".join(started))
        if started and self.abandoned_after_s > 0 and self._reaper is None:
            period_s = min(REAP_EVERY_S, self.abandoned_after_s / 2)
            self._reaper = PeriodicCallback(self.stop_abandoned, 1000 * period_s)
            self._reaper.start()
        return started

    async def shutdown_all(self, *args: Any, **kwargs: Any) -> None:
        if self._reaper is not None:
            self._reaper.stop()
            self._reaper = None
        await super().shutdown_all(*args, **kwargs)

    async def shutdown_kernel(self, kernel_id: str, *args: Any, **kwargs: Any) -> None:
        # A spare stopped by hand (JupyterLab's running-kernels panel, the REST API) is
        # replaced: Voila refills a pool only when it hands a kernel out.
        pooled_for = self._spare_notebook(kernel_id)
        await super().shutdown_kernel(kernel_id, *args, **kwargs)
        if pooled_for is not None:
            self.fill_if_needed(notebook_name=pooled_for)

    def _spare_notebook(self, kernel_id: str) -> str | None:
        """The notebook whose pool holds ``kernel_id`` as a rendered spare, if any."""
        for notebook, pool in self._pools.items():
            for task in pool:
                if _spare_id(task) == kernel_id:
                    return notebook
        return None

    def handed_out(self) -> set[str]:
        """Ids of the running kernels that rendered a page for a visitor (not the spares)."""
        spares = {_spare_id(task) for pool in self._pools.values() for task in pool}
        rendered = set().union(*(data["kernel_ids"] for data in self.notebook_data.values()))
        return {kernel_id for kernel_id in rendered - spares if kernel_id in self}

    async def stop_abandoned(self) -> list[str]:
        """Shut down the handed-out kernels no browser has been connected to for
        :attr:`abandoned_after_s` seconds; their ids."""
        now, stopped, handed_out = time.monotonic(), [], self.handed_out()
        for kernel_id in handed_out:
            if self.kernel_model(kernel_id)["connections"] > 0:
                self._unwatched_since.pop(kernel_id, None)
            elif now - self._unwatched_since.setdefault(kernel_id, now) >= self.abandoned_after_s:
                self.log.info("learnpulse: stopping dashboard kernel %s (page closed)", kernel_id)
                await self.shutdown_kernel(kernel_id)
                stopped.append(kernel_id)
        for kernel_id in set(self._unwatched_since) - (handed_out - set(stopped)):
            del self._unwatched_since[kernel_id]
        return stopped


def _spare_id(task: Any) -> str | None:
    """The kernel id of a pool entry once its kernel has started, else None."""
    if task.done() and not task.cancelled() and task.exception() is None:
        return task.result()["kernel_id"]
    return None
