"""Models are found through the learnpulse.models entry points, built in or third-party."""

from __future__ import annotations

import sys

import pytest

from learnpulse.models import available_models, load_model
from learnpulse.models.knowledge_tracing import BKT


def test_built_in_models_are_registered():
    names = set(available_models())
    assert {
        "bkt",
        "pfa",
        "dkt",
        "success",
        "learner-clusters",
        "retention-risk",
        "performance-forecast",
    } <= names
    assert load_model("bkt") is BKT


def test_unknown_model_names_the_known_ones():
    with pytest.raises(KeyError, match=r"no model registered as 'nope'.*bkt"):
        load_model("nope")


def test_a_third_party_plugin_is_found(tmp_path, monkeypatch):
    package = tmp_path / "my_models.py"
    package.write_text("class Streak:\n    '''Counts streaks.'''\n")
    dist = tmp_path / "my_models-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-models\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[learnpulse.models]\nstreak = my_models:Streak\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "streak" in available_models()
    assert load_model("streak").__doc__ == "Counts streaks."
    sys.modules.pop("my_models", None)


@pytest.mark.parametrize("first", [True, False], ids=["plugin-first", "plugin-last"])
def test_a_plugin_cannot_take_a_built_in_name(tmp_path, monkeypatch, first):
    """The plugin's place on sys.path decided which 'bkt' won, silently."""
    import importlib

    (tmp_path / "my_bkt.py").write_text("class BKT:\n    '''Not the real one.'''\n")
    dist = tmp_path / "my_bkt-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-bkt\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[learnpulse.models]\nbkt = my_bkt:BKT\n")
    path = [str(tmp_path), *sys.path] if first else [*sys.path, str(tmp_path)]
    monkeypatch.setattr(sys, "path", path)
    importlib.invalidate_caches()
    with pytest.warns(UserWarning, match=r"model 'bkt' .*\(my_bkt:BKT\) left out: .*taken by"):
        assert load_model("bkt") is BKT
