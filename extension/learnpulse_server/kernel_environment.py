"""What the kernels a learnpulse server starts find in their environment: its course, its
store (or the way to it through the server), and, with class tokens, their user.

Local kernels inherit the server's environment: :class:`KernelEnvironment` (a part of
:class:`~learnpulse_server.app.LearnPulseApp`) sets the variables there at start and takes
them back when the extension stops.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class KernelEnvironment:
    """The kernel-facing part of :class:`~learnpulse_server.app.LearnPulseApp`."""

    serverapp: Any
    log: Any
    store: Any
    db_url: str
    tutor_course_file: str
    _kernel_environment: dict[str, str]

    def _start_kernels_as_their_users(self) -> None:
        """With class tokens, a kernel started by a user's request records that user (and
        posts with their token), not the server's owner whose environment it inherits: the
        whole class was one learner."""
        from learnpulse_server.identity import ClassTokenIdentityProvider
        from learnpulse_server.learner_kernels import LearnerKernels

        self._learner_kernels = None
        provider = self.serverapp.identity_provider
        if isinstance(provider, ClassTokenIdentityProvider):
            kernels = LearnerKernels(
                self.serverapp.kernel_manager, provider, self._own_url, self.log
            )
            kernels.install()
            self._learner_kernels = kernels

    def _hand_course_to_kernels(self) -> None:
        """Set ``$LEARNPULSE_COURSE_FILE`` and ``$LEARNPULSE_COURSE_ID`` for the kernels this
        server starts (local kernels inherit its environment), unless set already: the
        kernels used the demo course whatever the tutor taught. Undone when the extension
        stops."""
        from learnpulse.collectors.context import COURSE_ENV, COURSE_FILE_ENV
        from learnpulse_server.handlers.tutor import tutor_course

        path = Path(self.tutor_course_file).resolve()  # kernels start in other folders
        wanted = {COURSE_FILE_ENV: str(path), COURSE_ENV: tutor_course(self.tutor_course_file).id}
        told = os.environ.get(COURSE_FILE_ENV)
        if told and Path(told).expanduser().resolve() != path:
            self.log.warning(
                "learnpulse: kernels use $%s=%s (set before the server started), not "
                "tutor_course_file %s",
                COURSE_FILE_ENV,
                told,
                path,
            )
        self._hand_to_kernels(wanted)

    def _hand_store_to_kernels(self) -> None:
        """Set ``$LEARNPULSE_DB_URL`` for the kernels this server starts when ``db_url`` is a
        SQLite file and the variable is unset: the kernels stored the notebooks' events in
        the default store, which this server never read. A PostgreSQL URL (its password with
        it) is not put in every notebook's environment: the kernels write through this
        server instead (:meth:`_hand_server_to_kernels`), unless told a server already."""
        from learnpulse.collectors.destinations import SERVER_URL_ENV
        from learnpulse.store.engine import DB_URL_ENV, redacted, resolve_url

        if not self.db_url:  # the kernels' default is the server's
            return
        told = os.environ.get(DB_URL_ENV)
        if told:
            if resolve_url(told) != self.store.url:
                self.log.warning(
                    "learnpulse: kernels store events in $%s=%s, not in db_url %s: this "
                    "server does not see them",
                    DB_URL_ENV,
                    redacted(resolve_url(told)),
                    redacted(self.store.url),
                )
        elif self.store.backend == "sqlite":
            self._hand_to_kernels({DB_URL_ENV: self.store.url.render_as_string()})
        elif not os.environ.get(SERVER_URL_ENV):
            # the port is chosen after the extensions load: hand it once the loop runs
            self.serverapp.io_loop.add_callback(self._hand_server_to_kernels)

    def _hand_server_to_kernels(self) -> None:
        """Point the kernels this server starts at its events API: ``$LEARNPULSE_SERVER_URL``
        (its URL with base_url, over loopback) and ``$LEARNPULSE_TOKEN`` (its token: a kernel
        is its owner's process and can read the token in the server's runtime file anyway;
        on JupyterHub the kernels use ``$JUPYTERHUB_API_TOKEN``, their user's; a kernel a
        student's request starts gets their class token instead, see
        :mod:`learnpulse_server.learner_kernels`). They stored events in a local SQLite file
        this server never read."""
        from learnpulse.collectors.destinations import SERVER_URL_ENV, TOKEN_ENV
        from learnpulse.store.engine import DB_URL_ENV, redacted, resolve_url
        from learnpulse_server.identity import under_hub

        url, token = self._own_url(), self.serverapp.identity_provider.token
        needs_token = self.serverapp.identity_provider.auth_enabled and not under_hub()
        if url is None or (needs_token and not token):
            why = "it listens on a Unix socket" if url is None else "it has no token"
            self.log.warning(
                "learnpulse: kernels started by this server store events in %s, not in "
                "db_url %s (%s): set $%s or $%s in their environment",
                redacted(resolve_url(None)),
                redacted(self.store.url),
                why,
                SERVER_URL_ENV,
                DB_URL_ENV,
            )
            return
        wanted = {SERVER_URL_ENV: url}
        if needs_token:
            wanted[TOKEN_ENV] = token
        self._hand_to_kernels(wanted, secret=TOKEN_ENV)

    def _own_url(self) -> str | None:
        """This server's URL with its base_url, as a process on its machine reaches it (None
        on a Unix socket, which the kernels' HTTP client cannot use)."""
        app = self.serverapp
        if app.sock:
            return None
        host = {"": "127.0.0.1", "localhost": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}
        ip = host.get(app.ip, app.ip)
        netloc = f"[{ip}]:{app.port}" if ":" in ip else f"{ip}:{app.port}"
        return f"{'https' if app.certfile else 'http'}://{netloc}{app.base_url}"

    def _hand_to_kernels(self, wanted: dict[str, str], secret: str = "") -> None:
        """Put ``wanted`` in the environment the kernels inherit, except the variables set
        already (the value of ``secret`` is not logged); :meth:`_take_back_kernel_environment`
        removes them again."""
        handed = {name: value for name, value in wanted.items() if not os.environ.get(name)}
        self._kernel_environment.update(handed)
        os.environ.update(handed)
        for name, value in handed.items():
            shown = "(the server's token)" if name == secret else value
            self.log.info("learnpulse: kernels get %s=%s", name, shown)

    def _take_back_kernel_environment(self) -> None:
        """Remove what :meth:`_hand_to_kernels` set (unless changed since): another server
        started in this process (tests) must not inherit this one's course or store."""
        for name, value in getattr(self, "_kernel_environment", {}).items():
            if os.environ.get(name) == value:
                del os.environ[name]
        self._kernel_environment = {}
