"""Course analytics: what the instructor dashboard and the server's analytics routes show.

Two functions over an event frame (:data:`learnpulse.events.EVENT_FRAME_SCHEMA`), both
vectorised polars (lazy, one scan of the events per call):

* :func:`course_overview` ``(events, *, range="week", at=None, at_risk=None, skills=None)``:
  one period
  (week / month / quarter / whole course) compared with the period before: KPIs with their
  change, a daily series, popular skills (named as the course names them) and items, tutor
  usage (messages per day, agents, hint levels reached).
* :func:`course_trends` ``(events, *, weeks=None, at=None)``: the same measures week by week
  and a direction (rising / falling / stable / unknown) per measure.

Measures are defined once in :mod:`learnpulse.analytics.measures`. All days are UTC dates.
Both return dicts of polars frames and plain values; :func:`to_json` makes them JSON-ready
(frames -> lists of row dicts, dates and datetimes -> ISO 8601 text), e.g.::

    from learnpulse.analytics import course_overview, to_json
    overview = course_overview(store.query(course="demo-python-101"), range="month")
    overview["kpis"]          # polars: kpi, value, previous, change, change_pct
    json.dumps(to_json(overview))

:class:`~learnpulse.analytics.live.LiveAnalytics` keeps each course's events in memory
(:mod:`~learnpulse.analytics.mirror`), follows the store's new events and caches these results
and :func:`learnpulse.models.predict_all`'s predictions, recomputed on worker threads, for a
server or a dashboard that asks again and again; :mod:`~learnpulse.analytics.predictions`
slices predictions by model and learner; :func:`~learnpulse.analytics.catalog.course_catalog`
lists the store's courses, named, for the dashboard's course selector;
:func:`~learnpulse.analytics.jsonable.dumps` writes any of these results as JSON text (frames
encoded by polars).
"""

from learnpulse.analytics.catalog import course_catalog
from learnpulse.analytics.jsonable import frame_records, to_json
from learnpulse.analytics.measures import MEASURES
from learnpulse.analytics.overview import KPI_MEASURES, TOP_TOPICS, course_overview, skill_names
from learnpulse.analytics.periods import RANGE_DAYS, RANGES
from learnpulse.analytics.trends import DIRECTION_WEEKS, STABLE_BAND, course_trends

__all__ = [
    "DIRECTION_WEEKS",
    "KPI_MEASURES",
    "MEASURES",
    "RANGES",
    "RANGE_DAYS",
    "STABLE_BAND",
    "TOP_TOPICS",
    "course_catalog",
    "course_overview",
    "course_trends",
    "frame_records",
    "skill_names",
    "to_json",
]
