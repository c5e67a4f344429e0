"""Warning/critical thresholds and the 0-100 health score of a system sample."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: Score of a metric exactly at its warning threshold (100 below it).
SCORE_AT_WARNING = 100.0
#: Score of a metric exactly at its critical threshold; it falls to 0 at the metric's ceiling.
SCORE_AT_CRITICAL = 50.0
#: Ceiling of response time, as a multiple of its critical threshold (score 0 there).
RESPONSE_CEILING_FACTOR = 2.0


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


def health(values: dict[str, float | None], thresholds: Thresholds) -> dict[str, Any]:
    """Health of one sample: the worst metric's score, a status and one alert per metric over.

    Parameters
    ----------
    values : dict
        ``cpu_percent``, ``memory_percent``, ``gpu_memory_percent``, ``response_ms``; a None
        value (not measured, e.g. no GPU) is left out.

    Returns
    -------
    dict
        ``score`` (0-100, 100 = every metric below its warning level), ``status``
        (ok | warning | critical) and ``alerts`` (metric, value, level, threshold, reason).
    """
    scores, alerts = [100.0], []
    for name, value in values.items():
        threshold: Threshold = getattr(thresholds, name)
        if value is None:
            continue
        ceiling = threshold.critical * RESPONSE_CEILING_FACTOR if name == "response_ms" else 100.0
        scores.append(metric_score(value, threshold, ceiling))
        level = (
            "critical"
            if value >= threshold.critical
            else "warning"
            if value >= threshold.warning
            else None
        )
        if level is not None:
            limit = getattr(threshold, level)
            alerts.append(
                {
                    "metric": name,
                    "value": round(value, 2),
                    "level": level,
                    "threshold": limit,
                    "reason": f"{name} is {value:.1f}, at or above the {level} level {limit:g}",
                }
            )
    status = "ok"
    if alerts:
        status = "critical" if any(a["level"] == "critical" for a in alerts) else "warning"
    return {"score": round(min(scores), 1), "status": status, "alerts": alerts}
