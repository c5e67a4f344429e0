"""Course settings: what an instructor can tune in the models' outputs, in one object.

:class:`CourseSettings` gathers the mastery threshold (P(known) from which a skill is
mastered, 0.95 by default), the score's weights and progress categories
(:class:`~learnpulse.models.scoring.ScoreSettings`), the thresholds of the feedback and alert
rules (:class:`~learnpulse.models.rules.RuleSettings`) and of readiness
(:class:`~learnpulse.models.standing.ReadinessSettings`).
:func:`~learnpulse.models.predict_all` takes one (``settings=``), and so does the server
(``LearnPulseApp.course_settings``), as a plain mapping of the same shape::

    {"mastery_threshold": 0.9,
     "score": {"weights": {"accuracy": 0.5, "speed": 0.1}},
     "rules": {"dropout_risk": 0.6, "inactivity_days": 10},
     "readiness": {"ready_at": 0.85}}

Names left out keep their defaults. A mapping is checked on the way in: an unknown name, a
value of the wrong type or out of range is a ``ValueError`` naming it (e.g.
``"rules.dropout_risk: expected a number, got 'high'"``), so a typo in a server's
configuration stops it at start-up instead of being ignored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from learnpulse.models.knowledge_tracing.sequences import (
    MASTERY_THRESHOLD,
    check_mastery_threshold,
)
from learnpulse.models.rules import RuleSettings
from learnpulse.models.scoring import ScoreSettings
from learnpulse.models.standing import ReadinessSettings

_SECTIONS = {"score": ScoreSettings, "rules": RuleSettings, "readiness": ReadinessSettings}


@dataclass(frozen=True)
class CourseSettings:
    """Every tunable setting of :func:`~learnpulse.models.predict_all`'s outputs.

    Parameters
    ----------
    mastery_threshold : float
        P(known) from which a skill is mastered, in (0, 1]: the mastery labels, the progress
        dimension of the score, knowledge gaps, recommendations, time to completion and the
        mastery milestones all follow it.
    score : ScoreSettings or mapping
    rules : RuleSettings or mapping
    readiness : ReadinessSettings or mapping
    """

    mastery_threshold: float = MASTERY_THRESHOLD
    score: ScoreSettings = field(default_factory=ScoreSettings)
    rules: RuleSettings = field(default_factory=RuleSettings)
    readiness: ReadinessSettings = field(default_factory=ReadinessSettings)

    def __post_init__(self) -> None:
        threshold = check_mastery_threshold(self.mastery_threshold)
        object.__setattr__(self, "mastery_threshold", threshold)
        for name, kind in _SECTIONS.items():
            object.__setattr__(self, name, _section(kind, getattr(self, name), name))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> CourseSettings:
        """Settings from a mapping like the module docstring's (None or {}: the defaults)."""
        return _build(cls, values or {}, "")


def course_settings(value: CourseSettings | Mapping[str, Any] | None) -> CourseSettings:
    """``value`` as :class:`CourseSettings` (None: the defaults; a mapping is checked)."""
    if isinstance(value, CourseSettings):
        return value
    if value is None or isinstance(value, Mapping):
        return CourseSettings.from_mapping(value)
    raise TypeError(f"settings must be CourseSettings or a dict, not {type(value).__name__}")


def _section(kind: type, value: Any, path: str) -> Any:
    if isinstance(value, kind):
        return value
    if isinstance(value, Mapping):
        return _build(kind, value, path)
    raise ValueError(f"{path}: expected a {kind.__name__} or a dict, got {value!r}")


def _build(kind: type, values: Mapping[str, Any], path: str) -> Any:
    """``kind(**values)`` with every value checked against its field's default."""
    if not isinstance(values, Mapping):
        raise ValueError(f"{path or 'settings'}: expected a dict, got {values!r}")
    defaults = {f.name: _default(f) for f in dataclasses.fields(kind)}
    unknown = sorted(set(values) - set(defaults))
    if unknown:
        where = f"{path}." if path else ""
        raise ValueError(
            f"unknown setting(s) {[where + str(k) for k in unknown]}; "
            f"{path or 'settings'} has {sorted(defaults)}"
        )
    checked = {
        name: _value(defaults[name], value, f"{path}.{name}" if path else name)
        for name, value in values.items()
    }
    try:
        return kind(**checked)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path or 'settings'}: {error}") from None


def _default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _value(default: Any, value: Any, path: str) -> Any:
    """``value`` converted to the type of ``default``, or ValueError naming ``path``."""
    if dataclasses.is_dataclass(default):
        return _section(type(default), value, path)
    if isinstance(default, bool):
        ok, expected = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, expected = isinstance(value, int) and not isinstance(value, bool), "a whole number"
    elif isinstance(default, float):
        ok, expected = _is_number(value), "a number"
        value = float(value) if ok else value
    elif isinstance(default, timedelta):
        # configuration files hold numbers: a duration is given in days
        ok, expected = _is_number(value) or isinstance(value, timedelta), "a number of days"
        if ok and not isinstance(value, timedelta):
            value = timedelta(days=value)
    elif isinstance(default, tuple):
        ok = isinstance(value, list | tuple) and all(_is_number(v) for v in value)
        expected = "a list of numbers"
        value = tuple(value) if ok else value
    else:
        ok, expected = isinstance(value, type(default)), type(default).__name__
    if not ok:
        raise ValueError(f"{path}: expected {expected}, got {value!r}")
    return value
