"""The installed distribution: entry points and the auto-enabled server extension."""

from __future__ import annotations

import re
import subprocess
import sys


def test_server_extension_is_enabled_and_ok():
    listing = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"],
        capture_output=True,
        text=True,
        check=True,
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)
    assert re.search(r"learnpulse_server\s+enabled", text), text
    assert re.search(r"learnpulse_server\s+\S*\s*OK", text), text


def test_cli_entry_point_answers():
    version = subprocess.run(
        [sys.executable, "-m", "learnpulse.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.startswith("learnpulse ")
