"""Who is asking: the server's owner, and per-user tokens for a class served without a hub.

The server's owner is whoever holds its token (or password): one person, so one learner id,
:func:`owner_name`, across requests, with or without a login cookie. jupyter_server's own
identity providers cannot tell: each request with the token and no cookie (curl,
``requests``, a kernel) is a new random "Anonymous" user, which learnpulse would record as
one more learner of the course. :func:`learner_name` makes every user of those providers the
owner (they admit no one else); :class:`ClassTokenIdentityProvider` names the owner itself.

``c.ServerApp.identity_provider_class = "learnpulse_server.identity.ClassTokenIdentityProvider"``
with ``c.ClassTokenIdentityProvider.user_tokens = {"<token>": "learner-17", ...}``: a request
carrying one of these tokens (``?token=`` or ``Authorization: token ...``, or typed at the
login page, which then keeps the user in its cookie) is that user. The server's own token
still works and is the server's owner. A kernel started by a user's request records that
user (:mod:`learnpulse_server.learner_kernels`).
"""

from __future__ import annotations

import hmac
import os

from jupyter_server.auth.identity import (
    IdentityProvider,
    LegacyIdentityProvider,
    PasswordIdentityProvider,
    User,
)
from traitlets import Dict, Unicode

from learnpulse.collectors.context import learner_id

#: jupyter_server's identity providers: one credential (the token or the password), so one
#: user, the owner, whatever random name they give each request.
OWNER_ONLY_PROVIDERS = (IdentityProvider, PasswordIdentityProvider, LegacyIdentityProvider)
#: Set by JupyterHub in a single-user server: the server's owner is one of the hub's users.
HUB_TOKEN_ENV = "JUPYTERHUB_API_TOKEN"


def owner_name() -> str:
    """The learner id of the server's owner: ``$LEARNPULSE_LEARNER_ID``, else
    ``$JUPYTERHUB_USER``, else the operating-system user running the server. It is the
    learner id the owner's kernels record (they inherit the server's environment), so the
    owner's tutor history is one, whether asked in a notebook or through the server."""
    return learner_id()


def owner_user() -> User:
    """The server's owner as a jupyter_server user."""
    name = owner_name()
    return User(username=name, name=name, display_name=name)


def owns_alone(identity_provider: IdentityProvider) -> bool:
    """Whether every user ``identity_provider`` admits is the server's owner."""
    return type(identity_provider) in OWNER_ONLY_PROVIDERS


def learner_name(user: User, identity_provider: IdentityProvider) -> str:
    """The learner id of an authenticated ``user``: the owner's for jupyter_server's own
    identity providers (:data:`OWNER_ONLY_PROVIDERS`), else the user's name."""
    return owner_name() if owns_alone(identity_provider) else user.username


def is_owner(user: User, identity_provider: IdentityProvider) -> bool:
    """Whether ``user`` is the server's owner."""
    return owns_alone(identity_provider) or user.username == owner_name()


def under_hub() -> bool:
    """Whether this is a JupyterHub single-user server (its owner is one of many users)."""
    return bool(os.environ.get(HUB_TOKEN_ENV))


class ClassTokenIdentityProvider(IdentityProvider):
    """Class tokens name their users; the server's own token names its owner.

    jupyter_server's provider takes the server's token for "someone": the login cookie's
    user when there is one, else a new random user per request. Here it is always the owner
    (:func:`owner_name`), so that a script or a kernel using it is one learner id, and a
    student's cookie left in the browser does not turn the owner's requests into theirs.
    """

    user_tokens = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        config=True,
        help=(
            "Map of access token -> user name, one token per student or instructor. The "
            "server's own token is its owner ($LEARNPULSE_LEARNER_ID, else $JUPYTERHUB_USER, "
            "else the operating-system user running the server). A kernel started by a "
            "user's request records that user ($LEARNPULSE_LEARNER_ID) and posts through the "
            "server with their first token here ($LEARNPULSE_TOKEN), not with the owner's."
        ),
    )

    def user_of(self, presented: str, server_token: str | None) -> User | None:
        """The user a token names: a class token's user, the server's token's owner, or
        None."""
        if not presented:
            return None
        for token, username in self.user_tokens.items():
            if hmac.compare_digest(presented.encode(), token.encode()):
                return User(username=username, name=username, display_name=username)
        if server_token and hmac.compare_digest(presented.encode(), server_token.encode()):
            return owner_user()
        return None

    def token_of(self, username: str) -> str | None:
        """The first class token naming ``username`` (what their kernels post with), or None."""
        return next((t for t, name in self.user_tokens.items() if name == username), None)

    async def get_user_token(self, handler) -> User | None:
        return self.user_of(self.get_token(handler), getattr(handler, "token", None) or self.token)

    def process_login_form(self, handler) -> User | None:
        """The user whose token was typed at the login page (then kept in the login cookie).
        jupyter_server's version called a method its provider lacks: a 500 for any token."""
        if not self.auth_enabled:
            return self.generate_anonymous_user(handler)
        return self.user_of(handler.get_argument("password", default=""), self.token)

    def generate_anonymous_user(self, handler) -> User:
        """The owner: jupyter_server calls this for the server's token typed at the login
        page (and, with authentication off, for anyone, who then holds the server)."""
        return owner_user()
