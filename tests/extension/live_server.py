"""A real ``jupyter server`` process with learnpulse on loopback (load, crash, bench_ingest).

The server gets its own config, data and runtime folders, the class tokens of
``tests/extension/conftest.py`` and only the learnpulse extension, so that what is measured is
learnpulse and nothing the machine happens to have installed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

#: Seconds to wait for a starting server to answer before giving up.
START_TIMEOUT_S = 60.0
#: Class tokens of the live server: user -> token (the same users as the pytest-jupyter tests).
LIVE_TOKENS = {"ada": "token-ada", "bob": "token-bob", "teacher": "token-teacher"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _other_extensions_off() -> dict[str, bool]:
    """Every server extension enabled on this machine, switched off."""
    from jupyter_core.paths import jupyter_config_path
    from jupyter_server.extension.config import ExtensionConfigManager

    manager = ExtensionConfigManager(read_config_path=jupyter_config_path())
    return {name: False for name in manager.get_jpserver_extensions()}


class LiveServer:
    """Start, kill and restart a Jupyter server process serving learnpulse on ``db_url``.

    Parameters
    ----------
    folder : Path
        Where the config, log and Jupyter folders go.
    db_url : str
        The store (kept across restarts).
    settings : dict, optional
        Extra ``LearnPulseApp`` traits.
    """

    def __init__(self, folder: Path, db_url: str, settings: dict[str, Any] | None = None):
        self.folder, self.db_url = Path(folder), db_url
        self.settings = settings or {}
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}/learnpulse/api"

    def headers(self, user: str = "teacher") -> dict[str, str]:
        return {"Authorization": f"token {LIVE_TOKENS[user]}", "Content-Type": "application/json"}

    def _config(self) -> Path:
        config = {
            "ServerApp": {
                "ip": "127.0.0.1",
                "port": self.port,
                "port_retries": 0,
                "open_browser": False,
                "allow_root": True,
                "jpserver_extensions": {**_other_extensions_off(), "learnpulse_server": True},
                "identity_provider_class": (
                    "learnpulse_server.identity.ClassTokenIdentityProvider"
                ),
                "root_dir": str(self.folder),
            },
            "IdentityProvider": {"token": "server-owner-token"},
            "ClassTokenIdentityProvider": {
                "user_tokens": {token: user for user, token in LIVE_TOKENS.items()}
            },
            "LearnPulseApp": {"db_url": self.db_url, "instructors": ["teacher"], **self.settings},
        }
        path = self.folder / "jupyter_server_config.json"
        path.write_text(json.dumps(config))
        return path

    def start(self) -> LiveServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(self.folder / "config"),
            "JUPYTER_DATA_DIR": str(self.folder / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.folder / "runtime"),
            "JUPYTER_PLATFORM_DIRS": "1",
        }
        command = [sys.executable, "-m", "jupyter_server", f"--config={self._config()}"]
        log = (self.folder / "server.log").open("ab")
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        request = urllib.request.Request(f"{self.url}/status", headers=self.headers())
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.log()}")
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready after {START_TIMEOUT_S} s: {self.log()}")

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
