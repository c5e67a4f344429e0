"""Fixtures of the collector tests: a store that can be made unreachable and reachable again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


class SwitchableStore:
    """A real SQLite store whose folder can be blocked (a plain file in its place) and freed."""

    def __init__(self, root: Path):
        self.folder = root / "db"
        self.url = f"sqlite:///{self.folder / 'events.db'}"

    def block(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.write_text("not a folder: the store cannot be opened")

    def unblock(self) -> None:
        if self.folder.is_file():
            self.folder.unlink()
        self.folder.mkdir(exist_ok=True)


@pytest.fixture
def switchable_store(tmp_path) -> SwitchableStore:
    return SwitchableStore(tmp_path)
