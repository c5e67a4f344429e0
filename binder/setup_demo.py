"""Load the demo course into ``~/.learnpulse/demo.db`` and point Jupyter at it (for mybinder).

Run once at image build time by ``binder/postBuild``: simulates the demo course (the one
``learnpulse demo`` loads), fits its course models on an earlier simulated cohort, logs the
example training runs, and adds to ``~/.jupyter/jupyter_server_config.json`` that the server
uses that store and those models and keeps the instructor dashboard rendered ahead of its
visitors. (Not a file in ``jupyter_server_config.d/``: the server reads only the extensions
to enable from those.) The repository root (with ``dashboards/`` and
``notebooks/``) is the folder mybinder serves, so the instructor dashboard is at
``{base_url}voila/render/dashboards/instructor.ipynb``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from learnpulse.cli import PREHEATING_KERNEL_MANAGER
from learnpulse.datasets.simulator import SimulationConfig, simulate_course
from learnpulse.store import EventStore
from learnpulse.viz.launch import prepare_demo

#: The demo course and its size (as ``learnpulse demo``).
COURSE, LEARNERS, WEEKS = "demo-python-101", 1000, 12


def main(home: Path) -> Path:
    folder = home / ".learnpulse"
    folder.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{folder / 'demo.db'}"
    with EventStore(db_url) as store:
        if COURSE not in store.courses()["course_id"].to_list():
            config = SimulationConfig(n_learners=LEARNERS, weeks=WEEKS, seed=0, course_id=COURSE)
            store.append_course(simulate_course(config), progress=False)
        models = prepare_demo(store, COURSE, folder / "models")
    path = home / ".jupyter" / "jupyter_server_config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    settings = json.loads(path.read_text()) if path.is_file() else {}
    settings.setdefault("LearnPulseApp", {}).update(db_url=db_url, models_dir=str(models))
    # The instructor dashboard is rendered ahead of its visitors (see learnpulse demo).
    settings.setdefault("ServerApp", {})["kernel_manager_class"] = PREHEATING_KERNEL_MANAGER
    path.write_text(json.dumps(settings, indent=2))
    return path


if __name__ == "__main__":
    print(f"wrote {main(Path(os.environ.get('HOME', '~')).expanduser())}")
