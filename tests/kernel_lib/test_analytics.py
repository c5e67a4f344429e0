"""Course analytics: known answers on hand-built events, the live cache over a real store."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import CancelledError
from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest

from learnpulse.analytics import course_overview, course_trends, to_json
from learnpulse.analytics.live import LiveAnalytics, UnknownCourseError
from learnpulse.analytics.mirror import CourseMirror
from learnpulse.analytics.predictions import alerts_of, prediction_page, select_models
from learnpulse.events import events_to_frame, validate_events
from learnpulse.models.engagement import engagement_patterns
from learnpulse.store import EventStore

UTC = timezone.utc
AT = datetime(2024, 9, 9, tzinfo=UTC)  # the week is 2024-09-02 .. 2024-09-08


def ev(when: str, learner: str, kind: str, **fields) -> dict:
    """One event at ISO time ``when`` (UTC); no skills or session unless given."""
    return {
        "id": str(uuid.uuid4()),
        "ts": f"{when}+00:00",
        "learner_id": learner,
        "course_id": "course-a",
        "kind": kind,
        **fields,
    }


def attempt(when, learner, item, skills, correct, session):
    return ev(
        when, learner, "attempt", item_id=item, skills=skills, correct=correct, session_id=session
    )


def tutor(when, learner, payload, session=None):
    return ev(when, learner, "tutor_message", payload=payload, session_id=session)


HAND_BUILT = [
    # before both periods: ignored
    attempt("2024-08-20T10:00:00", "a", "ex-1", ["loops"], False, "s0"),
    # previous week: a, one 20-minute session (reported by session_end), one correct attempt
    ev("2024-08-28T10:00:00", "a", "session_start", session_id="s1"),
    attempt("2024-08-28T10:05:00", "a", "ex-0", ["loops"], True, "s1"),
    ev("2024-08-28T10:20:00", "a", "session_end", session_id="s1", duration_ms=1_200_000),
    # this week, Monday: a's 6-minute session (no session_end: first to last event); ex-1,
    # missed in August, wrong again, then right
    ev("2024-09-02T09:00:00", "a", "session_start", session_id="s2"),
    attempt("2024-09-02T09:01:00", "a", "ex-1", ["loops", "lists"], False, "s2"),
    attempt("2024-09-02T09:02:00", "a", "ex-1", ["loops", "lists"], True, "s2"),
    ev("2024-09-02T09:03:00", "a", "hint", item_id="ex-1", hints_used=1, session_id="s2"),
    ev("2024-09-02T09:04:00", "a", "hint", item_id="ex-1", hints_used=2, session_id="s2"),
    tutor("2024-09-02T09:05:00", "a", {"role": "learner", "agent": "mentor"}, "s2"),
    tutor("2024-09-02T09:06:00", "a", {"role": "tutor", "agent": "mentor"}, "s2"),
    # b reuses the session id "s1": sessions are per learner; 10 minutes; b's second answer
    # to ex-2, solved, is practice: an attempt, not in accuracy
    attempt("2024-09-02T12:00:00", "b", "ex-2", ["lists"], True, "s1"),
    ev("2024-09-02T12:05:00", "b", "hint", item_id="ex-2", payload={"level": 1}, session_id="s1"),
    attempt("2024-09-02T12:10:00", "b", "ex-2", ["lists"], True, "s1"),
    # registrations are not activity
    ev("2024-09-04T08:00:00", "c", "registration"),
    # c asks the tutor without naming an agent, outside any session
    tutor("2024-09-05T15:00:00", "c", {"role": "learner"}),
    # at the cut-off: excluded
    attempt("2024-09-09T00:00:00", "b", "ex-2", ["lists"], False, "s9"),
]


@pytest.fixture
def events() -> pl.DataFrame:
    return validate_events_frame(HAND_BUILT)


def validate_events_frame(records: list[dict]) -> pl.DataFrame:
    return events_to_frame(validate_events(records))


def kpis(overview: dict) -> dict[str, dict]:
    return {row["kpi"]: row for row in overview["kpis"].to_dicts()}


def test_week_kpis_compare_with_the_previous_week(events):
    overview = course_overview(events, range="week", at=AT)
    assert overview["period"]["first_day"] == date(2024, 9, 2)
    assert overview["period"]["last_day"] == date(2024, 9, 8)
    assert overview["previous_period"]["first_day"] == date(2024, 8, 26)
    got = kpis(overview)
    assert (got["active_learners"]["value"], got["active_learners"]["previous"]) == (3, 1)
    assert got["active_learners"]["change_pct"] == pytest.approx(2.0)
    assert (got["sessions"]["value"], got["sessions"]["previous"]) == (2, 1)
    assert got["avg_session_minutes"]["value"] == pytest.approx(8.0)
    assert got["avg_session_minutes"]["previous"] == pytest.approx(20.0)
    assert got["avg_session_minutes"]["change"] == pytest.approx(-12.0)
    assert got["avg_session_minutes"]["change_pct"] == pytest.approx(-0.6)
    assert got["accuracy"]["value"] == pytest.approx(2 / 3)  # b's practice left out
    assert got["accuracy"]["change"] == pytest.approx(-1 / 3)
    assert "at_risk" not in got


def test_daily_series_has_every_day_of_the_period(events):
    daily = course_overview(events, range="week", at=AT)["daily"]
    assert daily["date"].to_list() == [date(2024, 9, d) for d in range(2, 9)]
    monday = daily.row(0, named=True)
    assert monday == {
        "date": date(2024, 9, 2),
        "active_learners": 2,
        "sessions": 2,
        "avg_session_minutes": pytest.approx(8.0),
        "events": 10,
        "attempts": 4,
        "accuracy": pytest.approx(2 / 3),
        "tutor_messages": 2,
        "hints": 3,
    }
    by_day = dict(zip(daily["date"], daily["active_learners"], strict=True))
    assert by_day[date(2024, 9, 4)] == 0  # only a registration
    assert by_day[date(2024, 9, 5)] == 1
    assert daily["events"].sum() == 11


def test_popular_topics_rank_skills_and_items_by_activity(events):
    overview = course_overview(events, range="week", at=AT)
    skills = overview["popular_skills"].to_dicts()
    assert [s["skill"] for s in skills] == ["lists", "loops"]
    assert skills[0] == {
        "skill": "lists",
        "name": "lists",  # no course table: the id
        "events": 4,
        "learners": 2,
        "attempts": 4,
        "accuracy": pytest.approx(2 / 3),
    }
    assert (skills[1]["events"], skills[1]["accuracy"]) == (2, 0.5)
    items = overview["popular_items"].to_dicts()
    assert [(i["item_id"], i["events"], i["learners"]) for i in items] == [
        ("ex-1", 4, 1),
        ("ex-2", 3, 1),
    ]


def test_tutor_usage_counts_agents_and_hint_levels(events):
    tutor_usage = course_overview(events, range="week", at=AT)["tutor"]
    assert tutor_usage["agents"].to_dicts() == [
        {"agent": "mentor", "messages": 2, "learner_messages": 1, "learners": 1},
        {"agent": "unspecified", "messages": 1, "learner_messages": 1, "learners": 1},
    ]
    # level 1: a's first hint and b's (level from the payload); a reached level 2 on ex-1
    assert tutor_usage["hint_levels"].to_dicts() == [
        {"level": 1, "hints": 2, "highest_for": 1},
        {"level": 2, "hints": 1, "highest_for": 1},
    ]
    assert tutor_usage["daily"]["tutor_messages"].to_list() == [2, 0, 0, 1, 0, 0, 0]
    # questions: the learners' messages only (a's question on Monday, not the mentor's reply)
    assert tutor_usage["daily"]["questions"].to_list() == [1, 0, 0, 1, 0, 0, 0]


def test_at_risk_kpi_when_given(events):
    got = kpis(course_overview(events, range="week", at=AT, at_risk=(4, 2)))
    assert (got["at_risk"]["value"], got["at_risk"]["change"]) == (4, 2)
    assert got["at_risk"]["change_pct"] == pytest.approx(1.0)


def test_course_range_spans_every_day_and_has_no_previous_period(events):
    overview = course_overview(events, range="course", at=AT)
    assert overview["period"]["first_day"] == date(2024, 8, 20)
    assert overview["period"]["days"] == 20
    assert overview["previous_period"] is None
    got = kpis(overview)
    assert got["sessions"]["value"] == 4  # s0, s1 (a), s2, s1 (b)
    assert got["sessions"]["previous"] is None


def test_default_cut_off_is_just_after_the_latest_event(events):
    overview = course_overview(events)
    assert overview["period"]["end"] == datetime(2024, 9, 9, 0, 0, 0, 1, tzinfo=UTC)
    assert overview["daily"]["date"][-1] == date(2024, 9, 9)
    assert overview["daily"]["attempts"][-1] == 1


def test_trends_weekly_values_and_directions(events):
    trends = course_trends(events, weeks=2, at=AT)
    weekly = trends["weekly"]
    assert weekly["week_start"].to_list() == [date(2024, 8, 26), date(2024, 9, 2)]
    assert weekly["week_end"].to_list() == [date(2024, 9, 1), date(2024, 9, 8)]
    assert weekly["active_learners"].to_list() == [1, 3]
    assert weekly["avg_session_minutes"].to_list() == pytest.approx([20.0, 8.0])
    directions = dict(trends["directions"].select("measure", "direction").iter_rows())
    assert directions["active_learners"] == "rising"
    assert directions["avg_session_minutes"] == "falling"
    assert directions["accuracy"] == "falling"  # 1.0 -> 0.67


def test_a_solved_exercise_answered_again_is_activity_not_accuracy():
    """Answering ex-1, solved last week, 19 times this week made this week's accuracy 95%
    (the first answer wrong); the attempts still count, accuracy has none of them."""
    rows = [attempt("2024-08-28T10:00:00", "a", "ex-1", ["loops"], True, "s1")]
    for minute in range(19):
        right = minute > 0
        rows.append(attempt(f"2024-09-02T09:{minute:02d}:00", "a", "ex-1", ["loops"], right, "s2"))
    rows.append(attempt("2024-09-03T09:00:00", "a", "ex-2", ["loops"], True, "s3"))
    overview = course_overview(validate_events_frame(rows), range="week", at=AT)
    got = kpis(overview)
    assert (got["accuracy"]["value"], got["accuracy"]["previous"]) == (1.0, 1.0)
    monday, tuesday = overview["daily"].head(2).iter_rows(named=True)
    assert (monday["attempts"], monday["accuracy"]) == (19, None)
    assert (tuesday["attempts"], tuesday["accuracy"]) == (1, 1.0)
    topic = overview["popular_skills"].row(0, named=True)
    assert (topic["attempts"], topic["accuracy"]) == (20, 1.0)
    weekly = course_trends(validate_events_frame(rows), weeks=2, at=AT)["weekly"]
    assert weekly["accuracy"].to_list() == [1.0, 1.0]


def test_trend_directions_stable_and_unknown():
    base = datetime(2024, 9, 2, 10, tzinfo=UTC)
    records = [
        ev((base + timedelta(weeks=w, minutes=m)).isoformat()[:19], "a", "hint", item_id="x")
        for w in range(4)
        for m in range(3)
    ]
    trends = course_trends(validate_events_frame(records), at=datetime(2024, 9, 30, tzinfo=UTC))
    directions = dict(trends["directions"].select("measure", "direction").iter_rows())
    assert trends["weekly"]["hints"].to_list() == [3, 3, 3, 3]
    assert directions["hints"] == "stable"
    assert directions["accuracy"] == "unknown"  # no attempts at all


def test_trends_default_to_every_week_since_the_first_event(events):
    weekly = course_trends(events, at=AT)["weekly"]
    assert weekly["week_start"][0] <= date(2024, 8, 20) <= weekly["week_end"][0]
    assert weekly["week_end"][-1] == date(2024, 9, 8)
    assert weekly["events"].sum() == 15  # every activity event before AT


def test_empty_events_give_zeros_not_errors():
    empty = validate_events_frame([])
    overview = course_overview(empty, range="month", at=AT)
    assert overview["daily"].height == 30
    assert overview["daily"]["sessions"].sum() == 0
    assert kpis(overview)["accuracy"]["value"] is None
    assert course_trends(empty, at=AT)["weekly"].height == 1


def test_json_form_is_serialisable_with_iso_times(events):
    body = to_json(course_overview(events, range="week", at=AT))
    text = json.dumps(body, allow_nan=False)
    assert body["period"]["start"] == "2024-09-02T00:00:00+00:00"
    assert body["daily"][0]["date"] == "2024-09-02"
    assert body["kpis"][0]["kpi"] == "active_learners"
    assert "NaN" not in text
    trends = to_json(course_trends(events, at=AT))
    assert trends["weekly"][-1]["week_end"] == "2024-09-08"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"range": "year"}, "range must be one of week, month, quarter, course"),
        ({"at": datetime(2024, 9, 9)}, "timezone-aware"),
    ],
)
def test_bad_arguments_are_named(events, kwargs, message):
    with pytest.raises(ValueError, match=message):
        course_overview(events, **kwargs)


def test_missing_columns_are_named(events):
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['session_id'\]"):
        course_overview(events.drop("session_id"))
    with pytest.raises(ValueError, match="weeks must be a positive"):
        course_trends(events, weeks=0)


# -- the live cache over a real store ----------------------------------------------------------


def engagement_only(events: pl.DataFrame, **tables) -> dict[str, pl.DataFrame]:
    """A real model's output as the predictions (before predict_all is wired in)."""
    return {"engagement": engagement_patterns(events)}


@pytest.fixture
def sqlite_store(tmp_path):
    with EventStore(f"sqlite:///{tmp_path / 'live.db'}") as store:
        store.append(HAND_BUILT)
        yield store


def test_mirror_follows_new_events_and_erasures(store):
    """On both backends (PostgreSQL re-reads recent sequence numbers: no duplicates)."""
    store.append(HAND_BUILT)
    mirror = CourseMirror(store, "course-a")
    assert mirror.sync() == {"a", "b", "c"}
    first = mirror.snapshot()
    assert first.events.height == len(HAND_BUILT)
    assert mirror.sync() == set()  # nothing new: same revision
    assert mirror.snapshot().revision == first.revision
    late = attempt("2024-09-03T10:00:00", "d", "ex-2", ["lists"], True, "s5")  # out of order
    store.append([late, ev("2024-09-03T10:00:00", "z", "hint", item_id="x", course_id="other")])
    assert mirror.sync() == {"d"}
    after = mirror.snapshot()
    assert after.events.height == len(HAND_BUILT) + 1
    assert after.events["ts"].is_sorted()
    assert after.revision == first.revision + 1 and after.seq > first.seq
    store.forget("b")
    assert mirror.sync() == {"b"}
    assert "b" not in mirror.snapshot().events["learner_id"].to_list()


def test_mirror_leaves_out_the_staff(store):
    """An instructor is no learner of the class: not read at first, and gone once recorded
    as staff later (as an erased learner), while their events stay in the store."""
    store.append(HAND_BUILT)
    store.add_staff(["a"])
    mirror = CourseMirror(store, "course-a")
    assert mirror.sync() == {"b", "c"}
    assert set(mirror.snapshot().learners["learner_id"]) == {"b", "c"}
    store.append([attempt("2024-09-03T10:00:00", "a", "ex-2", ["lists"], True, "s5")])
    assert mirror.sync() == set()
    store.add_staff(["b"])
    assert mirror.sync() == {"b"}
    assert set(mirror.snapshot().events["learner_id"]) == {"c"}
    assert store.query(learners=["a", "b"]).height > 0


def test_live_overview_is_cached_until_new_events(sqlite_store):
    live = LiveAnalytics(sqlite_store, predict=engagement_only, refresh_interval=60)
    try:
        first = live.overview("course-a", range="week", at=None).result(timeout=30)
        again = live.overview("course-a", range="week").result(timeout=30)
        assert again is first  # served from the cache
        sqlite_store.append([attempt("2024-09-10T10:00:00", "a", "ex-1", None, True, "s7")])
        stale = live.overview("course-a", range="week").result(timeout=30)
        assert stale is first  # within refresh_interval: the cached result
        fresh = live.overview("course-a", range="week", wait=True).result(timeout=30)
        assert fresh.seq > first.seq
        assert fresh.value["period"]["last_day"] == date(2024, 9, 10)
    finally:
        live.close()


def test_live_predictions_notify_subscribers_with_changed_learners(sqlite_store):
    live = LiveAnalytics(
        sqlite_store, predict=engagement_only, refresh_interval=0.05, prediction_interval=0
    )
    received = []
    try:
        first = live.predictions("course-a").result(timeout=30)
        assert first.changed_learners is None
        assert set(first.value["engagement"]["learner_id"]) == {"a", "b", "c"}
        unsubscribe = live.subscribe("course-a", received.append)
        sqlite_store.append([tutor("2024-09-10T10:00:00", "c", {"role": "learner"})])
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while not received and datetime.now(UTC) < deadline:
            live._closed.wait(0.05)
        unsubscribe()
        assert received, "no predictions pushed after new events"
        assert received[-1].changed_learners == frozenset({"c"})
        assert received[-1].seq > first.seq
    finally:
        live.close()


def test_live_unknown_course_is_named(sqlite_store):
    live = LiveAnalytics(sqlite_store, predict=engagement_only)
    try:
        assert live.resolve_course(None) == "course-a"
        with pytest.raises(UnknownCourseError, match=r"no course 'nope'.*course-a"):
            live.resolve_course("nope")
    finally:
        live.close()


def test_live_default_course_is_answered_when_none_is_named(sqlite_store):
    """A server's configured course, not the store's first: the dashboards open on it."""
    sqlite_store.append([{**HAND_BUILT[-1], "course_id": "course-b"}])
    live = LiveAnalytics(sqlite_store, predict=engagement_only, default_course="course-b")
    try:
        assert live.resolve_course(None) == "course-b"
        assert live.resolve_course("course-a") == "course-a"
        live.default_course = "course-z"
        with pytest.raises(UnknownCourseError, match=r"no course 'course-z'.*course-a"):
            live.resolve_course(None)
    finally:
        live.close()


def test_live_keeps_the_most_recently_used_courses(sqlite_store):
    """Every course asked for stayed in memory (its events, its results) for good."""
    sqlite_store.append(
        [{**e, "id": str(uuid.uuid4()), "course_id": c} for c in "xyz" for e in HAND_BUILT]
    )
    live = LiveAnalytics(
        sqlite_store, predict=engagement_only, default_course="course-a", max_courses=2
    )
    try:
        first = live.overview("x", range="course").result(timeout=30)
        received = []
        unsubscribe = live.subscribe("y", received.append)  # in use: kept beyond max_courses
        for course in ("course-a", "z"):
            live.predictions(course).result(timeout=30)
        assert list(live._courses) == ["y", "course-a", "z"]  # x dropped
        again = live.overview("x", range="course").result(timeout=30)
        assert again is not first and to_json(again.value) == to_json(first.value)
        assert list(live._courses) == ["y", "course-a", "x"]  # the default stays
        unsubscribe()
        live.trends("z").result(timeout=30)
        assert list(live._courses) == ["course-a", "z"]  # y is not in use anymore
        unsubscribe()  # again: does not bring y back
        assert "y" not in live._courses
    finally:
        live.close()
    with pytest.raises(ValueError, match="max_courses must be at least 1, not 0"):
        LiveAnalytics(sqlite_store, max_courses=0)


def test_live_shows_every_course_the_course_list_names(sqlite_store):
    """The dashboard's course list names the courses the store knows from their learners
    too (an import of learners before their events): picking one answered "no course"."""
    sqlite_store.upsert_learners(
        pl.DataFrame({"course_id": ["course-reg"], "learner_id": ["x"], "attributes": [None]})
    )
    assert "course-reg" in sqlite_store.known_courses()["course_id"].to_list()
    live = LiveAnalytics(sqlite_store, predict=engagement_only)
    try:
        assert live.resolve_course("course-reg", fresh=True) == "course-reg"
    finally:
        live.close()


def test_live_sees_a_first_or_new_course_when_asked_to_wait(tmp_path):
    """An empty store's course list was kept for a minute: the first events' course (and a
    new course) answered "no course" even to requests that wait for every stored event."""
    with EventStore(f"sqlite:///{tmp_path / 'empty.db'}") as store:
        live = LiveAnalytics(store, predict=engagement_only)
        try:
            # said "no course None in the store; courses: none"
            with pytest.raises(UnknownCourseError, match=r"^the store has no course yet: "):
                live.resolve_course(None)
            store.append(HAND_BUILT)
            assert live.resolve_course(None, fresh=True) == "course-a"
            store.append(
                [
                    attempt("2024-09-10T10:00:00", "z", "ex-1", None, True, "s9")
                    | {"course_id": "course-new"}
                ]
            )
            with pytest.raises(UnknownCourseError):
                live.resolve_course("course-new")  # within COURSE_RECHECK_S: not looked for
            assert live.resolve_course("course-new", fresh=True) == "course-new"
        finally:
            live.close()


def test_prediction_pages_and_alerts():
    predictions = {
        "engagement": pl.DataFrame(
            {"learner_id": ["b", "a", "c"], "model": "m", "confidence": 0.5, "reason": "r"}
        ),
        "alerts": pl.DataFrame(
            {"learner_id": ["c", "a"], "model": "m", "confidence": 0.9, "reason": "late"}
        ),
    }
    page = prediction_page(predictions, ["engagement"], offset=1, limit=1)
    expected = {"total": 3, "offset": 1, "limit": 1, "ids": ["b"], "next_offset": 2}
    assert page["learners"] == expected
    assert page["predictions"]["engagement"]["learner_id"].to_list() == ["b"]
    assert (
        prediction_page(predictions, ["alerts"], learners=["a"])["learners"]["next_offset"] is None
    )
    assert alerts_of(predictions, ["a"])["learner_id"].to_list() == ["a"]
    assert select_models(predictions, "all") == ["engagement", "alerts"]
    with pytest.raises(KeyError, match="no model 'x'; known: all, engagement, alerts"):
        select_models(predictions, "x")


def test_live_failing_subscriber_does_not_fail_the_predictions(sqlite_store, caplog):
    """A subscriber that raised (e.g. a closed stream's event loop) failed the computation:
    the request waiting for it got the subscriber's error, the subscribers after it got
    nothing."""

    def broken(result):
        raise RuntimeError("Event loop is closed")

    received = []
    live = LiveAnalytics(sqlite_store, predict=engagement_only, prediction_interval=0)
    try:
        live.subscribe("course-a", broken)
        live.subscribe("course-a", received.append)
        result = live.predictions("course-a", wait=True).result(timeout=30)
        assert set(result.value["engagement"]["learner_id"]) == {"a", "b", "c"}
        assert received == [result]
        assert "Event loop is closed" in caplog.text
    finally:
        live.close()


def test_live_close_resolves_the_work_it_drops(sqlite_store):
    """close() dropped queued work but not the futures handed out for it: whoever awaited
    them (a request of a stopping server) waited forever, and so did every later call for the
    same result once the closed workers had refused a job."""
    started, release = threading.Event(), threading.Event()

    def blocking(events, **tables):
        started.set()
        release.wait(30)
        return engagement_only(events, **tables)

    live = LiveAnalytics(sqlite_store, predict=blocking)
    running = live.predictions("course-a")
    assert started.wait(30)
    queued = live.trends("course-a")
    live.close()
    release.set()
    assert set(running.result(timeout=30).value["engagement"]["learner_id"]) == {"a", "b", "c"}
    with pytest.raises(CancelledError):
        queued.result(timeout=5)
    for _ in range(2):  # not left pending for the next caller
        with pytest.raises(RuntimeError, match="after shutdown"):
            live.overview("course-a").result(timeout=5)


def test_live_concurrent_computations_of_a_result_keep_the_newest(sqlite_store):
    """With several workers, two computations of a course's predictions ran at once: the one
    on older events, finishing last, replaced the newer result in the cache (later requests
    were served older predictions than earlier ones), and the learners whose events it had
    taken as changed were never reported changed by the newer one."""
    first_started, release_first = threading.Event(), threading.Event()
    calls = []

    def first_blocks(events, **tables):
        calls.append(events.height)
        if len(calls) == 2:
            first_started.set()
            release_first.wait(3)  # the second overtakes it, if it may
        return engagement_only(events, **tables)

    live = LiveAnalytics(sqlite_store, predict=first_blocks, prediction_interval=0, workers=2)
    received = []
    try:
        live.predictions("course-a", wait=True).result(timeout=30)
        live.subscribe("course-a", received.append)
        sqlite_store.append([tutor("2024-09-10T10:00:00", "a", {"role": "learner"})])
        older = live.predictions("course-a", wait=True)
        assert first_started.wait(30)
        sqlite_store.append([tutor("2024-09-10T11:00:00", "b", {"role": "learner"})])
        newer = live.predictions("course-a", wait=True)
        newest = newer.result(timeout=30)
        release_first.set()
        assert older.result(timeout=30).revision < newest.revision
        assert live.predictions("course-a").result(timeout=30).revision == newest.revision
        assert set().union(*(r.changed_learners for r in received)) == {"a", "b"}
    finally:
        release_first.set()
        live.close()


def with_retention_risk(events: pl.DataFrame, **tables) -> dict[str, pl.DataFrame]:
    """``engagement_only`` plus a retention risk (as a fitted model gives): every learner at
    risk, so that the overview has an ``at_risk`` KPI."""
    learners = sorted(set(events["learner_id"]))
    risk = pl.DataFrame(
        {
            "learner_id": learners,
            "model": "retention_risk",
            "confidence": 0.5,
            "reason": "no recent activity",
            "value": [0.9] * len(learners),
            "at_risk": [True] * len(learners),
        }
    )
    return {**engagement_only(events, **tables), "retention_risk": risk}


def test_live_overview_computed_alongside_the_predictions_is_not_kept(sqlite_store, monkeypatch):
    """With several workers, an overview computed while the predictions of the same events
    were computed read no predictions (no at-risk count), and was stored after the new
    predictions had dropped the cached overviews: the dashboard lacked the at-risk count
    until the next event."""
    from learnpulse.analytics import live as module

    overview_read, predictions_stored = threading.Event(), threading.Event()
    overview_of = module.course_overview

    def predict_after_the_overview_read(events, **tables):
        assert overview_read.wait(30)  # the overview has read the (absent) predictions
        return with_retention_risk(events, **tables)

    def overview_stored_after_the_predictions(events, *, at_risk, **kwargs):
        if not overview_read.is_set():
            overview_read.set()
            assert predictions_stored.wait(30)
        return overview_of(events, at_risk=at_risk, **kwargs)

    monkeypatch.setattr(module, "course_overview", overview_stored_after_the_predictions)
    live = LiveAnalytics(
        sqlite_store, predict=predict_after_the_overview_read, prediction_interval=0, workers=2
    )
    try:
        predictions = live.predictions("course-a", wait=True)
        overview = live.overview("course-a", wait=True)
        predictions.result(timeout=30)
        predictions_stored.set()
        assert "at_risk" not in kpis(overview.result(timeout=30).value)  # read before them
        for wait in (False, True):
            fresh = live.overview("course-a", wait=wait).result(timeout=30)
            assert kpis(fresh.value)["at_risk"]["value"] == 3, f"wait={wait}"
    finally:
        predictions_stored.set()
        live.close()


def test_live_overview_older_than_the_events_read_is_recomputed_at_once(sqlite_store, monkeypatch):
    """An overview older than events the service had already read (a trends request or the
    watcher had synced them) was served for up to refresh_interval more before a recompute
    started: the dashboard showed old numbers although the server held newer events."""
    from learnpulse.analytics import live as module

    computed, recomputing, release = [], threading.Event(), threading.Event()
    overview_of = module.course_overview

    def overview_held_when_recomputed(events, **kwargs):
        computed.append(events.height)
        if len(computed) > 1:
            recomputing.set()
            assert release.wait(30)
        return overview_of(events, **kwargs)

    monkeypatch.setattr(module, "course_overview", overview_held_when_recomputed)
    live = LiveAnalytics(sqlite_store, predict=engagement_only, refresh_interval=3600)
    try:
        first = live.overview("course-a").result(timeout=30)
        sqlite_store.append([attempt("2024-09-10T10:00:00", "a", "ex-1", None, True, "s7")])
        newer = live.trends("course-a", wait=True).result(timeout=30)  # reads the new event
        assert newer.seq > first.seq
        assert live.overview("course-a").result(timeout=30) is first  # at once, cached
        assert recomputing.wait(10), "no recompute started"
        assert live.overview("course-a").result(timeout=30) is first  # still, meanwhile
        release.set()
        live.trends("course-a", wait=True).result(timeout=30)  # after it: one worker, in order
        assert live.overview("course-a").result(timeout=30).seq == newer.seq
        assert computed == [computed[0], computed[0] + 1]  # recomputed once, not per request
    finally:
        release.set()
        live.close()


@pytest.mark.parametrize(("interval", "recomputed"), [(0, True), (3600, False)])
def test_live_predictions_older_than_the_events_read_follow_the_prediction_interval(
    sqlite_store, interval, recomputed
):
    """Predictions older than events already read are recomputed in the background as an
    overview is, but not within prediction_interval of the last ones."""
    calls = []

    def counted(events, **tables):
        calls.append(events.height)
        return engagement_only(events, **tables)

    live = LiveAnalytics(
        sqlite_store, predict=counted, refresh_interval=3600, prediction_interval=interval
    )
    try:
        first = live.predictions("course-a").result(timeout=30)
        sqlite_store.append([tutor("2024-09-10T10:00:00", "c", {"role": "learner"})])
        live.trends("course-a", wait=True).result(timeout=30)  # reads the new event
        assert live.predictions("course-a").result(timeout=30) is first  # at once, cached
        live.trends("course-a", wait=True).result(timeout=30)  # after any recompute started
        assert len(calls) == (2 if recomputed else 1)
    finally:
        live.close()
