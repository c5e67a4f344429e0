"""``learnpulse dashboard NAME``: serve one dashboard as a Panel app, and demo set-up helpers.

In Jupyter the dashboards live at ``{base_url}voila/render/dashboards/instructor.ipynb`` and
``{base_url}panel-preview/render/dashboards/<name>.py``; this module serves the same
dashboards without Jupyter (``panel serve`` style), reading through a learnpulse server when
given its URL and a token, else the store in this process.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Port ``learnpulse dashboard`` serves on by default.
DEFAULT_PORT = 5006
#: The dashboards and what they show.
DASHBOARDS: dict[str, str] = {
    "instructor": "the class: activity, topics, mastery, risk, clusters, peers, alerts, tutor",
    "student": "one learner's own progress, percentile and study plan",
    "system": "CPU, memory, GPU, kernels, health and alerts, refreshed live",
    "training": "training runs: loss, validation loss, learning rate, accuracy, overfitting",
}
#: Learners of the earlier simulated cohort the demo's course models are fitted on.
DEMO_PAST_LEARNERS = 1_000


def dashboard(name: str, source: Any = None, **params: Any) -> Any:
    """A fresh dashboard ``name`` (see :data:`DASHBOARDS`) over ``source`` (default:
    :func:`~learnpulse.viz.sources.default_source`) with ``params``; when its data cannot be
    read (no server, server down, token refused...), a page saying why, not a blank page.
    """
    from learnpulse.viz import theme
    from learnpulse.viz.instructor import InstructorDashboard
    from learnpulse.viz.sources import SourceError, default_source
    from learnpulse.viz.student import StudentDashboard
    from learnpulse.viz.system import SystemMonitor
    from learnpulse.viz.training import TrainingDashboard

    builders: dict[str, Callable[..., Any]] = {
        "instructor": InstructorDashboard,
        "student": lambda source, **more: StudentDashboard(
            source, learner_id=source.user(), **more
        ),
        "system": SystemMonitor,
        "training": TrainingDashboard,
    }
    try:
        return builders[name](default_source() if source is None else source, **params)
    except SourceError as error:
        return theme.unavailable(f"learnpulse: {name}", error)


def _builder(name: str, source: Any) -> Callable[[], Any]:
    """A function making a fresh dashboard (one per browser session) over ``source``."""
    return lambda: dashboard(name, source)


def launch_dashboard(
    name: str,
    *,
    port: int = DEFAULT_PORT,
    address: str = "localhost",
    api_url: str | None = None,
    token: str | None = None,
    course: str | None = None,
    db_url: str | None = None,
    show: bool = True,
) -> None:
    """Serve dashboard ``name`` (see :data:`DASHBOARDS`) until interrupted.

    Parameters
    ----------
    api_url, token : str, optional
        A learnpulse server to read through (its URL with base_url) and the user's token;
        default ``$LEARNPULSE_API_URL`` / ``$LEARNPULSE_API_TOKEN``. Without a server the
        store is read in this process (``db_url``, default ``$LEARNPULSE_DB_URL``).
    course : str, optional
        Course shown first (default: the first one); the instructor dashboard's selector and
        its URL (``?course=<id>``) switch to another.
    show : bool
        Open a browser tab.

    Raises
    ------
    ValueError
        If ``name`` is not a dashboard (the message lists them).
    """
    if name not in DASHBOARDS:
        raise ValueError(f"no dashboard {name!r}; choose one of {', '.join(DASHBOARDS)}")
    from learnpulse.viz.connection import API_TOKEN_ENV, API_URL_ENV

    settings = {API_URL_ENV: api_url, API_TOKEN_ENV: token, "LEARNPULSE_DB_URL": db_url}
    os.environ.update({key: value for key, value in settings.items() if value})
    import panel as pn

    from learnpulse.viz import theme
    from learnpulse.viz.sources import default_source

    theme.setup()
    source = default_source(course)
    pn.serve(
        {name: _builder(name, source)},
        port=port,
        address=address,
        show=show,
        title=f"learnpulse: {name}",
        websocket_origin=[f"{address}:{port}", f"127.0.0.1:{port}", f"localhost:{port}"],
    )


def add_dashboard_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``dashboard`` command to ``learnpulse``'s sub-parsers (see :func:`cmd_dashboard`)."""
    parser = subparsers.add_parser("dashboard", help="serve one dashboard as a Panel app")
    parser.add_argument("name", choices=sorted(DASHBOARDS), help="which dashboard")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--address", default="localhost")
    parser.add_argument("--api-url", help="learnpulse server URL (default: $LEARNPULSE_API_URL)")
    parser.add_argument("--token", help="the user's token (default: $LEARNPULSE_API_TOKEN)")
    parser.add_argument("--course", help="course id shown first (default: the first one)")
    parser.add_argument("--db", metavar="URL", help="store read without a server")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    return parser


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Run ``learnpulse dashboard`` from parsed arguments; 0 when stopped."""
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a dashboard is stopped
        launch_dashboard(
            args.name,
            port=args.port,
            address=args.address,
            api_url=args.api_url,
            token=args.token,
            course=args.course,
            db_url=args.db,
            show=not args.no_browser,
        )
    return 0


def _loads(folder: Path) -> bool:
    """Whether ``folder`` holds current course models that load here (says why not, if it
    exists)."""
    from learnpulse.models.course_fit import FittedCourseModels, StaleModelsError

    if not folder.exists():
        return False
    try:
        FittedCourseModels.load(folder)
    except StaleModelsError as stale:
        print(
            f"The demo's course models in {folder} are stale (model version "
            f"{stale.saved_version or 'unrecorded'}, this learnpulse is "
            f"{stale.current_version}: features they read changed meaning): fitting them again",
            file=sys.stderr,
            flush=True,
        )
        return False
    except (OSError, ValueError) as error:
        print(f"Fitting the course models again: {error}", file=sys.stderr, flush=True)
        return False
    return True


def prepare_demo(store: Any, course_id: str, models_dir: str | Path, seed: int = 0) -> Path:
    """What the demo server needs beyond the course's events, made once:

    - course models (success, retention risk, forecast) fitted on an earlier simulated cohort
      of the same course, saved under ``models_dir/<course_id>`` (pass ``models_dir`` to the
      server as ``--LearnPulseApp.models_dir``): without them those predictions are empty;
    - real example training runs in the store, for the training dashboard.

    Returns the models folder. What is already there (models, runs) is not made again,
    unless the models do not load here (e.g. pickled by another scikit-learn release after an
    upgrade, or a save that did not finish) or are stale (fitted under another model version,
    before a feature they read changed meaning): then they are fitted again, saying why.
    """
    from learnpulse.datasets.simulator import SimulationConfig, simulate_course
    from learnpulse.models.course_fit import fit_course_models
    from learnpulse.viz.examples import log_example_runs

    folder = Path(models_dir)
    if not _loads(folder / course_id):
        past = SimulationConfig(n_learners=DEMO_PAST_LEARNERS, seed=seed + 1, course_id=course_id)
        fit_course_models(simulate_course(past)).save(folder / course_id)
    if store.training_runs().is_empty():
        log_example_runs(store)
    return folder
