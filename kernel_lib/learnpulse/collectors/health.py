"""Warning/critical thresholds and the 0-100 health of the recent system samples.

Health describes a window of recent samples (:data:`HEALTH_WINDOW_S` by default), not the
newest one alone: judged on one sample, a single quiet sample after minutes of overload read
as "100/100" and a single spike as critical. How the window is judged:

- A level (warning, critical) holds for a metric when the metric was at or above it in at
  least :data:`LEVEL_SHARE` (half) of the window's samples. Requiring every sample, like an
  alerting rule's ``for:`` clause, would let one quiet sample clear a sustained overload, the
  failure this replaces; a mean would let one extreme sample (the event loop blocked for a
  minute) outweigh the rest, and is a value the metric may never have had.
- The score is the metric's score at that same value (the highest value reached in at least
  half the samples, the upper median), so score, status and alerts agree: critical when the
  score is 50 or below.
- The window holds the samples taken in the last ``window_s`` seconds, however many there
  are: just after a start it has few, and one shorter than the sampling interval has only
  the newest sample (the old, per-sample behaviour).

The samples themselves are never smoothed: each keeps its measured values; an alert also
gives the newest sample's ``value`` beside the window's.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any

#: Score of a metric exactly at its warning threshold (100 below it).
SCORE_AT_WARNING = 100.0
#: Score of a metric exactly at its critical threshold; it falls to 0 at the metric's ceiling.
SCORE_AT_CRITICAL = 50.0
#: Ceiling of response time, as a multiple of its critical threshold (score 0 there).
RESPONSE_CEILING_FACTOR = 2.0
#: Seconds of recent samples the health describes, by default.
HEALTH_WINDOW_S = 60.0
#: Share of the window's samples in which a metric must be at or above a level for it to hold.
LEVEL_SHARE = 0.5
#: How alerts name each metric, and its unit.
METRIC_LABELS = {
    "cpu_percent": ("CPU", "%"),
    "memory_percent": ("Memory", "%"),
    "gpu_memory_percent": ("GPU memory", "%"),
    "response_ms": ("Response time", " ms"),
}

Values = Mapping[str, "float | None"]


@dataclass(frozen=True)
class Threshold:
    """Warning and critical levels of one metric (same unit as the metric)."""

    warning: float
    critical: float

    def __post_init__(self) -> None:
        if not 0 <= self.warning < self.critical:
            raise ValueError(
                f"thresholds need 0 <= warning < critical, got {self.warning}/{self.critical}"
            )


@dataclass(frozen=True)
class Thresholds:
    """Warning/critical levels: CPU, memory and GPU memory in %, response time in ms."""

    cpu_percent: Threshold = Threshold(70.0, 90.0)
    memory_percent: Threshold = Threshold(75.0, 85.0)
    gpu_memory_percent: Threshold = Threshold(60.0, 80.0)
    response_ms: Threshold = Threshold(2000.0, 5000.0)

    def to_dict(self) -> dict[str, dict[str, float]]:
        return asdict(self)


METRICS = tuple(f.name for f in fields(Thresholds))


def metric_score(value: float, threshold: Threshold, ceiling: float) -> float:
    """100 up to the warning level, 50 at the critical level, 0 at ``ceiling``, linear between."""
    if value <= threshold.warning:
        return SCORE_AT_WARNING
    if value <= threshold.critical:
        span = threshold.critical - threshold.warning
        drop = SCORE_AT_WARNING - SCORE_AT_CRITICAL
        return SCORE_AT_WARNING - drop * (value - threshold.warning) / span
    span = max(ceiling - threshold.critical, 1e-9)
    return max(0.0, SCORE_AT_CRITICAL * (1 - (value - threshold.critical) / span))


def check_window_s(window_s: float) -> float:
    """``window_s`` if it is a positive number of seconds, else a ValueError naming it."""
    if isinstance(window_s, bool) or not isinstance(window_s, (int, float)):
        raise ValueError(f"health window_s must be a number of seconds, not {window_s!r}")
    if not (math.isfinite(window_s) and window_s > 0):
        raise ValueError(f"health window_s must be > 0 seconds, not {window_s}")
    return float(window_s)


def check_metrics(values: Values) -> Values:
    """``values`` if it names only known metrics, else a ValueError naming the others."""
    unknown = set(values) - set(METRICS)
    if unknown:
        raise ValueError(f"unknown metric(s) {sorted(unknown)}; known: {list(METRICS)}")
    return values


def window_health(
    samples: Sequence[Values], thresholds: Thresholds, window_s: float = HEALTH_WINDOW_S
) -> dict[str, Any]:
    """Health of the samples of a window: the worst metric's score, a status and one alert
    per metric at or above its warning level in at least half of them (see the module).

    Parameters
    ----------
    samples : sequence of dict
        The window's samples, oldest first, each ``{metric: value}`` for metrics among
        ``cpu_percent``, ``memory_percent``, ``gpu_memory_percent``, ``response_ms``; a None
        value (not measured, e.g. no GPU) is left out.
    thresholds : Thresholds
        Warning/critical levels of each metric.
    window_s : float
        Length of the window (seconds) the samples were taken in; said in the alerts.

    Returns
    -------
    dict
        ``score`` (0-100, 100 = every metric below its warning level in at least half the
        samples), ``status`` (ok | warning | critical), ``window_s``, ``samples`` (how many
        the window held) and ``alerts``: ``metric``, ``level``, ``threshold``,
        ``window_value`` (the value reached in at least half the samples), ``value`` (the
        newest sample's), ``samples_at_level``, ``samples`` (those measuring the metric) and
        ``reason``.

    Raises
    ------
    ValueError
        A metric that is not one of the four, or a window that is not > 0 seconds.
    """
    window_s = check_window_s(window_s)
    for sample in samples:
        check_metrics(sample)
    scores, alerts = [SCORE_AT_WARNING], []
    for name in METRICS:
        values = [s[name] for s in samples if s.get(name) is not None]
        if not values:
            continue
        threshold: Threshold = getattr(thresholds, name)
        ceiling = threshold.critical * RESPONSE_CEILING_FACTOR if name == "response_ms" else 100.0
        held = sorted(values, reverse=True)[math.ceil(LEVEL_SHARE * len(values)) - 1]
        scores.append(metric_score(held, threshold, ceiling))
        level = (
            "critical" if held >= threshold.critical
            else "warning" if held >= threshold.warning
            else None
        )  # fmt: skip
        if level is not None:
            alerts.append(_alert(name, level, getattr(threshold, level), held, samples, window_s))
    status = "ok"
    if alerts:
        status = "critical" if any(a["level"] == "critical" for a in alerts) else "warning"
    return {
        "score": round(min(scores), 1),
        "status": status,
        "window_s": window_s,
        "samples": len(samples),
        "alerts": alerts,
    }


def _alert(
    name: str, level: str, limit: float, held: float, samples: Sequence[Values], window_s: float
) -> dict[str, Any]:
    values = [s[name] for s in samples if s.get(name) is not None]
    at_level = sum(value >= limit for value in values)
    latest = samples[-1].get(name)
    latest = None if latest is None else round(latest, 2)
    label, unit = METRIC_LABELS[name]
    if len(values) == 1:
        when = "in the only sample"
    elif at_level == len(values):
        when = f"in all {len(values)} samples"
    else:
        when = f"in {at_level} of the {len(values)} samples"
    now = "" if latest is None else f"; now {latest:.1f}{unit}"
    return {
        "metric": name,
        "level": level,
        "threshold": limit,
        "window_value": round(held, 2),
        "value": latest,
        "samples_at_level": at_level,
        "samples": len(values),
        "reason": (
            f"{label} at or above {limit:g}{unit} (the {level} level) {when} "
            f"of the last {window_s:g} s{now}"
        ),
    }


class HealthWindow:
    """The metric values of the samples of the last ``window_s`` seconds, and their health.

    Parameters
    ----------
    thresholds : Thresholds
        Warning/critical levels of each metric.
    window_s : float
        Seconds of samples the health describes (see the module for how they are judged).
    """

    def __init__(self, thresholds: Thresholds, window_s: float = HEALTH_WINDOW_S) -> None:
        self.thresholds, self.window_s = thresholds, check_window_s(window_s)
        self._samples: deque[tuple[datetime, dict[str, float | None]]] = deque()
        self._lock = threading.Lock()

    def add(self, ts: datetime, values: Values) -> dict[str, Any]:
        """Add the sample taken at ``ts``, forget those older than the window before it,
        and return the health of the window (:func:`window_health`)."""
        check_metrics(values)  # before it is kept: it would fail every later window
        with self._lock:
            self._samples.append((ts, dict(values)))
            start = max(t for t, _ in self._samples) - timedelta(seconds=self.window_s)
            while self._samples[0][0] <= start:
                self._samples.popleft()
            window = [v for t, v in self._samples if t > start]
        return window_health(window, self.thresholds, self.window_s)
