"""GET training/runs and training/runs/<run_id>: training runs logged with track_training.

A student sees only their own runs (a run of someone else is a 404, as if it did not exist);
an instructor sees every run and may filter with ``?learner=a,b``.
"""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from learnpulse.collectors.training import OverfittingConfig, run_detail, run_summaries
from learnpulse_server.handlers.base import API_PREFIX, LearnPulseHandler, bad_request


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


handlers = [
    (rf"{API_PREFIX}/training/runs", TrainingRunsHandler),
    (rf"{API_PREFIX}/training/runs/([^/]+)", TrainingRunHandler),
]
