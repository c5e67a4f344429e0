"""Training runs logged with track_training: GET training/runs and training/runs/<run_id> to
read them; PUT training/runs/<run_id> and POST training/runs/<run_id>/metrics for a kernel
(:class:`~learnpulse.collectors.server_store.ServerStore`) to write them.

A student sees only their own runs (a run of someone else is a 404, as if it did not exist);
an instructor sees every run and may filter with ``?learner=a,b``. Everyone writes only their
own runs: a run is stored as its caller, and a run of someone else is a 404 there too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from learnpulse.collectors.training import OverfittingConfig, run_detail, run_summaries
from learnpulse.collectors.training_records import (
    OtherLearnerError,
    TrainingRecordError,
    store_metrics,
    store_run,
)
from learnpulse.store.series import UnknownTrainingRun
from learnpulse_server.handlers.base import API_PREFIX, LearnPulseHandler, bad_request

#: The only field of a ``POST training/runs/<run_id>/metrics`` body.
METRICS_FIELD = "metrics"


@contextmanager
def refusals(run_id: str) -> Iterator[None]:
    """A run or points that cannot be stored as the caller's as 4xx naming why."""
    try:
        yield
    except OtherLearnerError as error:
        raise bad_request(str(error), 403) from None
    except TrainingRecordError as error:
        raise bad_request(str(error)) from None
    except UnknownTrainingRun:
        raise bad_request(f"no training run {run_id!r}", 404) from None


class _TrainingHandler(LearnPulseHandler):
    auth_resource = "learnpulse:training"

    @property
    def overfitting(self) -> OverfittingConfig:
        return OverfittingConfig(window=self.extensionapp.overfitting_window)


class TrainingRunsHandler(_TrainingHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        learners = self.visible_learners(self.query_list("learner"))
        runs = await self.off_loop(
            run_summaries, self.store, learners=learners, config=self.overfitting
        )
        self.write_json({"runs": runs})


class TrainingRunHandler(_TrainingHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        learners = self.visible_learners(None)
        detail = await self.off_loop(
            run_detail, self.store, run_id, learners=learners, config=self.overfitting
        )
        if detail is None:
            raise bad_request(f"no training run {run_id!r}", 404)
        self.write_json(detail)

    @web.authenticated
    @authorized
    async def put(self, run_id: str) -> None:
        body = self.json_object_body()
        with refusals(run_id):
            run = await self.off_loop(store_run, self.store, run_id, self.learner_id, body)
        self.write_json(run)


class TrainingMetricsHandler(_TrainingHandler):
    @web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        rows = self._rows()
        with refusals(run_id):
            counts = await self.off_loop(store_metrics, self.store, run_id, self.learner_id, rows)
        self.write_json(counts, 201)

    def _rows(self) -> list[Any]:
        """The body's list of points: 400 if malformed, 413 if longer than the limit."""
        body = self.json_object_body()
        rows = body.get(METRICS_FIELD)
        if set(body) != {METRICS_FIELD} or not isinstance(rows, list):
            raise bad_request(f'the body must be {{"{METRICS_FIELD}": [...]}}, an array of points')
        limit = self.extensionapp.max_batch_training_metrics
        if len(rows) > limit:
            raise bad_request(f"{len(rows)} points in one request; the limit is {limit}", 413)
        return rows


handlers = [
    (rf"{API_PREFIX}/training/runs", TrainingRunsHandler),
    (rf"{API_PREFIX}/training/runs/([^/]+)", TrainingRunHandler),
    (rf"{API_PREFIX}/training/runs/([^/]+)/metrics", TrainingMetricsHandler),
]
