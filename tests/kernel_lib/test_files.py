"""Whole-or-nothing file writes."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from learnpulse.files import replacing, sha256, write_text


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "model.json"
    write_text(path, "old")
    with pytest.raises(RuntimeError, match="interrupted"), replacing(path) as temporary:
        temporary.write_text("half of the ne", encoding="utf-8")
        raise RuntimeError("interrupted")
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_a_finished_write_replaces_the_file(tmp_path):
    path = tmp_path / "model.json"
    write_text(path, "old")
    write_text(path, "new ✓")
    assert path.read_text(encoding="utf-8") == "new ✓"
    assert sha256(path) == hashlib.sha256("new ✓".encode()).hexdigest()
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_a_missing_folder_is_an_error_not_a_silent_skip(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_text(tmp_path / "absent" / "model.json", "x")


def test_a_replaced_file_gets_the_usual_permissions(tmp_path):
    """As open() would make it (0666 less the umask), not a temporary file's private 0600."""
    umask = os.umask(0o022)
    try:
        write_text(tmp_path / "export.json", "{}")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "export.json").stat().st_mode) == 0o644
