"""learnpulse Jupyter server extension: thin HTTP handlers over the kernel library."""

from importlib.metadata import version

__version__ = version("learnpulse")


def _jupyter_server_extension_points() -> list[dict]:
    # Imported here so that listing extensions does not pay for the data stack's import.
    from learnpulse_server.app import LearnPulseApp

    return [{"module": "learnpulse_server", "app": LearnPulseApp}]
