"""Models are found through the learnpulse.models entry points, built in or third-party."""

from __future__ import annotations

import sys

import pytest

from learnpulse.models import available_models, load_model
from learnpulse.models.knowledge_tracing import BKT
from learnpulse.models.registry import ENTRY_POINT_GROUP
from tests.conftest import write_plugin


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
    source = "class Streak:\n    '''Counts streaks.'''\n"
    write_plugin(tmp_path, "my_models", source, ENTRY_POINT_GROUP, "streak = my_models:Streak")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "streak" in available_models()
    assert load_model("streak").__doc__ == "Counts streaks."
    sys.modules.pop("my_models", None)


def test_a_plugin_that_cannot_be_imported_is_named(tmp_path, monkeypatch):
    # the plugin's own ZeroDivisionError said nothing of which model it was
    write_plugin(tmp_path, "my_broken", "1 / 0\n", ENTRY_POINT_GROUP, "broken = my_broken:M")
    monkeypatch.syspath_prepend(str(tmp_path))
    message = r"model 'broken' \(my_broken:M\) could not be loaded: ZeroDivisionError"
    with pytest.raises(ImportError, match=message):
        load_model("broken")
    sys.modules.pop("my_broken", None)


@pytest.mark.parametrize("first", [True, False], ids=["plugin-first", "plugin-last"])
def test_a_plugin_cannot_take_a_built_in_name(tmp_path, monkeypatch, first):
    """The plugin's place on sys.path decided which 'bkt' won, silently."""
    import importlib

    source = "class BKT:\n    '''Not the real one.'''\n"
    write_plugin(tmp_path, "my_bkt", source, ENTRY_POINT_GROUP, "bkt = my_bkt:BKT")
    path = [str(tmp_path), *sys.path] if first else [*sys.path, str(tmp_path)]
    monkeypatch.setattr(sys, "path", path)
    importlib.invalidate_caches()
    with pytest.warns(UserWarning, match=r"model 'bkt' .*\(my_bkt:BKT\) left out: .*taken by"):
        assert load_model("bkt") is BKT
