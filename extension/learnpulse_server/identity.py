"""Per-user tokens for a class served without JupyterHub (and for the demo and tests).

``c.ServerApp.identity_provider_class = "learnpulse_server.identity.ClassTokenIdentityProvider"``
with ``c.ClassTokenIdentityProvider.user_tokens = {"<token>": "learner-17", ...}``: a request
carrying one of these tokens (``?token=`` or ``Authorization: token ...``) is that user. The
server's own token still works and is the server's owner.
"""

from __future__ import annotations

import hmac

from jupyter_server.auth.identity import IdentityProvider, User
from traitlets import Dict, Unicode


class ClassTokenIdentityProvider(IdentityProvider):
    user_tokens = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        config=True,
        help="Map of access token -> user name, one token per student or instructor.",
    )

    async def get_user_token(self, handler) -> User | None:
        presented = self.get_token(handler)
        if presented:
            for token, username in self.user_tokens.items():
                if hmac.compare_digest(presented.encode(), token.encode()):
                    return User(username=username, name=username, display_name=username)
        return await super().get_user_token(handler)
