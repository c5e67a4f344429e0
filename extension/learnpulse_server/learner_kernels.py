"""A class served without a hub: each kernel records the user whose request started it.

Kernels inherit the server's environment, so every kernel of a
:class:`~learnpulse_server.identity.ClassTokenIdentityProvider` server recorded the owner's
learner id (:func:`learnpulse.collectors.context.learner_id`) and, with a PostgreSQL store,
posted through the server with the owner's token: the whole class was one learner.
:class:`LearnerKernels` puts itself in front of the server's kernel manager, where the
handlers start kernels (``POST api/kernels``, ``POST api/sessions``, Voila's pages), and
gives a kernel started by a request of a user other than the owner that user's
``$LEARNPULSE_LEARNER_ID`` and, as ``$LEARNPULSE_TOKEN``, that user's class token (never the
owner's). A dashboard run in it reads through the server with that token too
(``$LEARNPULSE_API_TOKEN``, and ``$LEARNPULSE_API_URL`` unless set): it found the server's
token in its runtime file, so a student opening the instructor's dashboard saw the whole
class. The user is the request's authenticated user (jupyter_server's
:class:`~jupyter_server.base.call_context.CallContext` holds the request's handler), never
anything the request body says.

- A kernel the owner starts (the server's token, or a class token naming the owner), or one
  started outside a request (Voila's pre-rendered dashboards), is unchanged: the owner's. So
  pre-rendered pages go to the owner only: for anyone else Voila renders on request.
- A restarted kernel keeps the user who started it, whoever asks for the restart: jupyter
  restarts a kernel with the environment it was started with. Renaming its notebook
  (``PATCH api/sessions``) no longer hands it the server's environment on its next restart.

This makes each student's notebook record that student; it does not keep students apart.
All kernels of one server run as one operating-system user: a student's code can read the
other kernels' environments, the server's runtime file (its token), its configuration (every
class token) and a SQLite store, and any user of the server may open any kernel. The events
API refuses a student's token posting another learner id, which catches mistakes, not intent;
to keep students apart, give each their own server (JupyterHub).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from jupyter_server.base.call_context import CallContext
from jupyter_server.utils import ensure_async

from learnpulse.collectors.context import LEARNER_ENV
from learnpulse.collectors.destinations import HUB_TOKEN_ENV, TOKEN_ENV
from learnpulse.viz.connection import API_TOKEN_ENV, API_URL_ENV
from learnpulse_server.identity import ClassTokenIdentityProvider, is_owner


class LearnerKernels:
    """Starts the kernels a user's request asks for as that user (see the module's doc).

    Parameters
    ----------
    kernel_manager : jupyter_server.services.kernels.kernelmanager.MappingKernelManager
        The server's kernel manager; :meth:`install` replaces its ``start_kernel`` and
        ``update_env`` on this instance only (what the handlers call), not on its class, so
        that kernels it starts for itself (Voila's pools refilled after a student's visit)
        stay the owner's.
    identity_provider : ClassTokenIdentityProvider
        The server's identity provider: who is the owner, and each user's class token.
    server_url : callable
        This server's URL with its base_url as a kernel reaches it, or None (a Unix socket).
    log : logging.Logger
        Where a user without a class token is reported.
    """

    def __init__(
        self,
        kernel_manager: Any,
        identity_provider: ClassTokenIdentityProvider,
        server_url: Callable[[], str | None],
        log: logging.Logger,
    ) -> None:
        self.kernel_manager = kernel_manager
        self.identity_provider = identity_provider
        self.server_url = server_url
        self.log = log
        self._start_kernel = kernel_manager.start_kernel
        self._update_env = getattr(kernel_manager, "update_env", None)
        self._pool_size = getattr(kernel_manager, "get_pool_size", None)
        #: kernel id -> (variables set, variables removed) of the kernels started for a user
        self._learners: dict[str, tuple[dict[str, str], frozenset[str]]] = {}

    def install(self) -> None:
        """Start the kernels the handlers ask for as the requesting user."""
        self.kernel_manager.start_kernel = self.start_kernel
        if self._update_env is not None:
            self.kernel_manager.update_env = self.update_env
        if self._pool_size is not None:
            self.kernel_manager.get_pool_size = self.get_pool_size

    def uninstall(self) -> None:
        """Give the kernel manager its own methods back."""
        for name in ("start_kernel", "update_env", "get_pool_size"):
            self.kernel_manager.__dict__.pop(name, None)

    def get_pool_size(self, notebook_name: str) -> int:
        """Voila's pre-rendered dashboards for the owner only: a pooled page was rendered as
        the owner, so a student opening the instructor dashboard got the whole class. A
        student's visit finds the pool empty, and Voila renders the page in a kernel of
        theirs (:meth:`start_kernel`)."""
        if self.requesting_learner() is not None:
            return 0
        return self._pool_size(notebook_name)

    def environment(
        self, username: str, inherited: Mapping[str, str]
    ) -> tuple[dict[str, str], frozenset[str]]:
        """The variables a kernel of ``username`` gets, and those it must not keep of
        ``inherited`` (the server's environment): the owner's tokens and hub credential."""
        chosen, removed = {LEARNER_ENV: username}, {HUB_TOKEN_ENV}
        url = inherited.get(API_URL_ENV) or self.server_url()
        if url:
            chosen[API_URL_ENV] = url
        token = self.identity_provider.token_of(username)
        if token is None:
            self.log.warning(
                "learnpulse: %s has no class token: their kernel cannot post through the "
                "server (its events wait in the spool) nor read through it",
                username,
            )
            removed |= {TOKEN_ENV, API_TOKEN_ENV}
        else:
            chosen |= {TOKEN_ENV: token, API_TOKEN_ENV: token}
        return chosen, frozenset(removed)

    def requesting_learner(self) -> str | None:
        """The user of the request being served when that is not the owner, else None."""
        handler = CallContext.get(CallContext.JUPYTER_HANDLER)
        user = getattr(handler, "current_user", None)
        if not user or is_owner(user, self.identity_provider):
            return None
        return user.username

    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:
        """The kernel manager's ``start_kernel``, with the requesting student's variables in
        the kernel's environment (``env``, else the server's). A running kernel asked for by
        its id stays whoever's it is."""
        username = self.requesting_learner()
        if username is None or kwargs.get("kernel_id") in self.kernel_manager:
            return await ensure_async(self._start_kernel(*args, **kwargs))
        inherited = kwargs.get("env") or os.environ
        chosen, removed = self.environment(username, inherited)
        env = {**inherited, **chosen}
        kwargs["env"] = {name: value for name, value in env.items() if name not in removed}
        kernel_id = await ensure_async(self._start_kernel(*args, **kwargs))
        self._learners = {k: v for k, v in self._learners.items() if k in self.kernel_manager}
        self._learners[kernel_id] = (chosen, removed)
        return kernel_id

    def update_env(self, *, kernel_id: str, env: dict[str, str]) -> None:
        """The kernel manager's ``update_env`` (a session renamed: the server's environment
        for the next restart), keeping a student's kernel theirs."""
        if kernel_id in self._learners:
            chosen, removed = self._learners[kernel_id]
            env = {name: value for name, value in env.items() if name not in removed}
            env.update(chosen)
        self._update_env(kernel_id=kernel_id, env=env)
