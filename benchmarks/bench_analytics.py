"""Analytics benchmark: ``GET analytics/predictive`` and ``analytics/dashboard`` on a real server.

Run with ``learnpulse benchmark analytics`` (from a source checkout: the server process is
started by ``tests/extension/live_server.py``). A simulated course of ``--learners`` learners
(10,000: about 1.1 million events) is stored in SQLite, course models are fitted on another
simulated presentation and saved where the server's ``models_dir`` points, and a
``jupyter server`` process on loopback answers, one request after another:

- ``dashboard?range=week`` then ``range=quarter``: the first (cold: the server reads the course
  from the store) and ``--repeat`` more (warm: served from the cache);
- ``predictive`` (every model, the first page of learners): cold (``predict_all`` runs) and warm.

The reference, in this process in the same run, is the same work done directly: read the
course with ``EventStore.query``, ``course_overview`` / ``predict_all`` on it, and the JSON of
the same page. Target (issue 4): ``GET analytics/predictive`` p50 < 2 s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import psutil

from learnpulse.analytics import course_overview
from learnpulse.analytics.jsonable import dumps
from learnpulse.analytics.predictions import prediction_page
from learnpulse.benchmarking import at_least_one, print_report
from learnpulse.datasets.simulator import SimulationConfig, simulate_course
from learnpulse.store import EventStore

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.extension.live_server import LiveServer  # noqa: E402

TARGET_PREDICTIVE_P50_S = 2.0
#: Learners on the first page of ``GET predictive`` (the server's default page size).
PAGE_LEARNERS = 500
#: Seed of the presentation the course models are fitted on (not the benchmarked one).
TRAINING_SEED = 11


def build_store(path: Path, learners: int) -> tuple[str, str]:
    """A SQLite store holding one simulated course (reused when ``path`` already has it)."""
    url = f"sqlite:///{path}"
    with EventStore(url) as store:
        if store.counts()["events"] == 0:
            started = time.perf_counter()
            store.append_course(simulate_course(SimulationConfig(n_learners=learners)))
            print(f"stored the course in {time.perf_counter() - started:.1f} s", flush=True)
        course = store.courses()["course_id"][0]
    return url, course


def fit_models(folder: Path, course: str, learners: int) -> Path:
    """Course models fitted on another simulated presentation, saved for ``models_dir``."""
    from learnpulse.models import fit_course_models

    earlier = simulate_course(SimulationConfig(n_learners=learners, seed=TRAINING_SEED))
    fit_course_models(earlier).save(folder / course)
    return folder


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


class Client:
    """One keep-alive HTTP connection to the server's analytics routes, as the instructor."""

    def __init__(self, server: LiveServer):
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        self.headers = server.headers("teacher")

    def get(self, route: str) -> bytes:
        """The body of a 200 answer (timed up to the last byte; parsing is the client's)."""
        self.connection.request("GET", f"/learnpulse/api/analytics/{route}", headers=self.headers)
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {route} answered {response.status}: {body[:300]!r}")
        return body

    def cold_and_warm(self, route: str, repeat: int) -> dict[str, float]:
        cold, body = timed(lambda: self.get(route))
        json.loads(body)  # a complete JSON document
        warm = [timed(lambda: self.get(route))[0] for _ in range(repeat)]
        return {
            "cold_s": cold,
            "warm_p50_s": statistics.median(warm),
            "warm_max_s": max(warm),
            "body_mb": len(body) / 1e6,
        }


def reference(url: str, course: str, models_dir: Path) -> dict[str, float]:
    """The same work in this process: read the course, compute, serialise a page."""
    from learnpulse.models import FittedCourseModels, predict_all

    with EventStore(url) as store:
        read_s, events = timed(lambda: store.query(course=course))
        tables = {"skills": store.skills(course), "items": store.items(course)}
        tables["learners"] = store.learners(course)
    fitted = FittedCourseModels.load(models_dir / course)
    week_s, _ = timed(lambda: dumps(course_overview(events, range="week")))
    quarter_s, _ = timed(lambda: dumps(course_overview(events, range="quarter")))
    predict_s, predictions = timed(lambda: predict_all(events, fitted=fitted, **tables))
    page_s, _ = timed(
        lambda: dumps(prediction_page(predictions, list(predictions), limit=PAGE_LEARNERS))
    )
    return {
        "events": events.height,
        "read_course_s": read_s,
        "dashboard_week_s": week_s,
        "dashboard_quarter_s": quarter_s,
        "predict_all_s": predict_s,
        "predictive_page_json_s": page_s,
    }


def run(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="learnpulse benchmark analytics", description=__doc__)
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--train-learners", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=10, help="warm requests per route")
    parser.add_argument("--db", type=Path, help="SQLite file to use (built when empty; kept)")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args(argv)
    at_least_one(args, "learners", "train_learners", "repeat")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url, course = build_store(args.db or folder / "course.db", args.learners)
        models_dir = fit_models(folder / "models", course, args.train_learners)
        ref = reference(url, course, models_dir)
        settings = {"models_dir": str(models_dir)}
        with LiveServer(folder / "server", url, settings) as server:
            client = Client(server)
            week = client.cold_and_warm("dashboard?range=week", args.repeat)
            quarter = client.cold_and_warm("dashboard?range=quarter", args.repeat)
            predictive = client.cold_and_warm("predictive", args.repeat)
            server_mb = psutil.Process(server.process.pid).memory_info().rss / 1e6
    result = {
        "events": ref["events"],
        "learners": args.learners,
        "dashboard_week": {**week, "reference_s": ref["dashboard_week_s"]},
        "dashboard_quarter": {**quarter, "reference_s": ref["dashboard_quarter_s"]},
        "predictive": {
            **predictive,
            "reference_cold_s": ref["read_course_s"] + ref["predict_all_s"],
            "reference_warm_s": ref["predictive_page_json_s"],
            "target_p50_s": TARGET_PREDICTIVE_P50_S,
        },
        "reference": ref,
        "server_rss_mb": server_mb,
    }
    table = pl.DataFrame(
        [
            {"measure": f"{group}.{key}", "seconds": round(float(value), 4)}
            for group, values in result.items()
            if isinstance(values, dict)
            for key, value in values.items()
        ]
    )
    print_report(table, result, as_json=args.json)
    return result


if __name__ == "__main__":
    run()
